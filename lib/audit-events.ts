/**
 * The audit trail's event schema: one entry per event type, with the component that writes it and the
 * fields it writes. The schema describes what the components really print (the sidecar's nginx
 * `log_format`, Caddy's JSON access log, oauth2-proxy's auth and request log formats set by OidcGate,
 * Open WebUI's audit log), not what one would like them to print: a field no component writes is not here.
 *
 * docs/audit.md carries the table renderEventTable() prints (`npx ts-node scripts/audit-events.ts --write
 * docs/audit.md` refreshes it; a unit test fails when they differ). checkAuditEvent checks one line as its
 * component wrote it; checkAuditRecord checks one record as the collector stored it (lib/audit.ts:
 * `received`, `container`, `host`, `stream`, and the parsed line under `event` or the raw `message`).
 */

/** JSON types of a field. */

/**
 * The script of the jobs that print a record built by Terraform (SandboxRunner's `tool.run`, AuditLog's
 * `config.deployed`): each argument (`$0` first) is one record without its time (Terraform's jsonencode,
 * one line starting with `{`); the job prints each as a line with the UTC time it ran at. It has no
 * dollar-brace: Terraform would interpolate one.
 */
export const RECORD_JOB_SCRIPT = `t="$(date -u +%Y-%m-%dT%H:%M:%SZ)"; for r in "$0" "$@"; do printf '{"time":"%s",' "$t"; printf '%s\\n' "$r" | cut -c2-; done`;

export type AuditFieldType = "string" | "integer" | "number" | "boolean" | "object" | "array";

export interface AuditField {
  /** Dotted path inside the event, e.g. `request.tls.client_common_name`. */
  readonly path: string;
  readonly type: AuditFieldType;
  /** Written on every line of this event type. A null counts as absent. */
  readonly required: boolean;
  /** The only values this event type carries in the field (what tells it from its siblings). */
  readonly oneOf?: readonly (string | number)[];
  /** An empty string is a violation (e.g. the identity of a call that was let through). */
  readonly nonEmpty?: boolean;
}

/** How the schema of an event type was checked here. */
export enum AuditVerification {
  /** The real component ran in the e2e suite and its stored records were checked against this schema. */
  RUNNING = "running",
  /** The component cannot run here: the fields were read in its source and docs. */
  READING = "reading",
  /** No component writes it yet: the schema its producer must follow. */
  NOT_PRODUCED = "not produced yet",
}

export interface AuditEventType {
  /** e.g. `inference.call`. */
  readonly name: string;
  /** The component that writes it. */
  readonly source: string;
  /** What one record means. */
  readonly description: string;
  readonly verified: AuditVerification;
  readonly fields: readonly AuditField[];
}

const str = (path: string, extra: Partial<AuditField> = {}): AuditField => ({
  path,
  type: "string",
  required: true,
  ...extra,
});
const int = (path: string, extra: Partial<AuditField> = {}): AuditField => ({
  path,
  type: "integer",
  required: true,
  ...extra,
});
const num = (path: string): AuditField => ({ path, type: "number", required: true });
const obj = (path: string, extra: Partial<AuditField> = {}): AuditField => ({
  path,
  type: "object",
  required: true,
  ...extra,
});
const optional = (f: AuditField): AuditField => ({ ...f, required: false });

/** lib/nginx.ts `log_format zta_audit`: every key on every line, whatever happened to the request. */
function sidecarFields(refused: boolean): AuditField[] {
  return [
    str("time"),
    str("request_id", { nonEmpty: true }),
    refused ? str("identity") : str("identity", { nonEmpty: true }),
    refused ? str("caller", { oneOf: [""] }) : str("caller", { nonEmpty: true }),
    str("client_cert", { nonEmpty: true }),
    str("edge_client_cert"),
    str("method"),
    str("route"),
    refused ? int("status", { oneOf: [403] }) : int("status"),
    int("request_bytes"),
    int("response_bytes"),
    num("request_time"),
    str("upstream_connect_time"),
    str("upstream_first_byte_time"),
    str("upstream_time"),
  ];
}

