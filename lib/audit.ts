/**
 * Renderers of the audit trail (AuditLog): the syslog-ng collector's config, the retention pruner's script,
 * the Docker `syslog` logging-driver options every audited container gets, and the retention each threat
 * profile requires. Pure functions: the construct, the e2e suite (real syslog-ng) and the engine suite call
 * them the same way.
 *
 * The route (docs/audit.md): the Docker daemon itself ships each container's stdout/stderr with its built-in
 * `syslog` driver over TLS, authenticated with a client certificate from the internal CA, to a syslog-ng
 * collector whose port is published on 127.0.0.1 only. No container reads another's logs and nothing mounts
 * docker.sock. The collector writes one JSON line per message into a file per UTC day on a volume; the
 * pruner deletes day files older than the retention.
 */
import { CERT_ORGANIZATION, ServiceIdentity, TLS_FILES, serviceIdentity } from "./identities";
import { LOKI_JOB } from "./loki";

/** The port the collector receives RFC 5425 (syslog over TLS) on. */
export const AUDIT_PORT = 6514;
/** Where the collector writes its day files (a named volume). */
export const AUDIT_DATA_DIR = "/var/lib/zta-audit";
/** The client identity the Docker daemon presents to the collector (CN=zta-docker-daemon, OU=zta-services). */
export const DAEMON_IDENTITY: ServiceIdentity = serviceIdentity("docker-daemon");

/** A service subject as syslog-ng prints and matches it in `trusted-dn` (CN first, ", " between). */
export function syslogNgSubject(identity: ServiceIdentity): string {
  return `CN=${identity.commonName}, OU=${identity.organizationalUnit}, O=${CERT_ORGANIZATION}`;
}

/** Minimum retention per threat profile (days): the field guide's 90 days for solo and small teams, 365+ for regulated production. */
export const AUDIT_RETENTION_DAYS: Record<string, number> = { homelab: 90, team: 90, production: 365 };
/** Above ten years a typo is likelier than a requirement. */
export const MAX_RETENTION_DAYS = 3650;

export interface CollectorConfigOptions {
  /** Port of the TLS listener (all interfaces of the collector's namespace; the host publishes it on 127.0.0.1). */
  readonly port: number;
  /** Directory with ca.crt, server.crt, server.key. */
  readonly configDir: string;
  readonly dataDir: string;
  /** The one client subject the collector admits, as syslogNgSubject prints it (the Docker daemon's). */
  readonly clientSubject: string;
  /** Loki's push URL (the gateway's): each message is also pushed there with the collector's client certificate (client.crt, client.key in configDir). */
  readonly lokiPushUrl?: string;
}

/**
 * syslog-ng.conf of the collector. Written for the syntax both the pinned 4.x image and Debian's 3.38 (the
 * test stand-in) accept.
 *
 * - `peer-verify(required-trusted)`: no client certificate, or one not issued by the internal CA, is refused in
 *   the TLS handshake; `trusted-dn` admits only the daemon's subject.
 * - A message that is JSON (the sidecars' access log lines, Caddy's logs) is stored parsed under `event`; anything
 *   else as the raw `message`. `container` is the syslog tag Docker sets from the container's name (the daemon
 *   writes it, the container cannot), so a line is attributed to the container that printed it, whatever it claims.
 * - The file name is the UTC receive date: retention is a matter of deleting whole files.
 */
