/**
 * Every check `zta-probe` runs, in the order it runs them, in one typed table: the command runs it,
 * and the list in docs/probe.md is rendered from it (scripts/probe-checks.ts), so the
 * documented list cannot drift from what runs. Each check sends a bounded number of requests, only
 * to the hosts the user named, and returns what it sent, what it expected and what it got.
 */
import * as fs from "fs";
import { randomBytes } from "crypto";
import { InferenceRoutes } from "../../constructs/secure-inference";
import { SPOOFABLE_IDENTITY_HEADERS } from "../headers";
import { Exchange, Identity, ProbeClient, ProbeRequest, describe } from "./client";
import { ProbeCertificates } from "./x509";

export type CheckGroup = "TLS" | "mTLS" | "Authentication" | "Routes" | "Streaming" | "Metrics" | "Limits";

/**
 * What a check needs beyond the target and the operator bundle:
 * - `session`: a way to pass authentication (`--token`, or `--no-oidc` where the certificate is the identity);
 * - `oidc`: the deployment has an OIDC gate (not `--no-oidc`);
 * - `scraper-bundle`, `sidecar`, `chat`, `audit-log`: the options of those names.
 */
export type CheckNeed = "session" | "oidc" | "scraper-bundle" | "sidecar" | "chat" | "audit-log";

/** A client identity with the CA that issued it (an operator's `terraform output -json` bundle). */
export interface Bundle extends Identity {
  readonly caPem: string;
  /** The certificate's subject fields, copied into the probe's own bad certificates. */
  readonly subject: [string, string][];
}

export interface ProbeContext {
  readonly client: ProbeClient;
  readonly target: URL;
  readonly bundle: Bundle;
  readonly token?: string;
  readonly oidc: boolean;
  readonly scraper?: Bundle;
  readonly sidecar?: URL;
  readonly chat?: URL;
  readonly auditLog?: string;
  /** The allowlist the deployment forwards (SecureInference `routes`). */
  readonly routes: string[];
  readonly maxBodyMb: number;
  readonly maxRequests: number;
  readonly model?: string;
  readonly certs: () => ProbeCertificates;
}

export interface Outcome {
  readonly pass: boolean;
  readonly sent: string;
  readonly expected: string;
  readonly got: string;
}

export interface Check {
  readonly id: string;
  readonly group: CheckGroup;
  readonly title: string;
  /** For docs/probe.md: what is sent, what must come back, and why it matters. */
  readonly sends: string;
  readonly expects: string;
  readonly meaning: string;
  readonly needs: CheckNeed[];
  run(ctx: ProbeContext): Promise<Outcome>;
}

/** vLLM's routes outside the OpenAI API (read in vllm/entrypoints/openai/api_server.py and its routers): none may be reachable. */
export const VLLM_UNLISTED_ROUTES = [
  "/tokenize",
  "/detokenize",
  "/pause",
  "/resume",
  "/update_weights",
  "/load",
  "/invocations",
  "/pooling",
  "/classify",
  "/score",
  "/rerank",
  "/collective_rpc",
  "/sleep",
  "/wake_up",
  "/is_sleeping",
  "/reset_prefix_cache",
  "/v1/load_lora_adapter",
  "/v1/unload_lora_adapter",
  "/version",
  "/metrics",
  "/docs",
  "/redoc",
  "/openapi.json",
];
const GET_ROUTES = new Set(["/version", "/metrics", "/docs", "/redoc", "/openapi.json", "/is_sleeping"]);

/** Ways to spell /tokenize that a careless matcher or normalizer could let through. */
export const PATH_TRICKS = [
  "//tokenize",
  "/./tokenize",
  "/v1/../tokenize",
  "/v1/%2e%2e/tokenize",
  "/v1/models/%2E%2E/%2E%2E/tokenize",
  "/%2Ftokenize",
  "/v1%2F..%2Ftokenize",
  "/TOKENIZE",
  "/Tokenize",
  "/tokenize/",
  "/tokenize;.json",
  "/v1/models;/../../tokenize",
  "/v1/models/..;/..;/tokenize",
];

/** A path no deployment routes: the edge's own 404. */
const UNROUTED = "/zta-probe-not-a-route";

const bearer = (ctx: ProbeContext): Record<string, string> =>
  ctx.token ? { Authorization: `Bearer ${ctx.token}` } : {};

