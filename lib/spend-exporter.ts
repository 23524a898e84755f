/**
 * The gateway's spend exporter, rendered: LiteLLM's spend logs (one row per call, in its own Postgres) become one
 * JSON line per call on the exporter's stdout, which the audit trail carries like every other container's output.
 * Also the grants job that gives the exporter its read-only role. Pure functions of their options: ApiGateway,
 * the unit tests and the e2e suite (sh + psql against a real PostgreSQL 15) call them the same way.
 *
 * Read in BerriAI/litellm (schema.prisma and its migrations, litellm/proxy/spend_tracking/spend_tracking_utils.py;
 * not run here, LiteLLM cannot be installed):
 * - The table is `"LiteLLM_SpendLogs"`: request_id (TEXT, the key), call_type, api_key (the key's sha256 hash,
 *   never the key), spend (DOUBLE PRECISION, USD), total_tokens / prompt_tokens / completion_tokens (INTEGER),
 *   "startTime" / "endTime" (TIMESTAMP(3) without time zone: Prisma writes UTC), model (what LiteLLM called,
 *   e.g. hosted_vllm/<served name>), model_group (the model name the app asked for), metadata (JSONB with
 *   user_api_key_alias: the app), status ("success" / "failure"; newer column, older rows keep it in metadata).
 * - get_logging_payload hands Prisma `metadata` as a JSON document serialized to a string (safe_dumps); whether it
 *   lands as a JSONB object or a JSONB string was not run here, so the query reads both.
 * - LiteLLM queues spend rows and writes them in batches (every `proxy_batch_write_at` seconds: 10 in the
 *   litellm/constants.py versions read; a later release raised the default, PR 17355, so keep the lag above it):
 *   a call's row can appear some seconds after its end. The exporter only reads rows that ended at least
 *   `settleSeconds` ago, so a cursor past a row's end time never skips a row still in LiteLLM's queue.
 */

/** The read-only role the exporter logs in as: SELECT on the spend log table, nothing else. */
export const SPEND_READER_ROLE = "zta_spend_reader";
/** LiteLLM's spend log table (Prisma model LiteLLM_SpendLogs). */
export const SPEND_LOGS_TABLE = '"LiteLLM_SpendLogs"';
/** The `event` of every exported line. */
export const SPEND_EVENT = "gateway.call";
/** Rows read per query: a backlog (first start, a long outage) drains in bounded steps. */
export const SPEND_BATCH_ROWS = 500;

export interface SpendExporterOptions {
  /** Postgres host and port (the database's name on the exporter's own network). */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** Seconds between polls when no backlog is left. */
  readonly intervalSeconds: number;
  /** Only rows whose call ended at least this many seconds ago (LiteLLM writes its spend rows in batches). */
  readonly settleSeconds: number;
  /** Directory with export.sql and the reader's password file (the config volume). */
  readonly configDir: string;
  /** Directory on a volume: the cursor survives restarts, so no call is exported twice. */
  readonly stateDir: string;
  /** Writable scratch (tmpfs): the private password file and the heartbeat. */
  readonly runDir: string;
}

/** The file the exporter touches after every successful poll; its healthcheck reads it. */
export function spendHeartbeatFile(runDir: string): string {
  return `${runDir}/zta-spend-exported-at`;
}

/**
 * The query of one poll: rows after the cursor `(endTime, request_id)`, settled, in cursor order, each as the
 * cursor's two parts and the JSON line. psql fills :'after_time', :'after_id' (hex), :settle and :batch.
 */
export function renderSpendQuery(): string {
  return `-- Rendered by cdktf-zero-trust-ai (ApiGateway): one poll of LiteLLM's spend logs.
SELECT to_char(s."endTime", 'YYYY-MM-DD"T"HH24:MI:SS.US'),
       encode(convert_to(s.request_id, 'UTF8'), 'hex'),
       json_build_object(
         'event', '${SPEND_EVENT}',
         'time', to_char(s."endTime", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'request_id', s.request_id,
         'app', m.meta ->> 'user_api_key_alias',
         'model', COALESCE(NULLIF(s.model_group, ''), s.model),
         'prompt_tokens', s.prompt_tokens,
         'completion_tokens', s.completion_tokens,
         'total_tokens', s.total_tokens,
         'spend_usd', s.spend,
         'status', COALESCE(s.status, m.meta ->> 'status', 'success'))
FROM ${SPEND_LOGS_TABLE} s
CROSS JOIN LATERAL (
  SELECT CASE jsonb_typeof(s.metadata)
           WHEN 'object' THEN s.metadata
           WHEN 'string' THEN (s.metadata #>> '{}')::jsonb
           ELSE '{}'::jsonb
         END AS meta
) m
WHERE (s."endTime", s.request_id) > (:'after_time'::timestamp, convert_from(decode(:'after_id', 'hex'), 'UTF8'))
  AND s."endTime" <= (now() AT TIME ZONE 'UTC') - make_interval(secs => :settle)
ORDER BY s."endTime", s.request_id
LIMIT :batch;
`;
}

