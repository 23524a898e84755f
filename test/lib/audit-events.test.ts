import * as fs from "fs";
import * as path from "path";
import { GATE_AUTH_LOG_FORMAT, GATE_REQUEST_LOG_FORMAT } from "../../constructs/oidc-gate";
import {
  AUDIT_EVENTS,
  AuditVerification,
  EVENT_TABLE_END,
  EVENT_TABLE_START,
  auditEventType,
  checkAuditEvent,
  checkAuditRecord,
  classifyAuditEvent,
  classifyAuditRecord,
  renderEventTable,
  replaceEventTable,
} from "../../lib/audit-events";
import { renderSidecarNginxConfig } from "../../lib/nginx";

const DOC = path.join(__dirname, "..", "..", "docs", "audit.md");

// Lines as the real components wrote them in test/e2e/audit.e2e.test.ts (nginx 1.22, Caddy 2.6), trimmed of headers.
const SIDECAR_CALL = {
  time: "2026-12-07T22:52:46+00:00",
  request_id: "6e3a6d311eea7fc5b51b548f5607eb5a",
  identity: "auditor@example.com",
  caller: "edge",
  client_cert: "CN=zta-edge,OU=zta-services,O=cdktf-zero-trust-ai",
  edge_client_cert: "CN=devops-laptop,OU=zta-operators,O=cdktf-zero-trust-ai",
  method: "GET",
  route: "/v1/models",
  status: 200,
  request_bytes: 548,
  response_bytes: 244,
  request_time: 0.001,
  upstream_connect_time: "0.000",
  upstream_first_byte_time: "0.001",
  upstream_time: "0.001",
};
const EDGE_401 = {
  level: "error",
  ts: 1796683966.9213305,
  logger: "http.log.access",
  msg: "handled request",
  request: {
    remote_ip: "127.0.0.1",
    remote_port: "34786",
    proto: "HTTP/1.1",
    method: "GET",
    host: "ai.example.internal",
    uri: "/v1/models",
    headers: { Connection: ["close"] },
    tls: {
      resumed: false,
      version: 772,
      cipher_suite: 4865,
      proto: "",
      server_name: "ai.example.internal",
      client_common_name: "devops-laptop",
      client_serial: "1955",
    },
  },
  user_id: "",
  duration: 0.001185595,
  size: 0,
  status: 401,
  resp_headers: { "Content-Type": ["text/plain"] },
};

/** `o` without the field at dotted `p`. */
function without(o: object, p: string): object {
  const copy = JSON.parse(JSON.stringify(o));
  const parts = p.split(".");
  let at = copy;
  for (const part of parts.slice(0, -1)) at = at[part];
  delete at[parts[parts.length - 1]];
  return copy;
}

function withField(o: object, p: string, value: unknown): object {
  const copy = JSON.parse(JSON.stringify(o));
  const parts = p.split(".");
  let at = copy;
  for (const part of parts.slice(0, -1)) at = at[part];
  at[parts[parts.length - 1]] = value;
  return copy;
}

/**
 * A Go text/template of the gate's formats executed the way oauth2-proxy does (pkg/logger/logger.go):
 * `{{.X}}` prints the pre-formatted string, `{{printf "%q" .X}}` Go-quotes it. For printable text Go's %q
 * and JSON.stringify agree (both escape only `"` and `\`), which is what the samples hold.
 */
function executeGoTemplate(format: string, data: Record<string, string>): string {
  const out = format.replace(/\{\{(printf "%q" )?\.(\w+)\}\}/g, (_, quoted: string | undefined, name: string) => {
    if (!(name in data)) throw new Error(`the format uses {{.${name}}}, which oauth2-proxy does not provide`);
    return quoted ? JSON.stringify(data[name]) : data[name];
  });
  if (out.includes("{{")) throw new Error(`unexecuted template action left: ${out}`);
  return out;
}