export function renderCollectorConfig(o: CollectorConfigOptions): string {
  const loki = o.lokiPushUrl === undefined ? undefined : renderLokiDestination(o.lokiPushUrl, o.configDir);
  const tls = `tls(
            key-file("${o.configDir}/server.key")
            cert-file("${o.configDir}/server.crt")
            ca-file("${o.configDir}/ca.crt")
            peer-verify(required-trusted)
            trusted-dn("${o.clientSubject}")
        )`;
  // Receive time, UTC, with milliseconds; the container's own timestamp is inside its event.
  const common = "received=$R_ISODATE container=$PROGRAM host=$HOST stream=$LEVEL";
  return `@version: 3.35
# Rendered by cdktf-zero-trust-ai (AuditLog). Do not edit: change the construct's props.
options {
    use-dns(no);
    use-fqdn(no);
    dns-cache(no);
    keep-hostname(yes);
    chain-hostnames(no);
    create-dirs(no);
    perm(0640);
    send-time-zone("+00:00");
    recv-time-zone("+00:00");
    frac-digits(3);
    stats-freq(0);
    log-msg-size(65536);
};

source s_docker {
    syslog(
        ip("0.0.0.0")
        port(${o.port})
        transport("tls")
        max-connections(64)
        log-iw-size(6400)
        ${tls}
    );
};

parser p_event {
    json-parser(prefix(".event."));
};

destination d_day_file {
    file("${o.dataDir}/$R_YEAR-$R_MONTH-$R_DAY.jsonl"
        persist-name("zta-audit-day-file")
        template("$(format-json --scope none ${common} --key .event.* --rekey .event.* --replace-prefix .event.=event. --key .raw.* --rekey .raw.* --shift 5)\\n")
    );
};

# A JSON message is stored parsed under "event"; one the parser refuses as the raw "message".
log {
    source(s_docker);
    if {
        parser(p_event);
    } else {
        rewrite { set("$MESSAGE" value(".raw.message")); };
    };
    destination(d_day_file);${loki ? "\n    destination(d_loki);" : ""}
};
${loki ?? ""}`;
}

/**
 * The push to Loki (syslog-ng's http() destination, through the Loki gateway with the collector's client
 * certificate), beside the day files, not instead of them:
 * - Each line goes to Loki verbatim (the container's own JSON, types intact), labelled with the job, the
 *   container (the daemon's tag) and the stream; its timestamp is the receive time in nanoseconds.
 * - One request per batch of up to 500 lines or 1 s, framed as Loki's JSON push body.
 * - While Loki is down syslog-ng retries (every 10 s) and queues up to 100000 lines in memory for this destination
 *   alone, then drops the oldest for Loki only: the day files, written first in the same log path, keep
 *   every line (syslog-ng queues per destination; without flow-control a full queue never blocks the source).
 */
function renderLokiDestination(url: string, configDir: string): string {
  if (!/^https:\/\/[a-z0-9.-]+:[0-9]+\/[a-z0-9/_]+$/.test(url)) throw new Error(`renderCollectorConfig: not an https push URL: ${url}`);
  // $R_UNIXTIME is "seconds.mmm" (frac-digits(3) above): its seconds and milliseconds make Loki's nanoseconds.
  const nanoseconds = "$(substr $R_UNIXTIME 0 -4)$(substr $R_UNIXTIME -3)000000";
  // format-json escapes the line as a JSON string; substr keeps that string alone ({"line":<it>}).
  const line = "$(substr $(format-json --scope none line=$MESSAGE) 8 -1)";
  const labels = `$(format-json --scope none job=${LOKI_JOB} container=$PROGRAM stream=$LEVEL)`;
  return `
destination d_loki {
    http(
        url("${url}")
        method("POST")
        headers("Content-Type: application/json")
        body-prefix('{"streams":[')
        delimiter(",")
        body('{"stream":${labels},"values":[["${nanoseconds}",${line}]]}')
        body-suffix(']}')
        batch-lines(500)
        batch-timeout(1000)
        timeout(10)
        # Loki refuses a malformed or too old batch with 400: drop it rather than retry it forever (syslog-ng
        # treats most 4xx as "not connected"). 403 (the gateway: wrong identity) keeps retrying, visibly.
        response-action(400 => drop)
        # Retry a down Loki every 10 s (the default is 60).
        time-reopen(10)
        persist-name("zta-audit-loki")
        log-fifo-size(100000)
        tls(
            ca-file("${configDir}/${TLS_FILES.caCert}")
            cert-file("${configDir}/${TLS_FILES.clientCert}")
            key-file("${configDir}/${TLS_FILES.clientKey}")
            peer-verify(yes)
        )
    );
};
`;
}

