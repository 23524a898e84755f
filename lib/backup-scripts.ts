/**
 * The EncryptedBackup job's own scripts, rendered from typed options (pure: no resources).
 * POSIX sh with `set -eu` (busybox ash in the job image, dash on Debian in the tests).
 *
 * Layout the scripts expect (paths are options so tests run them on temp dirs):
 *   <root>/sources/<volume>/...   source volumes, mounted read-only
 *   <root>/dumps/                 consistent dumps + manifest.sha256 + rowcounts.tsv (written per run)
 *   <state>/                      audit.jsonl, backup.prom (Prometheus textfile), last-* stamps
 *   <scratch>/                    the restore drill's scratch space (emptied before and after)
 * restic reads RESTIC_REPOSITORY_FILE, RESTIC_PASSWORD_FILE and RESTIC_CACHE_DIR from common.sh.
 */

export interface BackupVolumeSource {
  /** Directory name under <root>/sources. */
  readonly name: string;
  /** Paths relative to the volume left out (literal, no globs). */
  readonly exclude: string[];
}

export interface BackupSqliteSource {
  /** The volume holding the database. */
  readonly volume: string;
  /** The database file, relative to the volume (e.g. "webui.db"). */
  readonly path: string;
}

export interface BackupPostgresSource {
  /** Name of the dump (file <name>.sql) and of its password file `<config>/pg-<name>.password`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

export interface BackupKeepPolicy {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export interface BackupScriptOptions {
  /** restic --host of every snapshot, and the `backup` label of the metrics. */
  readonly name: string;
  readonly rootDir: string;
  readonly stateDir: string;
  readonly scratchDir: string;
  readonly configDir: string;
  readonly cacheDir: string;
  /** A private writable dir for the pgpass copy (libpq ignores a password file others can read). */
  readonly tmpDir: string;
  readonly volumes: BackupVolumeSource[];
  readonly sqlite: BackupSqliteSource[];
  readonly postgres: BackupPostgresSource[];
  readonly keep: BackupKeepPolicy;
  /** Append-only repository (rest-server --append-only): the job never runs forget/prune. */
  readonly appendOnly: boolean;
  /** restic check --read-data-subset, e.g. "5%". */
  readonly checkSubset: string;
}

export interface RenderedScript {
  readonly name: string;
  readonly content: string;
}

/** Single-quotes a value for sh. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The live SQLite files a file-level copy must not take (the online-backup dump replaces them). */
export function liveSqliteFiles(path: string): string[] {
  return [path, `${path}-journal`, `${path}-wal`, `${path}-shm`];
}

/** sources/<volume>/<path> for every excluded path, relative to the root. */
function excludedPaths(o: BackupScriptOptions): string[] {
  const paths: string[] = [];
  for (const v of o.volumes) for (const e of v.exclude) paths.push(`sources/${v.name}/${e}`);
  for (const s of o.sqlite) for (const f of liveSqliteFiles(s.path)) paths.push(`sources/${s.volume}/${f}`);
  return paths;
}