interface PsqlPreambleOptions {
  /** Shell variables and their rendered values, each overridable by the environment variable beside it (the tests). */
  readonly settings: ReadonlyArray<readonly [name: string, value: string | number, override: string]>;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly appName: string;
  /** The password's file under $CONFIG. */
  readonly passwordFile: string;
}

/**
 * The start both psql scripts share: where things are, libpq's connection (PGHOST/PGPORT may override it),
 * and a private password file. Plain `$NAME` only: Terraform would take a dollar-brace for an interpolation.
 */
function renderPsqlPreamble(o: PsqlPreambleOptions): string {
  return [
    "# No dollar-brace expansions here: Terraform would take them for interpolations in the uploaded file. The ZTA_* and PG* overrides are for tests.",
    `${o.settings.map(([name, value]) => `${name}=${value}`).join(" ")} HOST=${o.host} PORT=${o.port}`,
    ...o.settings.map(([name, , env]) => `[ -z "$${env}" ] || ${name}="$${env}"`),
    '[ -z "$PGHOST" ] || HOST="$PGHOST"',
    '[ -z "$PGPORT" ] || PORT="$PGPORT"',
    `export PGHOST="$HOST" PGPORT="$PORT" PGDATABASE="${o.database}" PGUSER="${o.user}"`,
    `export PGCONNECT_TIMEOUT=10 PGAPPNAME=${o.appName}`,
    "umask 077",
    "# psql ignores a password file others may read: a private copy on the tmpfs (the volume's file is root's, 0444).",
    'export PGPASSFILE="$RUN/pgpass"',
    `printf '*:*:*:%s:%s\\n' "$PGUSER" "$(cat "$CONFIG/${o.passwordFile}")" > "$PGPASSFILE"`,
  ].join("\n");
}

/**
 * The exporter (busybox sh + psql, both in the postgres image). Every poll prints the new calls to stdout, then
 * moves the cursor (written to a temporary file and renamed, so a crash leaves the old or the new one, never half):
 * a crash between the two repeats at most one batch (at-least-once; request_id tells repeats apart), a restart
 * repeats nothing. A failed poll (database down, role not granted yet) goes to stderr and is retried; the
 * heartbeat only moves on success, so the healthcheck reports an exporter that cannot read.
 */
export function renderSpendExporterScript(o: SpendExporterOptions): string {
  return `#!/bin/sh
# Rendered by cdktf-zero-trust-ai (ApiGateway): LiteLLM's spend logs -> one JSON line per call on stdout.
${renderPsqlPreamble({
  settings: [
    ["CONFIG", o.configDir, "ZTA_CONFIG_DIR"],
    ["STATE", o.stateDir, "ZTA_STATE_DIR"],
    ["RUN", o.runDir, "ZTA_RUN_DIR"],
  ],
  host: o.host,
  port: o.port,
  database: o.database,
  user: SPEND_READER_ROLE,
  appName: "zta-spend-exporter",
  passwordFile: "spend-reader-password",
})}
INTERVAL=${o.intervalSeconds}
SETTLE=${o.settleSeconds}
BATCH=${SPEND_BATCH_ROWS}
CURSOR="$STATE/cursor"
# PID 1 ignores signals it does not trap: stop at once (the cursor is only ever replaced whole).
sleeper=
trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
echo "spend exporter: polls every $INTERVAL seconds for calls that ended $SETTLE seconds ago or more, from $PGHOST:$PGPORT as $PGUSER" >&2

while :; do
  after_time=1970-01-01T00:00:00.000000
  after_id=
  if [ -s "$CURSOR" ]; then
    { read -r after_time; read -r after_id; } < "$CURSOR"
  fi
  if psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 -v after_time="$after_time" -v after_id="$after_id" \\
      -v settle="$SETTLE" -v batch="$BATCH" -f "$CONFIG/export.sql" > "$RUN/batch" 2> "$RUN/error"; then
    rows=0
    while IFS='|' read -r end_time id line; do
      [ -n "$id" ] || continue
      printf '%s\\n' "$line"
      after_time="$end_time"
      after_id="$id"
      rows=$((rows + 1))
    done < "$RUN/batch"
    if [ "$rows" -gt 0 ]; then
      printf '%s\\n%s\\n' "$after_time" "$after_id" > "$CURSOR.next" && mv "$CURSOR.next" "$CURSOR" || {
        echo "spend exporter: cannot write the cursor in $STATE" >&2
        exit 1
      }
    fi
    date -u +%s > "$RUN/zta-spend-exported-at"
    # A full batch: more are waiting, read on at once.
    [ "$rows" -ge "$BATCH" ] && continue
  else
    echo "spend exporter: poll failed: $(cat "$RUN/error")" >&2
  fi
  # In the background: a trapped signal interrupts wait, not sleep.
  sleep "$INTERVAL" &
  sleeper=$!
  wait "$sleeper"
  sleeper=
done
`;
}

