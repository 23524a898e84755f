import { parse } from "yaml";
import { auditEventType, checkAuditEvent } from "../../lib/audit-events";
import {
  AUDIT_LOGQL_QUERIES,
  LOKI_DATA_DIR,
  LOKI_JOB,
  auditLogql,
  LOKI_HTTP_PORT,
  LOKI_GRPC_PORT,
  renderLokiConfig,
  renderLokiGatewayNginxConfig,
} from "../../lib/loki";

// Loki cannot run here: its config is checked against the keys Loki 3.7's docs and config_wrapper.go name (read).
describe("renderLokiConfig", () => {
  const config = parse(renderLokiConfig({ retentionDays: 365, schemaFrom: "2025-01-01" }));

  test("one tenant, listening on the loopback only, no usage reports", () => {
    expect(config.auth_enabled).toBe(false);
    expect(config.server).toMatchObject({
      http_listen_address: "127.0.0.1",
      http_listen_port: LOKI_HTTP_PORT,
      grpc_listen_address: "127.0.0.1",
      grpc_listen_port: LOKI_GRPC_PORT,
    });
    expect(config.common.instance_addr).toBe("127.0.0.1");
    expect(config.analytics).toEqual({ reporting_enabled: false });
  });

  test("filesystem storage on the volume, a TSDB index with schema v13 and a 24 h period", () => {
    expect(config.common.storage.filesystem).toEqual({
      chunks_directory: `${LOKI_DATA_DIR}/chunks`,
      rules_directory: `${LOKI_DATA_DIR}/rules`,
    });
    expect(config.common.ring.kvstore.store).toBe("inmemory");
    expect(config.schema_config.configs).toEqual([
      {
        from: "2025-01-01",
        store: "tsdb",
        object_store: "filesystem",
        schema: "v13",
        index: { prefix: "index_", period: "24h" },
      },
    ]);
  });

  test("retention is the compactor's, with the delete request store Loki 3 requires, for the trail's days", () => {
    expect(config.compactor).toMatchObject({
      retention_enabled: true,
      delete_request_store: "filesystem",
      working_directory: `${LOKI_DATA_DIR}/compactor`,
    });
    expect(config.limits_config.retention_period).toBe(`${365 * 24}h`);
    expect(
      parse(renderLokiConfig({ retentionDays: 90, schemaFrom: "2025-01-01" })).limits_config.retention_period,
    ).toBe("2160h");
  });

  test("a schema start that is not a date is refused", () => {
    expect(() => renderLokiConfig({ retentionDays: 90, schemaFrom: "yesterday" })).toThrow(/YYYY-MM-DD/);
  });
});

describe("renderLokiGatewayNginxConfig", () => {
  const base = {
    listenPort: 3100,
    healthPort: 8081,
    lokiUpstream: "127.0.0.1:3101",
    configDir: "/etc/zta",
    runDir: "/tmp",
    accessLog: "/dev/stdout",
    errorLog: "/dev/stderr",
  };
  const writer = "CN=zta-audit-collector,OU=zta-services,O=cdktf-zero-trust-ai";
  const reader = "CN=zta-grafana,OU=zta-services,O=cdktf-zero-trust-ai";

  test("roles come from the subject alone; the path checked is the path passed on", () => {
    const conf = renderLokiGatewayNginxConfig({ ...base, writerSubjects: [writer], readerSubjects: [reader] });
    expect(conf).toContain(`"${writer}" writer;`);
    expect(conf).toContain(`"${reader}" reader;`);
    expect(conf).toContain("proxy_pass http://zta_loki$uri$is_args$args;");
    expect(conf).toContain("ssl_verify_client on;");
  });

  test("no writer, or one subject both writing and reading, is refused", () => {
    expect(() => renderLokiGatewayNginxConfig({ ...base, writerSubjects: [], readerSubjects: [reader] })).toThrow(
      /no writer/,
    );
    expect(() => renderLokiGatewayNginxConfig({ ...base, writerSubjects: [writer], readerSubjects: [writer] })).toThrow(
      /both write and read/,
    );
  });
});

/**
 * The saved queries cannot run against a Loki here. A small evaluator of the LogQL they use (stream selector,
 * `|=` line filters, `| json`, label filters with =, !=, =~, !~, and/or, parentheses), written from Loki's
 * LogQL reference (read), runs them over schema-valid sample lines of each event type. It refuses and/or mixed
 * without parentheses: Loki's right-to-left precedence there is easy to misread.
 */
type Token = { kind: "selector" | "string" | "word" | "op" | "(" | ")" | "|" | "|="; text: string };