/**
 * Caddy's access log (`log { format json }` in lib/caddyfile.ts), keys as Caddy 2.6 writes them (run); the pinned
 * 2.10.2 writes the same and adds `bytes_read` and `request.client_ip` (modules/caddyhttp, read).
 */
function edgeFields(refused: boolean): AuditField[] {
  return [
    str("level"),
    num("ts"),
    str("logger"),
    str("msg"),
    obj("request"),
    str("request.remote_ip"),
    str("request.remote_port"),
    str("request.proto"),
    str("request.method"),
    str("request.host"),
    str("request.uri"),
    obj("request.headers"),
    // Every edge site is HTTPS; the certificate fields only when the client presented one.
    obj("request.tls"),
    str("request.tls.server_name"),
    optional(str("request.tls.client_common_name")),
    optional(str("request.tls.client_serial")),
    str("user_id"),
    num("duration"),
    int("size"),
    refused ? int("status", { oneOf: [401, 403] }) : int("status"),
    obj("resp_headers"),
  ];
}

/** The keys of GATE_AUTH_LOG_FORMAT (constructs/oidc-gate.ts). */
function gateAuthFields(statuses: string[]): AuditField[] {
  return [
    str("gate", { oneOf: ["auth"] }),
    str("time"),
    str("client"),
    str("request_id"),
    str("user"),
    str("status", { oneOf: statuses }),
    str("method"),
    str("host"),
    str("user_agent"),
    str("message"),
  ];
}

/** The keys of GATE_REQUEST_LOG_FORMAT (constructs/oidc-gate.ts). */
function gateRequestFields(): AuditField[] {
  return [
    str("gate", { oneOf: ["request"] }),
    str("time"),
    str("client"),
    str("request_id"),
    str("user"),
    str("method"),
    str("host"),
    str("uri"),
    str("upstream"),
    int("status"),
    int("response_bytes"),
    num("duration"),
    str("user_agent"),
  ];
}