function sqliteDumpName(s: BackupSqliteSource): string {
  return `sqlite-${s.volume}-${s.path.replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

function common(o: BackupScriptOptions): string {
  const prune = excludedPaths(o);
  const findExpr =
    prune.length === 0 ? "" : `\\( ${prune.map((p) => `-path ${shQuote(p)}`).join(" -o ")} \\) -prune -o `;
  return `# Sourced by backup.sh and drill.sh. Rendered by lib/backup-scripts.ts: edit the renderer, not this file.
ZTA_NAME=${shQuote(o.name)}
ZTA_ROOT=${shQuote(o.rootDir)}
ZTA_STATE=${shQuote(o.stateDir)}
ZTA_SCRATCH=${shQuote(o.scratchDir)}
ZTA_CONFIG=${shQuote(o.configDir)}
ZTA_TMP=${shQuote(o.tmpDir)}
ZTA_TAG=zta-backup
RESTIC_REPOSITORY_FILE="$ZTA_CONFIG/repository"
RESTIC_PASSWORD_FILE="$ZTA_CONFIG/restic-password"
RESTIC_CACHE_DIR=${shQuote(o.cacheDir)}
export RESTIC_REPOSITORY_FILE RESTIC_PASSWORD_FILE RESTIC_CACHE_DIR
[ ! -f "$ZTA_CONFIG/aws-credentials" ] || export AWS_SHARED_CREDENTIALS_FILE="$ZTA_CONFIG/aws-credentials"
umask 077

log() { printf '%s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# JSON string escaping for the audit line (backslash and double quote; messages carry no control chars).
json_str() { printf '"%s"' "$(printf '%s' "$1" | tr '\\n\\t' '  ' | sed 's/\\\\/\\\\\\\\/g; s/"/\\\\"/g')"; }

# The manifest: sha256 of every file that goes into the snapshot, paths relative to the root.
write_manifest() {
  (cd "$ZTA_ROOT" && find sources dumps ${findExpr}-type f ! -path dumps/manifest.sha256 -print0 | xargs -0 -r sha256sum) \\
    > "$ZTA_TMP/manifest.sha256"
  mv "$ZTA_TMP/manifest.sha256" "$ZTA_ROOT/dumps/manifest.sha256"
}

# Table row counts of a SQLite database, as "<table>\\t<count>" lines.
sqlite_counts() {
  sqlite3 -readonly "$1" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name;" |
    while IFS= read -r table; do
      quoted=$(printf '%s' "$table" | sed 's/"/""/g')
      printf '%s\\t%s\\n' "$table" "$(sqlite3 -readonly "$1" "SELECT count(*) FROM \\"$quoted\\";")"
    done
}

# Row counts of a plain-format pg_dump, read from its COPY blocks: exactly the rows the dump holds.
pg_dump_counts() {
  awk '/^COPY / { table = $2; rows = 0; copying = 1; next }
       copying && /^\\\\\\.$/ { printf "%s\\t%d\\n", table, rows; copying = 0; next }
       copying { rows++ }' "$1" | LC_ALL=C sort
}

# A private pgpass for one Postgres source (libpq ignores a password file group/others can read).
pgpass_for() {
  mkdir -p "$ZTA_TMP"
  pass=$(sed 's/\\\\/\\\\\\\\/g; s/:/\\\\:/g' "$ZTA_CONFIG/pg-$1.password")
  printf '*:*:*:*:%s\\n' "$pass" > "$ZTA_TMP/pgpass-$1"
  chmod 600 "$ZTA_TMP/pgpass-$1"
  printf '%s' "$ZTA_TMP/pgpass-$1"
}

# Prometheus textfile from the last-* stamps (0 = never), written atomically.
write_metrics() {
  out="$ZTA_STATE/backup.prom"
  {
    echo '# HELP zta_backup_last_success_timestamp_seconds Unix time of the last successful run (0: never).'
    echo '# TYPE zta_backup_last_success_timestamp_seconds gauge'
    for k in backup drill; do
      echo "zta_backup_last_success_timestamp_seconds{backup=\\"$ZTA_NAME\\",kind=\\"$k\\"} $(cat "$ZTA_STATE/last-$k-success" 2>/dev/null || echo 0)"
    done
    echo '# HELP zta_backup_last_attempt_timestamp_seconds Unix time of the last run, successful or not (0: never).'
    echo '# TYPE zta_backup_last_attempt_timestamp_seconds gauge'
    for k in backup drill; do
      echo "zta_backup_last_attempt_timestamp_seconds{backup=\\"$ZTA_NAME\\",kind=\\"$k\\"} $(cat "$ZTA_STATE/last-$k-attempt" 2>/dev/null || echo 0)"
    done
    echo '# HELP zta_backup_last_run_success 1 when the last run succeeded, else 0.'
    echo '# TYPE zta_backup_last_run_success gauge'
    for k in backup drill; do
      echo "zta_backup_last_run_success{backup=\\"$ZTA_NAME\\",kind=\\"$k\\"} $(cat "$ZTA_STATE/last-$k-ok" 2>/dev/null || echo 0)"
    done
  } > "$out.tmp"
  mv "$out.tmp" "$out"
}

# One JSON line per run, to stdout (docker logs: the audit trail) and to <state>/audit.jsonl.
# usage: record <kind> <started> <rc> <message> [extra json fields, with a leading comma]
# No dollar-brace expansion anywhere in these scripts: they travel in Terraform strings, where that is an interpolation.
record() {
  extra=""; [ "$#" -lt 5 ] || extra=$5
  now=$(date +%s)
  status=success; [ "$3" -eq 0 ] || status=failure
  line="{\\"event\\":\\"zta.$1\\",\\"backup\\":$(json_str "$ZTA_NAME"),\\"status\\":\\"$status\\",\\"exit_code\\":$3,\\"started\\":$2,\\"finished\\":$now,\\"message\\":$(json_str "$4")$extra}"
  mkdir -p "$ZTA_STATE"
  printf '%s\\n' "$line" >> "$ZTA_STATE/audit.jsonl"
  printf '%s\\n' "$line"
  echo "$now" > "$ZTA_STATE/last-$1-attempt"
  if [ "$3" -eq 0 ]; then echo "$now" > "$ZTA_STATE/last-$1-success"; echo 1 > "$ZTA_STATE/last-$1-ok"; else echo 0 > "$ZTA_STATE/last-$1-ok"; fi
  write_metrics
}

# Does the repository exist? 0 yes, 1 no; any other failure (wrong password, network, locks) is fatal.
# restic >= 0.17 exits 10 for "repository does not exist"; 0.14 exits 1 and prints
# "Is there a repository at the following location?" (restic's own scripting docs say so).
repo_exists() {
  rc=0
  restic cat config > "$ZTA_TMP/cat-config.out" 2> "$ZTA_TMP/cat-config.err" || rc=$?
  if [ "$rc" -eq 0 ]; then return 0; fi
  if [ "$rc" -eq 10 ]; then return 1; fi
  if [ "$rc" -eq 1 ] && grep -q 'Is there a repository at the following location' "$ZTA_TMP/cat-config.err"; then return 1; fi
  cat "$ZTA_TMP/cat-config.err" >&2
  die "cannot open the repository (restic exit $rc); not initialising over it"
}
`;
}

function backup(o: BackupScriptOptions): string {
  const dumps: string[] = [];
  for (const s of o.sqlite) {
    const src = `$ZTA_ROOT/sources/${s.volume}/${s.path}`;
    const dst = `$ZTA_ROOT/dumps/${sqliteDumpName(s)}.db`;
    dumps.push(
      `# SQLite online backup: a consistent copy even while the application writes. A busy timeout, or a`,
      `# writer holding its lock at that moment fails the copy with "database is locked" (seen under load).`,
      `log "dumping SQLite ${s.volume}/${s.path}"`,
      `sqlite3 -readonly -cmd '.timeout 30000' "${src}" ".backup '${dst}'"`,
      `[ "$(sqlite3 -readonly "${dst}" 'PRAGMA quick_check;')" = ok ] || die "the SQLite copy of ${s.path} fails quick_check"`,
      `sqlite_counts "${dst}" | sed "s/^/sqlite\\t${sqliteDumpName(s)}.db\\t/" >> "$ZTA_ROOT/dumps/rowcounts.tsv"`,
    );
  }
  for (const p of o.postgres) {
    dumps.push(
      `# pg_dump reads one MVCC snapshot: consistent without stopping the server. Plain SQL, no owners/ACLs,`,
      `# so it restores into a fresh instance as any user.`,
      `log "dumping Postgres ${p.name}"`,
      `PGPASSFILE=$(pgpass_for ${shQuote(p.name)}) PGHOST=${shQuote(p.host)} PGPORT=${p.port} PGUSER=${shQuote(p.user)} \\`,
      `  pg_dump --no-password --format=plain --no-owner --no-acl --file="$ZTA_ROOT/dumps/postgres-${p.name}.sql" ${shQuote(p.database)}`,
      `rm -f "$ZTA_TMP/pgpass-${p.name}"`,
      `pg_dump_counts "$ZTA_ROOT/dumps/postgres-${p.name}.sql" | sed "s/^/postgres\\tpostgres-${p.name}.sql\\t/" >> "$ZTA_ROOT/dumps/rowcounts.tsv"`,
    );
  }
  const excludes = excludedPaths(o).map((p) => `--exclude=${shQuote(`${o.rootDir}/${p}`)}`);
  const keep = `--keep-daily ${o.keep.daily} --keep-weekly ${o.keep.weekly} --keep-monthly ${o.keep.monthly}`;
  const retention = o.appendOnly
    ? `log "append-only repository: forget/prune run from an operator machine, never from this job"`
    : `restic forget --host "$ZTA_NAME" --tag "$ZTA_TAG" ${keep} --prune`;
  return `#!/bin/sh
# One backup run: consistent dumps, manifest, restic backup, retention, check. Rendered by lib/backup-scripts.ts.
set -eu
. "$(dirname "$0")/common.sh"
started=$(date +%s)
snapshot=""
finish() {
  rc=$?
  trap - EXIT
  if [ "$rc" -eq 0 ]; then msg="backup $snapshot stored and checked"; else msg="backup failed (see the log lines above)"; fi
  record backup "$started" "$rc" "$msg" ",\\"snapshot\\":$(json_str "$snapshot")"
  exit "$rc"
}
trap finish EXIT
mkdir -p "$ZTA_TMP" "$ZTA_STATE"

if ! repo_exists; then
  log "no repository yet: initialising"
  restic init
fi
# Locks left by a killed run (restic removes only stale ones).
restic unlock

rm -rf "$ZTA_ROOT/dumps"/* "$ZTA_ROOT/dumps"/.[!.]* 2>/dev/null || true
mkdir -p "$ZTA_ROOT/dumps"
: > "$ZTA_ROOT/dumps/rowcounts.tsv"
${dumps.join("\n")}

# The manifest is written before restic reads the files and re-checked after: if a live file changed in
# between, the snapshot may hold other bytes than the manifest, so take it again (bounded).
attempt=1
while :; do
  write_manifest
  set +e
  restic backup --json --host "$ZTA_NAME" --tag "$ZTA_TAG" ${excludes.join(" ")} "$ZTA_ROOT/sources" "$ZTA_ROOT/dumps" > "$ZTA_TMP/backup.json"
  rc=$?
  set -e
  # restic exit 3: some source files could not be read. That is a failed backup here, not a warning.
  [ "$rc" -eq 0 ] || die "restic backup exited $rc"
  snapshot=$(sed -n 's/.*"snapshot_id":"\\([0-9a-f]*\\)".*/\\1/p' "$ZTA_TMP/backup.json" | tail -n 1)
  [ -n "$snapshot" ] || die "restic backup printed no snapshot id"
  if (cd "$ZTA_ROOT" && sha256sum -c dumps/manifest.sha256 > /dev/null 2>&1); then break; fi
  [ "$attempt" -lt 3 ] || die "source files kept changing during the backup ($attempt attempts)"
  log "files changed while snapshot $snapshot was taken: taking it again"
  attempt=$((attempt + 1))
done
log "snapshot $snapshot stored"

${retention}
restic check --read-data-subset=${o.checkSubset}
`;
}