/** A request to the target as the operator, with the token unless `anonymous`. */
function api(
  ctx: ProbeContext,
  path: string,
  r: Partial<ProbeRequest> & { anonymous?: boolean } = {},
): Promise<Exchange> {
  const { anonymous, ...rest } = r;
  return ctx.client.send({
    url: ctx.target,
    rawPath: path,
    ca: ctx.bundle.caPem,
    identity: ctx.bundle,
    ...rest,
    headers: { ...(anonymous ? {} : bearer(ctx)), ...(r.headers ?? {}) },
  });
}

const jsonBody = (value: unknown) => ({ headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });

function list(items: string[], max = 6): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")}, ... (${items.length} in all)`;
}

/**
 * The chain's own refusals are 400/404 without a JSON body (Caddy's `respond 404`, nginx's
 * `return 404`); vLLM (FastAPI) answers JSON, so a JSON 404 means the request got through.
 */
function refusedByChain(e: Exchange): boolean {
  return (e.status === 400 || e.status === 404) && !/json/i.test(header(e, "content-type") ?? "");
}

/** "no HTTP answer" is the refusal a TLS-level check wants. */
function refusedAtTls(e: Exchange): boolean {
  return e.status === undefined && e.error !== undefined && !/TIMEOUT/.test(e.error);
}

async function statuses(
  ctx: ProbeContext,
  paths: string[],
  method: (p: string) => string,
  ok: (e: Exchange) => boolean,
): Promise<{ bad: string[]; seen: string[] }> {
  const bad: string[] = [];
  const seen: string[] = [];
  for (const p of paths) {
    const m = method(p);
    const e = await api(ctx, p, { method: m, ...(m === "POST" ? jsonBody({}) : {}) });
    const line = `${m} ${p} -> ${describe(e)}${/json/i.test(header(e, "content-type") ?? "") ? " (JSON: from upstream)" : ""}`;
    seen.push(line);
    if (!ok(e)) bad.push(line);
  }
  return { bad, seen };
}