export const AUDIT_EVENTS: readonly AuditEventType[] = [
  {
    name: "inference.call",
    source: "sidecar (nginx, MtlsSidecar)",
    description:
      "One call that reached a vLLM replica's sidecar from a known service: who (identity, caller), the route, status (429/413 included), bytes and timings. No model or token counts: the sidecar does not read bodies.",
    verified: AuditVerification.RUNNING,
    fields: sidecarFields(false),
  },
  {
    name: "inference.refused",
    source: "sidecar (nginx, MtlsSidecar)",
    description:
      "A certificate from the internal CA that is not one of the sidecar's callers: 403, with the certificate's full subject.",
    verified: AuditVerification.RUNNING,
    fields: sidecarFields(true),
  },
  {
    name: "edge.request",
    source: "edge (Caddy, EdgeProxy)",
    description:
      "One request the edge handled and did not refuse, with the presented client certificate's CN and serial.",
    verified: AuditVerification.RUNNING,
    fields: edgeFields(false),
  },
  {
    name: "auth.refused",
    source: "edge (Caddy, EdgeProxy)",
    description:
      "A request the edge answered 401 (no session or token: the gate said no) or 403, with the presented certificate's CN and serial. A TLS handshake refused for want of a valid client certificate writes no record: Caddy logs handshake errors at debug level, below its default (2.6 run, 2.10.2 read).",
    verified: AuditVerification.RUNNING,
    fields: edgeFields(true),
  },
  {
    name: "auth.signin",
    source: "gate (oauth2-proxy, OidcGate)",
    description: "A successful OIDC sign-in (the callback), with the account.",
    verified: AuditVerification.READING,
    fields: gateAuthFields(["AuthSuccess"]),
  },
  {
    name: "auth.failed",
    source: "gate (oauth2-proxy, OidcGate)",
    description:
      "A failed or erroring sign-in (CSRF mismatch, account not allowed, session validation or saving failed), with the account when known.",
    verified: AuditVerification.READING,
    fields: gateAuthFields(["AuthFailure", "AuthError"]),
  },
  {
    name: "auth.signout",
    source: "gate (oauth2-proxy, OidcGate)",
    description:
      "A request to `/oauth2/sign_out` (oauth2-proxy writes no auth line for it: this is its request line), with the account whose session it cleared.",
    verified: AuditVerification.READING,
    fields: gateRequestFields(),
  },
  {
    name: "gate.request",
    source: "gate (oauth2-proxy, OidcGate)",
    description:
      "Any other request to the gate: the edge's `forward_auth` checks (`/oauth2/auth`: 202 or 401, with the account) and the sign-in flow.",
    verified: AuditVerification.READING,
    fields: gateRequestFields(),
  },
  {
    name: "config.change",
    source: "chat UI (Open WebUI, ChatUi)",
    description:
      "A state-changing API call (POST, PUT, PATCH, DELETE) of a signed-in user, admin settings and user/role changes among them, at AUDIT_LOG_LEVEL=METADATA (no bodies). The pinned 0.6.36 writes it to audit.log on the data volume only; ChatUi's audit relay (`<name>-audit-relay`, busybox `tail -F` of that file) prints it to stdout, so it reaches the collector attributed to the relay container, not to Open WebUI's. Each relay (re)start sends the current file again: deduplicate by `id`.",
    verified: AuditVerification.READING,
    fields: [
      str("id"),
      int("timestamp"),
      obj("user"),
      optional(str("user.id")),
      optional(str("user.name")),
      optional(str("user.email")),
      optional(str("user.role")),
      str("audit_level", { oneOf: ["METADATA", "REQUEST", "REQUEST_RESPONSE"] }),
      str("verb"),
      str("request_uri"),
      optional(int("response_status_code")),
      optional(str("source_ip")),
      optional(str("user_agent")),
      optional(str("request_object")),
      optional(str("response_object")),
      optional(obj("extra")),
    ],
  },
  {
    name: "tool.run",
    source: "sandbox record job (SandboxRunner)",
    description:
      "One sandboxed tool run, written after it by SandboxRunner's record job (`<name>-record`) from Terraform's view of it: image, command, workspace (host path, empty when none), exit code, and the SHA-256 of the output the provider kept in `container_logs`.",
    verified: AuditVerification.RUNNING,
    fields: [
      str("event", { oneOf: ["tool.run"] }),
      str("time"),
      str("run"),
      str("image"),
      { path: "command", type: "array", required: true },
      str("workspace"),
      int("exit_code"),
      str("output_sha256"),
    ],
  },
  {
    name: "gateway.call",
    source: "spend exporter (ApiGateway)",
    description:
      "One call through the API gateway, from LiteLLM's own spend logs once it has settled: the app (its key's alias), the model group, prompt, completion and total tokens, the spend in USD and the status. Read by a role that can only SELECT that table.",
    verified: AuditVerification.RUNNING,
    fields: [
      str("event", { oneOf: ["gateway.call"] }),
      str("time"),
      str("request_id", { nonEmpty: true }),
      optional(str("app")),
      str("model"),
      int("prompt_tokens"),
      int("completion_tokens"),
      int("total_tokens"),
      num("spend_usd"),
      str("status"),
    ],
  },
  {
    name: "config.deployed",
    source: "change-record job (AuditLog)",
    description:
      "The configuration Terraform applied, after every apply that changed an audited container's image or config (a config file, a certificate): one record per container, with its Docker name, image and config hash (`zta.config-sha256`, empty for a container without a config volume). A container changed when its record differs from its previous one.",
    verified: AuditVerification.RUNNING,
    fields: [
      str("event", { oneOf: ["config.deployed"] }),
      str("time"),
      str("stack"),
      str("service", { nonEmpty: true }),
      str("image"),
      str("config_sha256"),
    ],
  },
  {
    name: "audit.read",
    source: "Loki gateway (nginx, AuditLog)",
    description:
      "A request to the trail's Loki other than the collector's accepted pushes: a reader's query (who looked at the audit trail, with the LogQL query as sent, URL-encoded) or a refused request (403: an identity not allowed that path), with the certificate's subject and the role it was given (`writer`, `reader` or empty).",
    verified: AuditVerification.RUNNING,
    fields: [
      str("gateway", { oneOf: ["loki"] }),
      str("time"),
      str("request_id", { nonEmpty: true }),
      str("role", { oneOf: ["writer", "reader", ""] }),
      str("client_cert"),
      str("method"),
      str("route"),
      str("query"),
      int("status"),
      int("request_bytes"),
      int("response_bytes"),
      num("request_time"),
    ],
  },
];