export interface PruneScriptOptions {
  readonly dataDir: string;
  readonly retentionDays: number;
  /** Seconds between runs. */
  readonly intervalSeconds: number;
  /** File the script touches after each run (the healthcheck reads it). */
  readonly heartbeatFile: string;
}

/**
 * The retention pruner: every interval, deletes the day files whose date (from the file name, not the mtime:
 * copying or touching a file cannot extend its life) is more than `retentionDays` days before today (UTC).
 * The file of the cutoff day itself is kept, so at least `retentionDays` full days remain. POSIX sh plus
 * `date -d @N`, which GNU coreutils (the pinned image) and busybox (the stand-in) both have.
 */
export function renderPruneScript(o: PruneScriptOptions): string {
  return `#!/bin/sh
# Rendered by cdktf-zero-trust-ai (AuditLog). Do not edit: change retentionDays.
set -eu
dir='${o.dataDir}'
days=${o.retentionDays}
prune() {
  now=$(date -u +%s)
  cutoff=$(date -u -d "@$((now - days * 86400))" +%Y%m%d)
  for f in "$dir"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].jsonl; do
    [ -e "$f" ] || continue
    day=$(basename "$f" .jsonl | tr -d -)
    if [ "$day" -lt "$cutoff" ]; then
      rm -f "$f"
      echo "audit retention: deleted $f (older than $days days)"
    fi
  done
  date -u +%s > '${o.heartbeatFile}'
}
if [ "$#" -gt 0 ] && [ "$1" = "--once" ]; then prune; exit 0; fi
# As a container's PID 1 the shell gets no default action for SIGTERM: without a handler \`docker stop\`
# waits out the grace period and kills it. The sleep runs in the background so the trap fires at once.
trap 'exit 0' TERM INT
while :; do
  prune
  sleep ${o.intervalSeconds} &
  wait $!
done
`;
}

/** The pruner's healthcheck: its last run is at most two intervals old. */
export function pruneHealthcheck(o: { heartbeatFile: string; intervalSeconds: number }): string[] {
  return ["sh", "-c", `test $(( $(date -u +%s) - $(cat ${o.heartbeatFile}) )) -lt ${o.intervalSeconds * 2}`];
}

export interface DriverOptions {
  /** `host:port` the daemon dials (the published 127.0.0.1 port). */
  readonly address: string;
  /** Directory on the Docker host holding ca.crt, client.crt and client.key (the daemon-TLS volume's mountpoint). */
  readonly tlsDir: string;
  /** Ring buffer for non-blocking mode. */
  readonly maxBufferSize: string;
}

/**
 * `log_opts` of an audited container (with `log_driver = "syslog"`).
 * - `mode = non-blocking`: the daemon queues lines in a buffer of `max-buffer-size`; when it is full the NEW line
 *   is dropped (moby daemon/logger/ring.go, messageRing.Enqueue), so a slow or absent collector never blocks a
 *   container's stdout write.
 * - No `syslog-tls-skip-verify` key at all: moby's parseTLSConfig reads only its presence
 *   (`_, skipVerify := cfg["syslog-tls-skip-verify"]`), so even "false" turns verification OFF.
 * - RFC 5424 with microseconds over `tcp+tls`: Docker frames each message with its length (RFC 5425), so
 *   multi-line output stays one record; the tag is the container's name.
 * - The daemon verifies the collector's server certificate against the internal CA and presents its own.
 */
export function syslogDriverOptions(o: DriverOptions): Record<string, string> {
  return {
    "syslog-address": `tcp+tls://${o.address}`,
    "syslog-format": "rfc5424micro",
    "syslog-facility": "daemon",
    "syslog-tls-ca-cert": `${o.tlsDir}/ca.crt`,
    "syslog-tls-cert": `${o.tlsDir}/client.crt`,
    "syslog-tls-key": `${o.tlsDir}/client.key`,
    tag: "{{.Name}}",
    mode: "non-blocking",
    "max-buffer-size": o.maxBufferSize,
  };
}