function drill(o: BackupScriptOptions): string {
  const dbChecks: string[] = [];
  for (const s of o.sqlite) {
    const f = `${sqliteDumpName(s)}.db`;
    dbChecks.push(
      `# SQLite: the restored copy opens, passes integrity_check and has the rows counted at backup time.`,
      `[ "$(sqlite3 -readonly "$restored/dumps/${f}" 'PRAGMA integrity_check;')" = ok ] || die "restored ${f} fails integrity_check"`,
      `sqlite_counts "$restored/dumps/${f}" > "$ZTA_TMP/counts.actual"`,
      `expected_counts sqlite ${shQuote(f)} > "$ZTA_TMP/counts.expected"`,
      `cmp -s "$ZTA_TMP/counts.expected" "$ZTA_TMP/counts.actual" || die "row counts of ${f} differ from the backup's"`,
      `checked_dbs=$((checked_dbs + 1))`,
    );
  }
  for (const p of o.postgres) {
    const f = `postgres-${p.name}.sql`;
    dbChecks.push(
      `# Postgres: restore into a throwaway instance (unix socket only, no TCP) and compare row counts.`,
      `start_throwaway_postgres`,
      `psql --no-psqlrc -q -v ON_ERROR_STOP=1 -h "$pgsock" -U drill -d postgres -c 'CREATE DATABASE drill' > /dev/null`,
      `psql --no-psqlrc -q -v ON_ERROR_STOP=1 -h "$pgsock" -U drill -d drill -f "$restored/dumps/${f}" > /dev/null`,
      `expected_counts postgres ${shQuote(f)} > "$ZTA_TMP/counts.expected"`,
      `: > "$ZTA_TMP/counts.actual"`,
      `while IFS="$(printf '\\t')" read -r table rows; do`,
      `  printf '%s\\t%s\\n' "$table" "$(psql --no-psqlrc -At -h "$pgsock" -U drill -d drill -c "SELECT count(*) FROM $table")" >> "$ZTA_TMP/counts.actual"`,
      `done < "$ZTA_TMP/counts.expected"`,
      `cmp -s "$ZTA_TMP/counts.expected" "$ZTA_TMP/counts.actual" || die "row counts of ${f} after restore differ from the dump's"`,
      `stop_throwaway_postgres`,
      `checked_dbs=$((checked_dbs + 1))`,
    );
  }
  return `#!/bin/sh
# Restore drill: restore the latest snapshot into scratch space and prove it against the manifest and
# the row counts taken at backup time. Rendered by lib/backup-scripts.ts.
set -eu
. "$(dirname "$0")/common.sh"
started=$(date +%s)
snapshot=""; files=0; checked_dbs=0; pgdata=""
cleanup() {
  [ -z "$pgdata" ] || pg_ctl -D "$pgdata" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$ZTA_SCRATCH/restore" "$ZTA_SCRATCH/pg"
}
finish() {
  rc=$?
  trap - EXIT
  cleanup
  if [ "$rc" -eq 0 ]; then msg="restored $snapshot: $files files match the manifest, $checked_dbs databases verified"; else msg="restore drill failed (see the log lines above)"; fi
  record drill "$started" "$rc" "$msg" ",\\"snapshot\\":$(json_str "$snapshot"),\\"files_verified\\":$files,\\"databases_verified\\":$checked_dbs"
  exit "$rc"
}
trap finish EXIT
mkdir -p "$ZTA_TMP" "$ZTA_STATE" "$ZTA_SCRATCH"

expected_counts() { awk -F '\\t' -v kind="$1" -v file="$2" '$1 == kind && $2 == file { print $3 "\\t" $4 }' "$restored/dumps/rowcounts.tsv"; }
start_throwaway_postgres() {
  pgdata="$ZTA_SCRATCH/pg/data"; pgsock="$ZTA_SCRATCH/pg/sock"
  rm -rf "$ZTA_SCRATCH/pg"; mkdir -p "$pgsock"
  initdb -D "$pgdata" -U drill --auth=trust -E UTF8 > /dev/null
  pg_ctl -D "$pgdata" -w -l "$ZTA_SCRATCH/pg/log" -o "-c listen_addresses='' -k $pgsock" start > /dev/null
}
stop_throwaway_postgres() { pg_ctl -D "$pgdata" -m fast -w stop > /dev/null; pgdata=""; rm -rf "$ZTA_SCRATCH/pg"; }

# A drill never initialises: a missing repository is a failed drill.
repo_exists || die "no repository to restore from"
restic snapshots --json --latest 1 --host "$ZTA_NAME" --tag "$ZTA_TAG" > "$ZTA_TMP/snapshots.json"
snapshot=$(sed -n 's/.*"short_id":"\\([0-9a-f]*\\)".*/\\1/p' "$ZTA_TMP/snapshots.json" | tail -n 1)
[ -n "$snapshot" ] || die "no snapshot of $ZTA_NAME in the repository"

rm -rf "$ZTA_SCRATCH/restore"
restic restore "$snapshot" --target "$ZTA_SCRATCH/restore"
restored="$ZTA_SCRATCH/restore$ZTA_ROOT"
[ -f "$restored/dumps/manifest.sha256" ] || die "snapshot $snapshot has no manifest"
if ! (cd "$restored" && sha256sum -c dumps/manifest.sha256 > "$ZTA_TMP/verify.txt" 2>&1); then
  grep -v ': OK$' "$ZTA_TMP/verify.txt" | head -n 20 >&2 || true
  die "restored files differ from the manifest"
fi
files=$(wc -l < "$restored/dumps/manifest.sha256" | tr -d ' ')
${dbChecks.join("\n")}
`;
}