export function auditEventType(name: string): AuditEventType | undefined {
  return AUDIT_EVENTS.find((e) => e.name === name);
}

function lookup(event: Record<string, unknown>, path: string): unknown {
  let at: unknown = event;
  for (const part of path.split(".")) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

const NUMERIC = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

/**
 * Whether `value` has the field's type. `stored`: as the collector stored it — syslog-ng 3.x (Debian's,
 * the e2e stand-in) keeps every value as a string ("200", "0.001000", "false", arrays joined with commas);
 * 4.x keeps JSON types. So stored numbers and booleans may be strings that read as one.
 */
function hasType(value: unknown, type: AuditFieldType, stored: boolean): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return (
        (typeof value === "number" && Number.isInteger(value)) ||
        (stored && typeof value === "string" && /^-?\d+$/.test(value))
      );
    case "number":
      return (
        (typeof value === "number" && Number.isFinite(value)) ||
        (stored && typeof value === "string" && NUMERIC.test(value))
      );
    case "boolean":
      return typeof value === "boolean" || (stored && (value === "true" || value === "false"));
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    case "array":
      return Array.isArray(value) || (stored && typeof value === "string");
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `${kind} ${JSON.stringify(value)?.slice(0, 60)}`;
}

export interface CheckOptions {
  /** Check a value as the collector stored it (see hasType); false checks the line as its component wrote it. */
  readonly stored?: boolean;
}

/**
 * The schema violations of one event (a parsed line) against event type `name`; empty when it conforms.
 * Each violation names the field. Keys the schema does not list are not violations: components may add some.
 */
export function checkAuditEvent(name: string, event: unknown, options: CheckOptions = {}): string[] {
  const type = auditEventType(name);
  if (!type) return [`${name}: no such event type (AUDIT_EVENTS has ${AUDIT_EVENTS.map((e) => e.name).join(", ")})`];
  if (event === null || typeof event !== "object" || Array.isArray(event))
    return [`${name}: the event is ${describe(event)}, not a JSON object`];
  const stored = options.stored ?? false;
  const problems: string[] = [];
  for (const f of type.fields) {
    const value = lookup(event as Record<string, unknown>, f.path);
    if (value === undefined || value === null) {
      if (f.required) problems.push(`${f.path}: required (${f.type}), ${value === null ? "null" : "missing"}`);
      continue;
    }
    if (!hasType(value, f.type, stored)) {
      problems.push(`${f.path}: expected ${f.type}, got ${describe(value)}`);
      continue;
    }
    if (f.oneOf && !f.oneOf.some((allowed) => String(allowed) === String(value))) {
      problems.push(`${f.path}: expected one of ${JSON.stringify(f.oneOf)} for ${name}, got ${describe(value)}`);
    }
    if (f.nonEmpty && value === "") problems.push(`${f.path}: must not be empty for ${name}`);
  }
  return problems;
}

/**
 * Which event type a parsed line is, from the keys that tell its component (the sidecar's `caller` and
 * `route`, Caddy's access logger, the gate's `gate` key, Open WebUI's `audit_level`, the sandbox's
 * `event`), then the value that tells siblings apart. undefined: not an audit event (a start-up line,
 * a warning); such lines are stored too, but no schema applies.
 */
