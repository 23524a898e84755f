#!/bin/sh
# Stand-in of docker-library/postgres 15's docker-entrypoint.sh (bash there, busybox sh here): the part
# ApiGateway relies on, in the same order. POSTGRES_PASSWORD_FILE (file_env), POSTGRES_USER (default
# postgres), POSTGRES_DB (default the user); on an empty PGDATA: initdb with that superuser and password,
# `host all all all scram-sha-256` appended to pg_hba.conf (POSTGRES_HOST_AUTH_METHOD's default since 14),
# a socket-only temporary server that creates POSTGRES_DB, stopped fast; then exec postgres. Not mirrored:
# /docker-entrypoint-initdb.d scripts, POSTGRES_INITDB_WALDIR, nss_wrapper for uids without a passwd entry,
# and the root path (chown, then su-exec to postgres): the stand-in fails instead of running as root.
set -eu

if [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" = "postgres" ]; then
	if [ "$(id -u)" = "0" ]; then
		echo "postgres stand-in: run it as 70:70 (the official entrypoint would chown and su-exec; this one does not)" >&2
		exit 1
	fi
	if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
		if [ -n "${POSTGRES_PASSWORD:-}" ]; then
			echo "error: both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set (but are exclusive)" >&2
			exit 1
		fi
		POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
	fi
	: "${POSTGRES_USER:=postgres}"
	: "${POSTGRES_DB:=$POSTGRES_USER}"
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

	# docker_create_db_directories
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != "trust" ]; then
			echo "Error: Database is uninitialized and superuser password is not specified." >&2
			exit 1
		fi
		# docker_init_database_dir (the official one passes the password through a process substitution)
		pwfile="$(mktemp)"
		printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
		# shellcheck disable=SC2086
		initdb --username="$POSTGRES_USER" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
		rm -f "$pwfile"
		# pg_setup_hba_conf
		printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
		# docker_temp_server_start: unix socket only
		PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
		# docker_setup_db
		if [ "$POSTGRES_DB" != "postgres" ]; then
			exists="$(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres -tA --set db="$POSTGRES_DB" <<-'EOSQL'
				SELECT 1 FROM pg_database WHERE datname = :'db' ;
			EOSQL
			)"
			if [ -z "$exists" ]; then
				psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
					CREATE DATABASE :"db" ;
				EOSQL
			fi
		fi
		# docker_temp_server_stop
		PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
		echo
		echo "PostgreSQL init process complete; ready for start up."
		echo
	else
		echo
		echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
		echo
	fi
fi

exec "$@"