/** The exporter's healthcheck: a successful poll within two intervals (and psql's connect timeout). */
export function spendExporterHealthcheck(o: { runDir: string; intervalSeconds: number }): string[] {
  return [
    "sh",
    "-c",
    `test $(( $(date -u +%s) - $(cat ${spendHeartbeatFile(o.runDir)}) )) -lt ${o.intervalSeconds * 2 + 30}`,
  ];
}

export interface SpendGrantsOptions {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** The database owner the job logs in as (LiteLLM's role). */
  readonly ownerUser: string;
  readonly configDir: string;
  readonly runDir: string;
  /** Seconds to wait for LiteLLM's migrations to create the table before failing (the container's restarts retry). */
  readonly waitSeconds: number;
  /**
   * The LiteLLM image: named in grants.sql, so a new image replaces the job and runs it again (a LiteLLM
   * migration may recreate the table, and a new table has no grant).
   */
  readonly litellmImage: string;
}

/** grants.sql: the reader role, created once, its password and privileges set on every run (idempotent). */
export function renderSpendGrantsSql(o: { database: string; litellmImage: string }): string {
  return `-- Rendered by cdktf-zero-trust-ai (ApiGateway): the spend exporter's read-only role.
-- For LiteLLM ${o.litellmImage}
\\set reader ${SPEND_READER_ROLE}
\\set database ${o.database}
SELECT format('CREATE ROLE %I', :'reader') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \\gexec
ALTER ROLE :"reader" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 4 PASSWORD :'reader_password';
-- Even a privilege granted by mistake later cannot write through this role.
ALTER ROLE :"reader" SET default_transaction_read_only = on;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"reader";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"reader";
GRANT CONNECT ON DATABASE :"database" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON TABLE public.${SPEND_LOGS_TABLE} TO :"reader";
`;
}

/**
 * The grants job (sh + psql, the postgres image), run in LiteLLM's namespace with the owner's password file:
 * waits (bounded) for LiteLLM's migrations to create the spend log table, then runs grants.sql. The reader's
 * password reaches psql on stdin, never in argv or the environment.
 */
export function renderSpendGrantsScript(o: SpendGrantsOptions): string {
  return `#!/bin/sh
# Rendered by cdktf-zero-trust-ai (ApiGateway): grants the spend exporter's read-only role.
set -e
${renderPsqlPreamble({
  settings: [
    ["CONFIG", o.configDir, "ZTA_CONFIG_DIR"],
    ["RUN", o.runDir, "ZTA_RUN_DIR"],
    ["WAIT", o.waitSeconds, "ZTA_WAIT_SECONDS"],
  ],
  host: o.host,
  port: o.port,
  database: o.database,
  user: o.ownerUser,
  appName: "zta-spend-grants",
  passwordFile: "db-password",
})}
waited=0
# LiteLLM creates the table with its migrations at start.
until [ "$(psql -X -q -A -t -c "SELECT to_regclass('public.${SPEND_LOGS_TABLE.replace(/"/g, '\\"')}') IS NOT NULL" 2>/dev/null)" = t ]; do
  if [ "$waited" -ge "$WAIT" ]; then
    echo "spend grants: no table ${SPEND_LOGS_TABLE.replace(/"/g, '\\"')} in $PGDATABASE after $WAIT seconds" >&2
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done
{ printf "\\\\set reader_password '%s'\\n" "$(cat "$CONFIG/spend-reader-password")"; cat "$CONFIG/grants.sql"; } | psql -X -q -v ON_ERROR_STOP=1 -f -
echo "spend grants: ${SPEND_READER_ROLE} may read ${SPEND_LOGS_TABLE.replace(/"/g, '\\"')} only"
`;
}