export function classifyAuditEvent(event: unknown): string | undefined {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return undefined;
  const e = event as Record<string, unknown>;
  const status = Number(e.status);
  if (e.gateway === "loki") return "audit.read";
  if ("request_id" in e && "caller" in e && "route" in e)
    return e.caller === "" ? "inference.refused" : "inference.call";
  if (typeof e.logger === "string" && /^http\.log\.access(\.|$)/.test(e.logger)) {
    return status === 401 || status === 403 ? "auth.refused" : "edge.request";
  }
  if (e.gate === "auth") return e.status === "AuthSuccess" ? "auth.signin" : "auth.failed";
  if (e.gate === "request") {
    return typeof e.uri === "string" && /^\/oauth2\/sign_out(\?|$)/.test(e.uri) ? "auth.signout" : "gate.request";
  }
  if ("audit_level" in e && "verb" in e) return "config.change";
  if (e.event === "tool.run") return "tool.run";
  if (e.event === "config.deployed") return "config.deployed";
  if (e.event === "gateway.call") return "gateway.call";
  return undefined;
}

/** The event type of a stored record, undefined for a raw line or a JSON line that is no audit event. */
export function classifyAuditRecord(record: unknown): string | undefined {
  if (record === null || typeof record !== "object") return undefined;
  return classifyAuditEvent((record as Record<string, unknown>).event);
}

/**
 * The violations of one record as the collector stored it (renderCollectorConfig): its envelope, then,
 * when the line is an audit event, the event against its type (fields prefixed `event.`).
 */
export function checkAuditRecord(record: unknown): string[] {
  if (record === null || typeof record !== "object" || Array.isArray(record))
    return [`the record is ${describe(record)}, not a JSON object`];
  const r = record as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of ["received", "container", "host", "stream"]) {
    if (typeof r[key] !== "string" || r[key] === "")
      problems.push(`${key}: required (non-empty string), got ${describe(r[key])}`);
  }
  const hasEvent = r.event !== undefined;
  const hasMessage = r.message !== undefined;
  if (hasEvent === hasMessage)
    problems.push("event/message: exactly one of them (the parsed JSON line or the raw line)");
  if (hasMessage && typeof r.message !== "string")
    problems.push(`message: expected string, got ${describe(r.message)}`);
  const name = classifyAuditRecord(record);
  if (name) problems.push(...checkAuditEvent(name, r.event, { stored: true }).map((p) => `event.${p}`));
  return problems;
}

export const EVENT_TABLE_START = "<!-- audit-events:start -->";
export const EVENT_TABLE_END = "<!-- audit-events:end -->";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function fieldCell(f: AuditField): string {
  const values = f.oneOf ? ` = ${f.oneOf.map((v) => JSON.stringify(v)).join(" or ")}` : "";
  return `\`${f.path}${f.required ? "" : "?"}\` ${f.type}${values}${f.nonEmpty ? " (non-empty)" : ""}`;
}

/** The Markdown table of docs/audit.md: one row per event type. */
export function renderEventTable(events: readonly AuditEventType[] = AUDIT_EVENTS): string {
  return [
    "| Event | Source | Verified by | What a record means | Fields (`name?`: optional) |",
    "| --- | --- | --- | --- | --- |",
    ...events.map(
      (e) =>
        `| \`${e.name}\` | ${cell(e.source)} | ${e.verified} | ${cell(e.description)} | ${e.fields.map(fieldCell).join(", ")} |`,
    ),
  ].join("\n");
}

/** `document` with the text between the markers replaced by the table; an error if a marker is missing. */
export function replaceEventTable(document: string, events: readonly AuditEventType[] = AUDIT_EVENTS): string {
  const start = document.indexOf(EVENT_TABLE_START);
  const end = document.indexOf(EVENT_TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`the document has no ${EVENT_TABLE_START} ... ${EVENT_TABLE_END} block`);
  return `${document.slice(0, start + EVENT_TABLE_START.length)}\n${renderEventTable(events)}\n${document.slice(end)}`;
}