function tokenize(query: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query[i];
    if (/\s/.test(ch)) i++;
    else if (ch === "{") {
      const end = query.indexOf("}", i);
      out.push({ kind: "selector", text: query.slice(i + 1, end) });
      i = end + 1;
    } else if (query.startsWith("|=", i)) {
      out.push({ kind: "|=", text: "|=" });
      i += 2;
    } else if (ch === "|" || ch === "(" || ch === ")") {
      out.push({ kind: ch, text: ch });
      i++;
    } else if (ch === "`") {
      const end = query.indexOf("`", i + 1);
      if (end < 0) throw new Error(`unterminated backtick string in ${query}`);
      out.push({ kind: "string", text: query.slice(i + 1, end) });
      i = end + 1;
    } else if (ch === '"') {
      let end = i + 1;
      while (query[end] !== '"') end += query[end] === "\\" ? 2 : 1;
      out.push({ kind: "string", text: JSON.parse(query.slice(i, end + 1)) });
      i = end + 1;
    } else if (/[=!]/.test(ch)) {
      const two = query.slice(i, i + 2);
      const op = ["!=", "=~", "!~"].includes(two) ? two : "=";
      out.push({ kind: "op", text: op });
      i += op.length;
    } else if (/\w/.test(ch)) {
      const word = /^\w+/.exec(query.slice(i))![0];
      out.push({ kind: "word", text: word });
      i += word.length;
    } else throw new Error(`unexpected ${ch} in ${query}`);
  }
  return out;
}

type Labels = Record<string, string>;
type Filter = (labels: Labels) => boolean;

function matcher(name: string, op: string, value: string): Filter {
  const re = new RegExp(`^(?:${value})$`);
  return (l) => {
    const v = l[name] ?? "";
    return op === "=" ? v === value : op === "!=" ? v !== value : op === "=~" ? re.test(v) : !re.test(v);
  };
}

/** Loki's json parser: nested keys joined by `_`, other characters `_`, arrays and nulls skipped; a clash gets `_extracted`. */
function flatten(value: unknown, prefix: string, into: Labels, stream: Labels): void {
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = `${prefix}${k.replace(/[^A-Za-z0-9_]/g, "_")}`;
    if (v === null || Array.isArray(v)) continue;
    if (typeof v === "object") flatten(v, `${key}_`, into, stream);
    else into[key in stream ? `${key}_extracted` : key] = String(v);
  }
}

/** Compiles a query of that subset into a predicate over (stream labels, line). */
function compile(query: string): (stream: Labels, line: string) => boolean {
  const t = tokenize(query);
  let i = 0;
  const expect = (kind: Token["kind"], text?: string): Token => {
    const tok = t[i++];
    if (!tok || tok.kind !== kind || (text !== undefined && tok.text !== text))
      throw new Error(`expected ${text ?? kind} at token ${i - 1} of ${query}, got ${tok?.text}`);
    return tok;
  };
  const selector = [...expect("selector").text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => matcher(m[1], "=", m[2]));
  const atom = (): Filter => {
    if (t[i]?.kind === "(") {
      i++;
      const inner = expression();
      expect(")");
      return inner;
    }
    const name = expect("word").text;
    const op = expect("op").text;
    return matcher(name, op, expect("string").text);
  };
  const expression = (): Filter => {
    const parts = [atom()];
    let joiner: string | undefined;
    while (t[i]?.kind === "word" && (t[i].text === "and" || t[i].text === "or")) {
      if (joiner !== undefined && joiner !== t[i].text) throw new Error(`and/or mixed without parentheses in ${query}`);
      joiner = t[i++].text;
      parts.push(atom());
    }
    return joiner === "or" ? (l) => parts.some((p) => p(l)) : (l) => parts.every((p) => p(l));
  };
  const stages: ((s: { labels: Labels; line: string }) => boolean)[] = [];
  while (i < t.length) {
    if (t[i].kind === "|=") {
      i++;
      const needle = expect("string").text;
      stages.push((s) => s.line.includes(needle));
      continue;
    }
    expect("|");
    if (t[i]?.kind === "word" && t[i].text === "json" && (t[i + 1] === undefined || t[i + 1].kind === "|")) {
      i++;
      stages.push((s) => {
        try {
          const parsed: unknown = JSON.parse(s.line);
          if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
            flatten(parsed, "", s.labels, { ...s.labels });
          else s.labels.__error__ = "JSONParserErr";
        } catch {
          s.labels.__error__ = "JSONParserErr";
        }
        return true;
      });
      continue;
    }
    const filter = expression();
    stages.push((s) => filter(s.labels));
  }
  return (stream, line) => {
    const state = { labels: { ...stream }, line };
    return selector.every((m) => m(stream)) && stages.every((stage) => stage(state));
  };
}

/** A line of event type `name` with every schema field (first allowed value, or a neutral one), then `overrides`. */
function sampleLine(name: string, overrides: Record<string, unknown> = {}): string {
  const type = auditEventType(name)!;
  const event: Record<string, any> = {};
  const set = (path: string, value: unknown) => {
    const parts = path.split(".");
    let at = event;
    for (const p of parts.slice(0, -1)) at = at[p] ??= {};
    at[parts[parts.length - 1]] = value;
  };
  for (const f of type.fields) {
    const neutral = { string: "v", integer: 200, number: 0.5, object: {}, array: ["v"] }[f.type as string];
    if (f.type === "object" && f.path.split(".").reduce<any>((o, p) => o?.[p], event) !== undefined) continue;
    set(f.path, f.oneOf?.[0] ?? neutral);
  }
  for (const [path, value] of Object.entries(overrides)) set(path, value);
  expect({ name, problems: checkAuditEvent(name, event) }).toEqual({ name, problems: [] });
  return JSON.stringify(event);
}