// oauth2-proxy's authLogMessageData / reqLogMessageData (v7.15.3): UserAgent and RequestURI arrive `%q`-quoted.
const GATE_AUTH_DATA = {
  Client: "10.0.0.7",
  Host: "ai.example.internal",
  Protocol: "HTTP/1.1",
  RequestID: 'req-"quoted"\\id',
  RequestMethod: "GET",
  Timestamp: "2026/12/07 22:52:46",
  UserAgent: JSON.stringify('curl/8 "evil"'),
  Username: 'alice"@example.com',
  Status: "AuthSuccess",
  Message: 'Authenticated via OAuth2: Session{email:alice@example.com user:"x\\y"}',
};
const GATE_REQUEST_DATA = {
  Client: "10.0.0.7",
  Host: "ai.example.internal",
  Protocol: "HTTP/1.1",
  RequestID: "r1",
  RequestDuration: "0.004",
  RequestMethod: "GET",
  RequestURI: JSON.stringify("/oauth2/sign_out?rd=https://ai.example.internal/"),
  ResponseSize: "0",
  StatusCode: "302",
  Timestamp: "2026/12/07 22:52:46",
  Upstream: "-",
  UserAgent: JSON.stringify("Mozilla/5.0"),
  Username: "alice@example.com",
};

describe("the audit event schema (lib/audit-events.ts)", () => {
  test("docs/audit.md carries the event table, equal to renderEventTable() (scripts/audit-events.ts --write docs/audit.md refreshes it)", () => {
    const text = fs.readFileSync(DOC, "utf8");
    expect(text).toContain(EVENT_TABLE_START);
    expect(text).toBe(replaceEventTable(text));
  });

  test("the drift check bites: a changed schema no longer matches the document, a document without markers is an error", () => {
    const text = fs.readFileSync(DOC, "utf8");
    const changed = AUDIT_EVENTS.map((e, i) => (i === 0 ? { ...e, fields: e.fields.slice(1) } : e));
    expect(replaceEventTable(text, changed)).not.toBe(text);
    expect(() => replaceEventTable("# audit\n")).toThrow(EVENT_TABLE_START);
    expect(replaceEventTable(`x\n${EVENT_TABLE_START}\nstale\n${EVENT_TABLE_END}\ny`)).not.toContain("stale");
  });

  test("one row per event type, names unique, every issue's event family present, every one produced by a component", () => {
    const names = AUDIT_EVENTS.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(renderEventTable().split("\n")).toHaveLength(AUDIT_EVENTS.length + 2);
    for (const n of [
      "inference.call",
      "auth.refused",
      "auth.signin",
      "auth.signout",
      "auth.failed",
      "config.change",
      "tool.run",
    ]) {
      expect(names).toContain(n);
    }
    // tool.run is SandboxRunner's record job, run on the engine (test/engine/audit.engine.test.ts).
    expect(auditEventType("tool.run")!.verified).toBe(AuditVerification.RUNNING);
    expect(AUDIT_EVENTS.filter((e) => e.verified === AuditVerification.NOT_PRODUCED).map((e) => e.name)).toEqual([]);
    expect(renderEventTable([{ ...AUDIT_EVENTS[0], description: "a | b" }])).toContain("a \\| b");
  });

  test("inference.call: the schema's keys are exactly the keys of the sidecar's nginx log_format, and a line it renders passes", () => {
    const conf = renderSidecarNginxConfig({
      listenPort: 8443,
      healthPort: 8081,
      upstream: "127.0.0.1:8000",
      configDir: "/etc/zta",
      runDir: "/run/zta",
      accessLog: "/dev/stdout",
      errorLog: "/dev/stderr",
      routes: ["/v1/models"],
      callers: [{ role: "edge", subjectDn: "CN=zta-edge", forwardsIdentity: true, mayScrapeMetrics: false }],
      maxRequestBodyMb: 1,
      requestsPerMinute: 60,
      burst: 10,
      maxConcurrent: 4,
      generationTimeoutSeconds: 600,
    });
    const block = conf.slice(conf.indexOf("log_format zta_audit escape=json"), conf.indexOf("access_log "));
    const format = [...block.matchAll(/'([^']*)'/g)].map((m) => m[1]).join("");
    // Quoted variables become strings, bare ones numbers: what nginx prints for a real request.
    const line = format.replace(/"\$[a-z_0-9]+"/g, '"x"').replace(/\$[a-z_0-9]+/g, "1");
    const event = JSON.parse(line);
    const topLevel = (name: string) => auditEventType(name)!.fields.map((f) => f.path);
    expect(Object.keys(event).sort()).toEqual(topLevel("inference.call").sort());
    expect(topLevel("inference.refused").sort()).toEqual(topLevel("inference.call").sort());
    expect(checkAuditEvent("inference.call", event)).toEqual([]);
  });

  test("gate formats: executed like oauth2-proxy's templates, hostile quotes included, they are JSON with exactly the schema's keys", () => {
    const auth = JSON.parse(executeGoTemplate(GATE_AUTH_LOG_FORMAT, GATE_AUTH_DATA));
    expect(auth).toMatchObject({
      user: 'alice"@example.com',
      request_id: 'req-"quoted"\\id',
      user_agent: 'curl/8 "evil"',
    });
    expect(Object.keys(auth).sort()).toEqual(
      auditEventType("auth.signin")!
        .fields.map((f) => f.path)
        .sort(),
    );
    expect(classifyAuditEvent(auth)).toBe("auth.signin");
    expect(checkAuditEvent("auth.signin", auth)).toEqual([]);
    const failed = JSON.parse(executeGoTemplate(GATE_AUTH_LOG_FORMAT, { ...GATE_AUTH_DATA, Status: "AuthFailure" }));
    expect(classifyAuditEvent(failed)).toBe("auth.failed");
    expect(checkAuditEvent("auth.failed", failed)).toEqual([]);
    expect(checkAuditEvent("auth.signin", failed)).toEqual([
      expect.stringMatching(/^status: expected one of \["AuthSuccess"\]/),
    ]);

    const signOut = JSON.parse(executeGoTemplate(GATE_REQUEST_LOG_FORMAT, GATE_REQUEST_DATA));
    expect(signOut).toMatchObject({
      status: 302,
      duration: 0.004,
      uri: "/oauth2/sign_out?rd=https://ai.example.internal/",
    });
    expect(Object.keys(signOut).sort()).toEqual(
      auditEventType("auth.signout")!
        .fields.map((f) => f.path)
        .sort(),
    );
    expect(classifyAuditEvent(signOut)).toBe("auth.signout");
    expect(checkAuditEvent("auth.signout", signOut)).toEqual([]);
    const check = JSON.parse(
      executeGoTemplate(GATE_REQUEST_LOG_FORMAT, {
        ...GATE_REQUEST_DATA,
        RequestURI: '"/oauth2/auth"',
        StatusCode: "401",
      }),
    );
    expect(classifyAuditEvent(check)).toBe("gate.request");
  });

  test("the gate formats hold no Terraform interpolation (`${` or `%{`): they are arguments in the synthesized JSON", () => {
    for (const f of [GATE_AUTH_LOG_FORMAT, GATE_REQUEST_LOG_FORMAT]) expect(f).not.toMatch(/[$%]\{/);
  });

  test("the template check is not vacuous: a variable oauth2-proxy lacks, or an unquoted value with a quote, fails", () => {
    expect(() => executeGoTemplate('{"x":"{{.Email}}"}', GATE_AUTH_DATA)).toThrow("{{.Email}}");
    expect(() => JSON.parse(executeGoTemplate('{"user":"{{.Username}}"}', GATE_AUTH_DATA))).toThrow();
  });

  test("a good record passes; a missing or ill-typed field fails, naming the field", () => {
    expect(checkAuditEvent("inference.call", SIDECAR_CALL)).toEqual([]);
    expect(checkAuditEvent("inference.call", without(SIDECAR_CALL, "status"))).toEqual([
      "status: required (integer), missing",
    ]);
    expect(checkAuditEvent("inference.call", withField(SIDECAR_CALL, "status", "200"))).toEqual([
      'status: expected integer, got string "200"',
    ]);
    expect(checkAuditEvent("inference.call", withField(SIDECAR_CALL, "request_time", null))).toEqual([
      "request_time: required (number), null",
    ]);
    expect(checkAuditEvent("inference.call", withField(SIDECAR_CALL, "identity", ""))).toEqual([
      "identity: must not be empty for inference.call",
    ]);

    expect(checkAuditEvent("auth.refused", EDGE_401)).toEqual([]);
    expect(checkAuditEvent("auth.refused", without(EDGE_401, "request.uri"))).toEqual([
      "request.uri: required (string), missing",
    ]);
    expect(checkAuditEvent("auth.refused", withField(EDGE_401, "request.tls", "tls"))).toEqual([
      'request.tls: expected object, got string "tls"',
      "request.tls.server_name: required (string), missing",
    ]);
    // Optional: a site that does not require a certificate logs none.
    expect(checkAuditEvent("auth.refused", without(EDGE_401, "request.tls.client_common_name"))).toEqual([]);
    expect(checkAuditEvent("auth.refused", withField(EDGE_401, "request.tls.client_common_name", 7))).toEqual([
      "request.tls.client_common_name: expected string, got number 7",
    ]);
    expect(checkAuditEvent("auth.refused", withField(EDGE_401, "status", 200))).toEqual([
      "status: expected one of [401,403] for auth.refused, got number 200",
    ]);
    expect(checkAuditEvent("edge.request", withField(EDGE_401, "status", 200))).toEqual([]);
    expect(checkAuditEvent("no.such", {})).toEqual([expect.stringContaining("no such event type")]);
    expect(checkAuditEvent("inference.call", "a line")).toEqual([expect.stringContaining("not a JSON object")]);
  });

  test("classification: each component's line is the event its keys and values say", () => {
    expect(classifyAuditEvent(SIDECAR_CALL)).toBe("inference.call");
    expect(classifyAuditEvent({ ...SIDECAR_CALL, caller: "", identity: "", status: 403 })).toBe("inference.refused");
    expect(classifyAuditEvent(EDGE_401)).toBe("auth.refused");
    expect(classifyAuditEvent({ ...EDGE_401, status: "403" })).toBe("auth.refused");
    expect(classifyAuditEvent({ ...EDGE_401, status: 200 })).toBe("edge.request");
    expect(classifyAuditEvent({ level: "info", logger: "http.log", msg: "server running" })).toBeUndefined();
    expect(
      classifyAuditEvent({
        id: "1",
        timestamp: 1,
        user: {},
        audit_level: "METADATA",
        verb: "POST",
        request_uri: "/api/v1/configs",
      }),
    ).toBe("config.change");
    expect(
      checkAuditEvent("config.change", {
        id: "1",
        timestamp: 1,
        user: { email: "a@b" },
        audit_level: "METADATA",
        verb: "POST",
        request_uri: "/x",
        response_status_code: null,
      }),
    ).toEqual([]);
    expect(classifyAuditEvent("plain text")).toBeUndefined();
  });

  test("stored records: the envelope is checked, numbers may be strings (syslog-ng 3.x), and a broken event is reported under event.", () => {
    const stored = (event: object) => ({
      received: "2026-12-07T22:52:47.451+00:00",
      container: "ai-edge",
      host: "docker-host",
      stream: "info",
      event,
    });
    const asStrings = JSON.parse(
      JSON.stringify(EDGE_401, (_, v) => (typeof v === "number" || typeof v === "boolean" ? String(v) : v)),
    );
    expect(checkAuditRecord(stored(asStrings))).toEqual([]);
    expect(classifyAuditRecord(stored(asStrings))).toBe("auth.refused");
    // A line as written must have real numbers; only the stored copy may carry strings.
    expect(checkAuditEvent("auth.refused", asStrings)).toContain('status: expected integer, got string "401"');
    expect(checkAuditRecord(stored(withField(asStrings, "status", "four-oh-one")))).toEqual([
      'event.status: expected integer, got string "four-oh-one"',
    ]);
    expect(checkAuditRecord(stored(without(EDGE_401, "request.tls.server_name")))).toEqual([
      "event.request.tls.server_name: required (string), missing",
    ]);
    expect(
      checkAuditRecord({ received: "t", container: "ai-edge", host: "h", stream: "err", message: "nginx: [warn] x" }),
    ).toEqual([]);
    expect(checkAuditRecord({ container: "", host: "h", stream: "err", message: "x" })).toEqual([
      "received: required (non-empty string), got nothing",
      'container: required (non-empty string), got string ""',
    ]);
    expect(checkAuditRecord({ received: "t", container: "c", host: "h", stream: "info" })).toEqual([
      "event/message: exactly one of them (the parsed JSON line or the raw line)",
    ]);
  });
});