function header(e: Exchange, name: string): string | undefined {
  const v = e.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** Reads the audit log's lines written after `offset` (bytes), waiting a bounded time for at least one. */
async function auditLinesAfter(file: string, offset: number): Promise<string[]> {
  for (let i = 0; i < 40; i++) {
    const size = fs.statSync(file).size;
    if (size > offset) {
      const fd = fs.openSync(file, "r");
      try {
        const buf = Buffer.alloc(Math.min(size - offset, 1024 * 1024));
        fs.readSync(fd, buf, 0, buf.length, offset);
        const lines = buf
          .toString()
          .split("\n")
          .filter((l) => l.trim() !== "");
        if (lines.length > 0) return lines;
      } finally {
        fs.closeSync(fd);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return [];
}

export const CHECKS: Check[] = [
  // ------------------------------------------------------------------ TLS
  {
    id: "tls-protocol-floor",
    group: "TLS",
    title: "TLS 1.0 and 1.1 are refused",
    sends: "a TLS 1.0 and a TLS 1.1 handshake (the probe's own client allows them)",
    expects: "both handshakes fail",
    meaning: "Old protocol versions have known attacks; the edge offers TLS 1.2 and 1.3 only.",
    needs: [],
    async run(ctx) {
      const got: string[] = [];
      let pass = true;
      for (const version of ["TLSv1", "TLSv1.1"] as const) {
        const e = await api(ctx, UNROUTED, {
          minVersion: version,
          maxVersion: version,
          skipNameCheck: true,
          anonymous: true,
        });
        if (e.tlsProtocol !== undefined) {
          pass = false;
          got.push(`${version}: handshake completed (${e.tlsProtocol})`);
        } else got.push(`${version}: refused (${e.error})`);
      }
      return { pass, sent: "TLS 1.0 and TLS 1.1 ClientHello", expected: "both refused", got: got.join("; ") };
    },
  },
  {
    id: "tls-server-certificate",
    group: "TLS",
    title: "The server certificate chains to the bundle's CA and names the host",
    sends: "a TLS 1.2+ handshake verified against `ca_certificate_pem` for the URL's hostname",
    expects: "the handshake verifies",
    meaning: "Clients can pin the internal CA: a man in the middle without it cannot pose as the edge.",
    needs: [],
    async run(ctx) {
      const e = await api(ctx, UNROUTED, { anonymous: true });
      const p = e.peer;
      const names = p?.subjectaltname ?? "no SAN";
      const got = e.tlsProtocol
        ? `${e.tlsProtocol}, subject CN=${p?.subject?.CN}, issuer CN=${p?.issuer?.CN}, ${names}`
        : `not verified (${e.error})`;
      return {
        pass: e.tlsProtocol !== undefined,
        sent: `handshake to ${ctx.target.hostname}, CA from the bundle`,
        expected: "verified chain and name",
        got,
      };
    },
  },
  {
    id: "tls-hsts",
    group: "TLS",
    title: "HSTS is sent",
    sends: "a request to an unrouted path and one to `/v1/models`",
    expects: "`Strict-Transport-Security` with a max-age of at least one day on both",
    meaning: "Browsers that once reached the site never fall back to plain HTTP.",
    needs: [],
    async run(ctx) {
      const got: string[] = [];
      let pass = true;
      for (const p of [UNROUTED, "/v1/models"]) {
        const e = await api(ctx, p);
        const hsts = header(e, "strict-transport-security");
        const age = Number(/max-age=(\d+)/i.exec(hsts ?? "")?.[1] ?? 0);
        if (age < 86400) pass = false;
        got.push(`${p} -> ${describe(e)}, ${hsts === undefined ? "no HSTS" : `HSTS "${hsts}"`}`);
      }
      return { pass, sent: `GET ${UNROUTED}, GET /v1/models`, expected: "HSTS max-age >= 86400", got: got.join("; ") };
    },
  },
  {
    id: "tls-server-header",
    group: "TLS",
    title: "No software version in `Server`",
    sends: "a request to an unrouted path and one to `/v1/models` (proxied to the sidecar)",
    expects: "no `Server` header, or one without a version",
    meaning: "A version string tells an attacker which CVEs to try.",
    needs: [],
    async run(ctx) {
      const got: string[] = [];
      let pass = true;
      for (const p of [UNROUTED, "/v1/models"]) {
        const e = await api(ctx, p);
        const server = header(e, "server");
        if (server !== undefined && /\d/.test(server)) pass = false;
        got.push(`${p} -> ${describe(e)}, ${server === undefined ? "no Server header" : `Server "${server}"`}`);
      }
      return { pass, sent: `GET ${UNROUTED}, GET /v1/models`, expected: "no version in Server", got: got.join("; ") };
    },
  },
  // ------------------------------------------------------------------ mTLS
  {
    id: "mtls-no-certificate",
    group: "mTLS",
    title: "No client certificate: refused",
    sends: "`GET /v1/models` without a client certificate (with the token, if given)",
    expects: "the TLS handshake fails: no HTTP answer at all",
    meaning: "Only devices holding a certificate of the internal CA get as far as HTTP.",
    needs: [],
    async run(ctx) {
      const e = await api(ctx, "/v1/models", { identity: undefined });
      return {
        pass: refusedAtTls(e),
        sent: "GET /v1/models, no client certificate",
        expected: "refused at TLS",
        got: describe(e),
      };
    },
  },
  {
    id: "mtls-foreign-ca",
    group: "mTLS",
    title: "A certificate from a foreign CA: refused",
    sends: "`GET /v1/models` with a client certificate the probe issued from its own CA, same subject as the bundle's",
    expects: "the TLS handshake fails",
    meaning: "The edge trusts the internal CA alone, not any well-formed certificate.",
    needs: [],
    async run(ctx) {
      const c = ctx.certs().foreignClient;
      const e = await api(ctx, "/v1/models", { identity: c });
      return {
        pass: refusedAtTls(e),
        sent: "GET /v1/models, foreign-CA certificate",
        expected: "refused at TLS",
        got: describe(e),
      };
    },
  },
  {
    id: "mtls-time-invalid",
    group: "mTLS",
    title: "Expired and not-yet-valid certificates: refused",
    sends: "`GET /v1/models` with an expired and with a not-yet-valid client certificate from a throwaway CA",
    expects: "both TLS handshakes fail",
    meaning:
      "Certificate verification is on, dates included. Without the deployment's CA key the probe cannot sign a " +
      "time-invalid certificate the edge would otherwise trust, so this check fails on an edge that accepts any " +
      "certificate, as mtls-foreign-ca does; it cannot isolate a date check alone.",
    needs: [],
    async run(ctx) {
      const got: string[] = [];
      let pass = true;
      for (const [label, c] of [
        ["expired", ctx.certs().expiredClient],
        ["not yet valid", ctx.certs().futureClient],
      ] as const) {
        const e = await api(ctx, "/v1/models", { identity: c });
        if (!refusedAtTls(e)) pass = false;
        got.push(`${label}: ${describe(e)}`);
      }
      return {
        pass,
        sent: "GET /v1/models, expired / not-yet-valid certificate",
        expected: "both refused at TLS",
        got: got.join("; "),
      };
    },
  },
  {
    id: "mtls-other-sni",
    group: "mTLS",
    title: "Another site's SNI does not carry a request into the API",
    sends:
      "`GET /v1/models` with the token and no client certificate, SNI = the `--chat` host (a site that does not " +
      "require certificates) or `zta-probe-other.invalid`, Host = the target",
    expects: "refused at TLS, or a 4xx other than 401 (Caddy's strict SNI host check answers 421)",
    meaning:
      "Client certificates are enforced per TLS policy, chosen by SNI; a 401 or 2xx here means the request reached " +
      "the API site through a policy that never asked for a certificate.",
    needs: [],
    async run(ctx) {
      const sni = ctx.chat?.hostname ?? "zta-probe-other.invalid";
      const e = await api(ctx, "/v1/models", { servername: sni, skipNameCheck: true, identity: undefined });
      const pass =
        e.status === undefined ? e.error !== undefined : e.status >= 400 && e.status < 500 && e.status !== 401;
      return {
        pass,
        sent: `SNI ${sni}, no client certificate, Host = target`,
        expected: "refused, or 4xx but not 401",
        got: describe(e),
      };
    },
  },
  {
    id: "mtls-host-mismatch",
    group: "mTLS",
    title: "Host differs from SNI: refused",
    sends: "`GET /v1/models` with SNI = the target and `Host: zta-probe-other.invalid`",
    expects: "a 4xx (Caddy's strict SNI host check answers 421 or 403)",
    meaning: "A client authenticated for one site cannot route into another site of the edge by naming it in Host.",
    needs: [],
    async run(ctx) {
      const e = await api(ctx, "/v1/models", { host: "zta-probe-other.invalid" });
      const pass = e.status !== undefined && e.status >= 400 && e.status < 500;
      return { pass, sent: "SNI = target, Host zta-probe-other.invalid", expected: "4xx", got: describe(e) };
    },
  },
  // ------------------------------------------------------------------ Authentication
  {
    id: "auth-no-token",
    group: "Authentication",
    title: "The bundle without a token: 401 on every allowlisted route",
    sends: "each allowlisted route with the client certificate and no token",
    expects: "401 on each",
    meaning: "The certificate admits a device; every API call still needs a signed-in user (OIDC).",
    needs: ["oidc"],
    async run(ctx) {
      const got: string[] = [];
      let pass = true;
      for (const route of ctx.routes) {
        const method = route === "/v1/models" ? "GET" : "POST";
        const e = await api(ctx, route, { method, anonymous: true, ...(method === "POST" ? jsonBody({}) : {}) });
        if (e.status !== 401) pass = false;
        got.push(`${method} ${route} -> ${describe(e)}`);
      }
      return { pass, sent: `${ctx.routes.length} routes, no token`, expected: "401 each", got: got.join("; ") };
    },
  },
  {
    id: "auth-token",
    group: "Authentication",
    title: "The bundle with the token: 200",
    sends: "`GET /v1/models` with the client certificate and `Authorization: Bearer <token>`",
    expects: "200 with a model list",
    meaning: "The positive control: the refusals above are the chain's, not a broken deployment's.",
    needs: ["session"],
    async run(ctx) {
      const e = await api(ctx, "/v1/models");
      let models: string[] = [];
      try {
        models = (JSON.parse(e.body).data ?? []).map((m: { id: string }) => m.id);
      } catch {
        // not JSON: reported below
      }
      return {
        pass: e.status === 200 && models.length > 0,
        sent: "GET /v1/models with token",
        expected: "200 with models",
        got: `${describe(e)}, models: ${list(models) || "none"}`,
      };
    },
  },
  {
    id: "auth-spoofed-headers",
    group: "Authentication",
    title: "Spoofed identity headers without a session: still 401",
    sends: `\`GET /v1/models\` with no token and ${SPOOFABLE_IDENTITY_HEADERS.length} identity headers (\`X-Auth-Request-User\`, \`X-Forwarded-User\`, \`X-ZTA-Identity\`, ...) set`,
    expects: "401",
    meaning:
      "The edge deletes client copies of identity headers before asking the gate; a header cannot sign anyone in.",
    needs: ["oidc"],
    async run(ctx) {
      const spoof = Object.fromEntries(SPOOFABLE_IDENTITY_HEADERS.map((h) => [h, "admin@example.com"]));
      const e = await api(ctx, "/v1/models", { anonymous: true, headers: spoof });
      return {
        pass: e.status === 401,
        sent: `GET /v1/models, no token, ${SPOOFABLE_IDENTITY_HEADERS.length} spoofed headers`,
        expected: "401",
        got: describe(e),
      };
    },
  },
  {
    id: "auth-spoofed-identity",
    group: "Authentication",
    title: "Spoofed identity headers with a session never reach the upstream",
    sends: "`GET /v1/models` with the token and every identity header set to a marker value",
    expects: "200, and the sidecar's audit log (`--audit-log`) records an identity without the marker",
    meaning:
      "The identity the upstream sees comes from the gate (or the certificate) alone. Observed in the sidecar's JSON " +
      "access log: pass its file with `--audit-log` (e.g. `docker logs -f <prefix>-vllm-0-mtls > audit.log`).",
    needs: ["session", "audit-log"],
    async run(ctx) {
      const marker = `zta-probe-spoof-${randomBytes(4).toString("hex")}`;
      const spoof = Object.fromEntries(
        SPOOFABLE_IDENTITY_HEADERS.map((h) => [h, /email/i.test(h) ? `${marker}@probe.invalid` : marker]),
      );
      const file = ctx.auditLog!;
      const offset = fs.statSync(file).size;
      const e = await api(ctx, "/v1/models", { headers: spoof });
      const lines = await auditLinesAfter(file, offset);
      const spoofed = lines.filter((l) => l.includes(marker));
      const identities = lines.map((l) => {
        try {
          return String(JSON.parse(l).identity);
        } catch {
          return "(not JSON)";
        }
      });
      const pass = e.status === 200 && lines.length > 0 && spoofed.length === 0;
      const got =
        lines.length === 0
          ? `${describe(e)}; the audit log got no new line (is --audit-log the sidecar's access log?)`
          : `${describe(e)}; audit identity: ${list(identities)}${spoofed.length ? `; MARKER FOUND: ${spoofed[0]}` : ""}`;
      return {
        pass,
        sent: "GET /v1/models with token and spoofed headers",
        expected: "200, marker absent from the audit log",
        got,
      };
    },
  },
  {
    id: "auth-browser-redirect",
    group: "Authentication",
    title: "Browser site without a session: redirect to sign-in",
    sends: "`GET /` on the `--chat` site with the client certificate and no session",
    expects: "a 302 to `/oauth2/start`",
    meaning: "Browser apps send people to the identity provider; nothing of the app is served without a session.",
    needs: ["chat"],
    async run(ctx) {
      const e = await ctx.client.send({ url: ctx.chat!, rawPath: "/", ca: ctx.bundle.caPem, identity: ctx.bundle });
      const location = header(e, "location") ?? "";
      const pass = e.status !== undefined && [302, 303, 307].includes(e.status) && location.includes("/oauth2/start");
      return {
        pass,
        sent: `GET ${ctx.chat!.origin}/ without a session`,
        expected: "302 to /oauth2/start",
        got: `${describe(e)}${location ? ` Location: ${location}` : ""}`,
      };
    },
  },
  // ------------------------------------------------------------------ Routes
  {
    id: "routes-unlisted",
    group: "Routes",
    title: "vLLM routes outside the allowlist: 404",
    sends: `each of ${VLLM_UNLISTED_ROUTES.length} vLLM routes outside the OpenAI API (\`/tokenize\`, \`/pause\`, \`/update_weights\`, \`/metrics\`, \`/docs\`, ...) and every OpenAI route not in \`--routes\`, with the token`,
    expects: "404 from the chain (not a JSON 404 from vLLM) on each",
    meaning:
      "vLLM's --api-key guards only /v1; its admin and tokenizer routes are open. The chain forwards the allowlist alone.",
    needs: [],
    async run(ctx) {
      const extra = InferenceRoutes.ALL_OPENAI.filter((r) => !ctx.routes.includes(r));
      const paths = [...VLLM_UNLISTED_ROUTES, ...extra];
      const { bad, seen } = await statuses(ctx, paths, (p) => (GET_ROUTES.has(p) ? "GET" : "POST"), refusedByChain);
      return {
        pass: bad.length === 0,
        sent: `${paths.length} routes`,
        expected: "404 each",
        got: bad.length ? `not 404: ${list(bad)}` : `404 on all ${seen.length}`,
      };
    },
  },
  {
    id: "routes-path-tricks",
    group: "Routes",
    title: "Path tricks do not reach vLLM",
    sends: `${PATH_TRICKS.length} spellings of \`/tokenize\`: \`//tokenize\`, \`/v1/../tokenize\`, \`%2e%2e\`, \`%2F\`, case variants, a trailing slash, \`;\` suffixes`,
    expects: "400 or 404 from the chain on each",
    meaning: "Matching and normalization agree on every hop: no encoding routes a blocked path past the allowlist.",
    needs: [],
    async run(ctx) {
      const { bad, seen } = await statuses(ctx, PATH_TRICKS, () => "POST", refusedByChain);
      return {
        pass: bad.length === 0,
        sent: `${PATH_TRICKS.length} paths`,
        expected: "400/404 each",
        got: bad.length ? `let through: ${list(bad)}` : `refused all ${seen.length}`,
      };
    },
  },
  {
    id: "routes-methods",
    group: "Routes",
    title: "HEAD, OPTIONS and TRACE do not reach vLLM",
    sends: "`HEAD`, `OPTIONS` and `TRACE /tokenize`; `TRACE /v1/models`",
    expects: "404 on /tokenize; a 4xx on TRACE /v1/models, never an echo",
    meaning:
      "Another method is not another way past the allowlist, and TRACE never reflects headers (cookies, tokens).",
    needs: [],
    async run(ctx) {
      const got: string[] = [];
      let pass = true;
      for (const method of ["HEAD", "OPTIONS", "TRACE"]) {
        const e = await api(ctx, "/tokenize", { method });
        if (!refusedByChain(e)) pass = false;
        got.push(`${method} /tokenize -> ${describe(e)}`);
      }
      const trace = await api(ctx, "/v1/models", { method: "TRACE" });
      if (
        trace.status === undefined ||
        trace.status < 400 ||
        trace.status >= 500 ||
        trace.body.includes("TRACE /v1/models")
      )
        pass = false;
      got.push(`TRACE /v1/models -> ${describe(trace)}`);
      return {
        pass,
        sent: "HEAD/OPTIONS/TRACE /tokenize, TRACE /v1/models",
        expected: "404 / 4xx",
        got: got.join("; "),
      };
    },
  },
  // ------------------------------------------------------------------ Streaming
  {
    id: "stream-token-by-token",
    group: "Streaming",
    title: "A streamed completion arrives token by token",
    sends: "`POST /v1/chat/completions` with `stream: true` for `--model` (default: the first of `/v1/models`)",
    expects: "200 `text/event-stream`, events spread over several reads, the first long before the last",
    meaning:
      "No hop buffers the stream (nginx's default proxy_buffering, Caddy's encode would hold every token to the end).",
    needs: ["session"],
    async run(ctx) {
      let model = ctx.model;
      if (!model) {
        const m = await api(ctx, "/v1/models");
        try {
          model = JSON.parse(m.body).data?.[0]?.id;
        } catch {
          // reported below
        }
        if (!model)
          return {
            pass: false,
            sent: "GET /v1/models",
            expected: "a model to stream from",
            got: `${describe(m)}, no model (pass --model)`,
          };
      }
      const e = await api(ctx, "/v1/chat/completions", {
        method: "POST",
        ...jsonBody({
          model,
          stream: true,
          max_tokens: 32,
          messages: [{ role: "user", content: "Count from 1 to 30." }],
        }),
      });
      const eventReads = e.reads.filter((r) => r.text.includes("data:"));
      const events = e.reads.reduce((n, r) => n + (r.text.match(/^data:/gm) ?? []).length, 0);
      const first = eventReads[0]?.atMs ?? 0;
      const type = header(e, "content-type") ?? "";
      const pass =
        e.status === 200 && type.startsWith("text/event-stream") && eventReads.length >= 2 && first < 0.75 * e.totalMs;
      return {
        pass,
        sent: `POST /v1/chat/completions stream=true model=${model}`,
        expected: "events over >= 2 reads, first before 75% of the total time",
        got: `${describe(e)} ${type || "no content-type"}, ${events} events in ${eventReads.length} reads, first at ${first} ms of ${e.totalMs} ms`,
      };
    },
  },
  // ------------------------------------------------------------------ Metrics
  {
    id: "metrics-not-at-edge",
    group: "Metrics",
    title: "`/metrics` is not served at the edge, even to the scraper",
    sends: "`GET /metrics` at the target with the `--scraper-bundle` identity",
    expects: "404",
    meaning: "Metrics leak model names, load and timings; only the internal scraper reads them, at the sidecars.",
    needs: ["scraper-bundle"],
    async run(ctx) {
      const e = await ctx.client.send({
        url: ctx.target,
        rawPath: "/metrics",
        ca: ctx.scraper!.caPem,
        identity: ctx.scraper!,
      });
      return {
        pass: e.status === 404,
        sent: "GET /metrics at the edge, scraper identity",
        expected: "404",
        got: describe(e),
      };
    },
  },
  {
    id: "metrics-scraper-only",
    group: "Metrics",
    title: "`/metrics` at a sidecar: the scraper alone",
    sends:
      "`GET /metrics` at `--sidecar` (run from the internal network) with the scraper identity, then with the operator's",
    expects: "200 Prometheus text for the scraper; no 2xx for the operator",
    meaning: "The sidecar admits the scraper identity to /metrics and nobody else.",
    needs: ["scraper-bundle", "sidecar"],
    async run(ctx) {
      const scraper = await ctx.client.send({
        url: ctx.sidecar!,
        rawPath: "/metrics",
        ca: ctx.scraper!.caPem,
        identity: ctx.scraper!,
      });
      const operator = await ctx.client.send({
        url: ctx.sidecar!,
        rawPath: "/metrics",
        ca: ctx.bundle.caPem,
        identity: ctx.bundle,
      });
      const prometheus = /^# (HELP|TYPE) /m.test(scraper.body);
      const operatorRefused = operator.status === undefined || operator.status >= 400;
      return {
        pass: scraper.status === 200 && prometheus && operatorRefused,
        sent: `GET ${ctx.sidecar!.origin}/metrics as scraper, then as operator`,
        expected: "200 metrics, then refused",
        got: `scraper ${describe(scraper)}${prometheus ? " (Prometheus text)" : ""}; operator ${describe(operator)}`,
      };
    },
  },
  // ------------------------------------------------------------------ Limits (last: they use up the rate limit)
  {
    id: "limits-body-size",
    group: "Limits",
    title: "An oversized body: 413",
    sends: "`POST /v1/chat/completions` with a body 1 MB over `--max-body-mb` (default 4, the library's)",
    expects: "413",
    meaning: "Request size is bounded before anything parses it.",
    needs: ["session"],
    async run(ctx) {
      const size = (ctx.maxBodyMb + 1) * 1024 * 1024;
      const e = await api(ctx, "/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: Buffer.alloc(size, 0x20),
      });
      return {
        pass: e.status === 413,
        sent: `POST /v1/chat/completions, ${size} bytes`,
        expected: "413",
        got: describe(e),
      };
    },
  },
  {
    id: "limits-rate",
    group: "Limits",
    title: "The rate limit answers 429",
    sends:
      "`GET /v1/models` with the token, one after another, at most `--max-requests` (default 200), stopping at the first 429",
    expects: "a 429 before the budget runs out",
    meaning:
      "One identity cannot monopolize the GPU: the sidecar limits requests per identity (60/min, burst 20 by default).",
    needs: ["session"],
    async run(ctx) {
      const counts = new Map<string, number>();
      for (let i = 1; i <= ctx.maxRequests; i++) {
        const e = await api(ctx, "/v1/models");
        const s = describe(e);
        counts.set(s, (counts.get(s) ?? 0) + 1);
        if (e.status === 429) {
          return {
            pass: true,
            sent: `up to ${ctx.maxRequests} x GET /v1/models`,
            expected: "a 429",
            got: `429 at request ${i} (${[...counts].map(([k, n]) => `${n} x ${k}`).join(", ")})`,
          };
        }
      }
      return {
        pass: false,
        sent: `${ctx.maxRequests} x GET /v1/models`,
        expected: "a 429",
        got: `no 429 in ${ctx.maxRequests} requests (${[...counts].map(([k, n]) => `${n} x ${k}`).join(", ")})`,
      };
    },
  },
];