/**
 * The job container's long-running loop (Docker has no scheduler). A run is due when the last attempt is
 * older than its interval, so a job that was down catches up at once. TERM ends it within a second.
 */
function scheduler(backupIntervalSeconds: number, drillPeriodSeconds: number): string {
  return `#!/bin/sh
# Scheduler loop of the backup job. Rendered by lib/backup-scripts.ts.
set -eu
here=$(dirname "$0")
. "$here/common.sh"
trap 'exit 0' TERM INT
mkdir -p "$ZTA_STATE"
write_metrics
while :; do
  date +%s > "$ZTA_STATE/heartbeat"
  now=$(date +%s)
  if [ $((now - $(cat "$ZTA_STATE/last-backup-attempt" 2>/dev/null || echo 0))) -ge ${backupIntervalSeconds} ]; then
    sh "$here/backup.sh" || log "backup failed; retried at the next interval"
  fi
  if [ $((now - $(cat "$ZTA_STATE/last-drill-attempt" 2>/dev/null || echo 0))) -ge ${drillPeriodSeconds} ]; then
    sh "$here/drill.sh" || log "restore drill failed; retried in the next period"
  fi
  sleep 30 & wait $!
done
`;
}

/** scheduler.sh for one job. */
export function renderSchedulerScript(backupIntervalSeconds: number, drillPeriodSeconds: number): RenderedScript {
  return { name: "scheduler.sh", content: scheduler(backupIntervalSeconds, drillPeriodSeconds) };
}