const STREAM = { job: LOKI_JOB, container: "inference-edge", stream: "info" };
/** The saved query `id` (its `$identity` set to `identity`) over each line: which ones it selects. */
function selects(id: string, lines: Record<string, string>, identity = "alice@example.com"): string[] {
  const run = compile(auditLogql(id, identity));
  return Object.entries(lines)
    .filter(([, line]) => run(STREAM, line))
    .map(([key]) => key);
}

describe("the saved LogQL queries, over sample lines of each event type", () => {
  test("every query parses in the subset, starts at the trail's stream and parses JSON before its label filters", () => {
    expect(AUDIT_LOGQL_QUERIES.map((q) => q.id)).toEqual([
      "identity",
      "refused",
      "tool-failures",
      "config-changes",
      "trail-reads",
    ]);
    for (const q of AUDIT_LOGQL_QUERIES) {
      expect(q.expr.startsWith(`{job="${LOKI_JOB}"}`)).toBe(true);
      expect(() => compile(q.expr)).not.toThrow();
    }
    expect(compile(`{job="${LOKI_JOB}"}`)({ job: "other" }, "{}")).toBe(false);
  });

  test("the evaluator refuses and/or mixed without parentheses (so the check above means something)", () => {
    expect(() => compile('{job="x"} | json | a="1" or b="2" and c="3"')).toThrow(/parentheses/);
  });

  test("everything one identity did: sidecar identity, gate user, edge certificate CN, chat UI user, gateway app", () => {
    const lines = {
      sidecar: sampleLine("inference.call", { identity: "alice@example.com" }),
      gate: sampleLine("auth.signin", { user: "alice@example.com" }),
      edge: sampleLine("edge.request", {
        logger: "http.log.access.log0",
        "request.tls.client_common_name": "alice@example.com",
      }),
      chat: sampleLine("config.change", { "user.email": "alice@example.com" }),
      gateway: sampleLine("gateway.call", { app: "alice@example.com" }),
      someoneElse: sampleLine("inference.call", { identity: "bob@example.com" }),
      refusedSidecar: sampleLine("inference.refused", { identity: "" }),
      notJson: "alice@example.com did something",
    };
    expect(selects("identity", lines)).toEqual(["sidecar", "gate", "edge", "chat", "gateway"]);
    // An empty box finds nothing, not every line without an identity.
    expect(selects("identity", lines, "")).toEqual([]);
  });

  test("failed sign-ins and refused attempts: the gate's failures, the edge's 401/403, refused reads of the trail", () => {
    const lines = {
      gateFailure: sampleLine("auth.failed", { status: "AuthFailure" }),
      gateError: sampleLine("auth.failed", { status: "AuthError" }),
      gateSuccess: sampleLine("auth.signin"),
      edge401: sampleLine("auth.refused", { logger: "http.log.access.log0", status: 401 }),
      edge403: sampleLine("auth.refused", { logger: "http.log.access", status: 403 }),
      edge200: sampleLine("edge.request", { logger: "http.log.access.log0", status: 200 }),
      otherLogger401: sampleLine("edge.request", { logger: "http.handlers.x", status: 401 }),
      trail403: sampleLine("audit.read", { status: 403 }),
      trail200: sampleLine("audit.read", { status: 200 }),
    };
    expect(selects("refused", lines)).toEqual(["gateFailure", "gateError", "edge401", "edge403", "trail403"]);
  });

  test("tool runs that did not exit 0", () => {
    const lines = {
      failed: sampleLine("tool.run", { exit_code: 1 }),
      killed: sampleLine("tool.run", { exit_code: 137 }),
      ok: sampleLine("tool.run", { exit_code: 0 }),
      backupFailed: JSON.stringify({ event: "zta.backup", exit_code: 1 }),
    };
    expect(selects("tool-failures", lines)).toEqual(["failed", "killed"]);
  });

  test("configuration changes: config.deployed and Open WebUI's audit lines", () => {
    const lines = {
      deployed: sampleLine("config.deployed"),
      chatChange: sampleLine("config.change"),
      gate: sampleLine("gate.request"),
      tool: sampleLine("tool.run"),
    };
    expect(selects("config-changes", lines)).toEqual(["deployed", "chatChange"]);
  });

  test("who read the trail: the Loki gateway's own lines", () => {
    const lines = {
      read: sampleLine("audit.read"),
      refused: sampleLine("audit.read", { status: 403 }),
      sidecar: sampleLine("inference.call"),
    };
    expect(selects("trail-reads", lines)).toEqual(["read", "refused"]);
  });
});