/** common.sh, backup.sh and drill.sh for one job. */
export function renderBackupScripts(o: BackupScriptOptions): RenderedScript[] {
  return [
    { name: "common.sh", content: common(o) },
    { name: "backup.sh", content: backup(o) },
    { name: "drill.sh", content: drill(o) },
  ];
}

/**
 * Prometheus alerting rules on the textfile metrics: no successful backup in `backupMaxAgeHours`, no
 * successful drill within the drill period (plus a day of slack), and a metrics file that vanished.
 */
export function renderBackupAlertRules(backupMaxAgeHours: number, drillPeriodDays: number): string {
  const drillSeconds = (drillPeriodDays + 1) * 86400;
  return `groups:
  - name: zta-backup
    rules:
      - alert: ZtaBackupMissing
        expr: time() - zta_backup_last_success_timestamp_seconds{kind="backup"} > ${backupMaxAgeHours * 3600}
        labels:
          severity: critical
        annotations:
          summary: 'No successful backup of {{ $labels.backup }} in ${backupMaxAgeHours} h'
      - alert: ZtaRestoreDrillMissing
        expr: time() - zta_backup_last_success_timestamp_seconds{kind="drill"} > ${drillSeconds}
        labels:
          severity: warning
        annotations:
          summary: 'No successful restore drill of {{ $labels.backup }} in ${drillPeriodDays} days'
      - alert: ZtaBackupMetricsAbsent
        expr: absent(zta_backup_last_success_timestamp_seconds{kind="backup"})
        for: 1h
        labels:
          severity: warning
        annotations:
          summary: 'No backup metrics are scraped: the backup job or its textfile is gone'
`;
}
