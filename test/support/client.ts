/**
 * The HTTPS/mTLS client of the suite: one request on a fresh connection over HTTP/1.1 or HTTP/2,
 * optionally with a client certificate (`send`), or an SSE stream whose first event is reported
 * when it arrives (`sendStreaming`); requests to the chain's edge or sidecar tagged with a case
 * id; and assertion messages that show what was sent and what came back.
 */
import { randomBytes } from "crypto";
import * as http from "http";
import * as http2 from "http2";
import * as https from "https";
import * as path from "path";
import { SIDECAR_SERVER_NAME } from "../../lib/identities";
import { Chain } from "./chain";
import { CertificateFiles, TestPki } from "./pki";

export interface ClientRequest {
  readonly port: number;
  readonly path: string;
  /** @default "GET" */
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Send the body with chunked transfer encoding (no Content-Length). @default false */
  readonly chunked?: boolean;
  /** Client certificate to present. @default none */
  readonly clientCert?: CertificateFiles;
  /** CA to verify the server against. Required unless `plaintext`. */
  readonly ca?: string;
  /** SNI and the name the server certificate must carry; also the Host header. */
  readonly servername: string;
  /** Speak HTTP/2 (the edge offers h1 and h2). @default false: HTTP/1.1 */
  readonly http2?: boolean;
  /** Plain HTTP/1.1, no TLS: for loopback-only listeners (e.g. the chat proxy's client mode). @default false */
  readonly plaintext?: boolean;
}

export interface Exchange {
  readonly request: ClientRequest;
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What a response delivers, in order: `head`, `data`*, `end`; or `error` at any point. */
interface ResponseHandlers {
  head(status: number, headers: http.IncomingHttpHeaders): void;
  data(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
}

function contentLength(r: ClientRequest): Record<string, number> {
  return r.body !== undefined && !r.chunked ? { "content-length": Buffer.byteLength(r.body) } : {};
}

/** HTTP/1.1 on a fresh connection (no pooled TLS session hides a handshake outcome). */
function dispatchHttp1(r: ClientRequest, h: ResponseHandlers): void {
  const request = r.plaintext ? http.request : https.request;
  const req = request(
    {
      host: "127.0.0.1",
      port: r.port,
      path: r.path,
      method: r.method ?? "GET",
      headers: { Host: r.servername, ...(r.headers ?? {}), ...contentLength(r) },
      ca: r.ca,
      servername: r.servername,
      cert: r.clientCert?.certPem,
      key: r.clientCert?.keyPem,
      agent: false,
    },
    (res) => {
      h.head(res.statusCode ?? 0, res.headers);
      res.on("data", (c: Buffer) => h.data(c));
      res.on("end", () => h.end());
      res.on("error", (err) => h.error(err));
    },
  );
  req.on("error", (err) => h.error(err));
  req.end(r.body);
}

/** HTTP/2 (ALPN h2) on its own session, closed when the response ends. */
function dispatchHttp2(r: ClientRequest, h: ResponseHandlers): void {
  const session = http2.connect(`https://127.0.0.1:${r.port}`, {
    ca: r.ca,
    servername: r.servername,
    cert: r.clientCert?.certPem,
    key: r.clientCert?.keyPem,
  });
  session.on("error", (err) => h.error(err));
  const lowercased = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const stream = session.request({
    ":method": r.method ?? "GET",
    ":path": r.path,
    ":authority": r.servername,
    ...lowercased,
    ...contentLength(r),
  });
  stream.on("response", (headers) => {
    const { ":status": status, ...rest } = headers;
    h.head(Number(status), rest as http.IncomingHttpHeaders);
  });
  stream.on("data", (c: Buffer) => h.data(c));
  stream.on("end", () => {
    session.close();
    h.end();
  });
  stream.on("error", (err) => {
    session.destroy();
    h.error(err);
  });
  stream.end(r.body);
}

function dispatch(r: ClientRequest, h: ResponseHandlers): void {
  // Without a CA Node would verify against the public roots; a test means one or the other.
  if (!r.plaintext && r.ca === undefined) throw new Error("ClientRequest: give a ca, or plaintext: true");
  if (r.plaintext && (r.http2 || r.clientCert))
    throw new Error("ClientRequest: plaintext is HTTP/1.1 without a certificate");
  (r.http2 ? dispatchHttp2 : dispatchHttp1)(r, h);
}

/** One HTTPS request; rejects on TLS or connection errors (e.g. a refused client certificate). */
export function send(r: ClientRequest): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    dispatch(r, {
      head: (s, hs) => ((status = s), (headers = hs)),
      data: (c) => chunks.push(c),
      end: () => resolve({ request: r, status, headers, body: Buffer.concat(chunks).toString() }),
      error: reject,
    });
  });
}

export interface StreamingExchange {
  /** Resolves with the first `data:` event when it reaches the client. */
  readonly firstEvent: Promise<string>;
  /** Resolves when the whole response has arrived. */
  readonly done: Promise<Exchange>;
}

/** Sends a request whose response is an SSE stream; tells when the first `data:` event arrives. */
export function sendStreaming(r: ClientRequest): StreamingExchange {
  let resolveFirst!: (e: string) => void;
  let rejectFirst!: (e: Error) => void;
  const firstEvent = new Promise<string>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  const done = new Promise<Exchange>((resolve, reject) => {
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let body = "";
    dispatch(r, {
      head: (s, hs) => ((status = s), (headers = hs)),
      data: (c) => {
        body += c.toString();
        // A complete event: "data: ...\n\n" at the start of the body or after a blank line.
        const event = /(?:^|\n\n)(data:[^\n]*)\n\n/.exec(body);
        if (event) resolveFirst(event[1]);
      },
      end: () => {
        rejectFirst(new Error(`stream ended without a data event: status ${status}, body ${JSON.stringify(body)}`));
        resolve({ request: r, status, headers, body });
      },
      error: (err) => {
        rejectFirst(err);
        reject(err);
      },
    });
  });
  // Whoever awaits only one of them must not see an unhandled rejection from the other.
  firstEvent.catch(() => undefined);
  done.catch(() => undefined);
  return { firstEvent, done };
}
// ---------------------------------------------------------------------------------------------
// Failure messages
// ---------------------------------------------------------------------------------------------

function clip(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

/** What was sent and what came back, for assertion messages. */
export function formatExchange(ex: Exchange): string {
  const r = ex.request;
  const sentBody =
    r.body === undefined
      ? ""
      : `\n  body (${r.body.length} bytes${r.chunked ? ", chunked" : ""}): ${clip(r.body.toString(), 300)}`;
  return [
    `sent: ${r.method ?? "GET"} ${r.plaintext ? "http" : "https"}://${r.servername}:${r.port}${r.path}${r.http2 ? " (HTTP/2)" : ""}`,
    `  client cert: ${r.clientCert ? path.basename(r.clientCert.certPath) : "none"}`,
    `  headers: ${JSON.stringify(r.headers ?? {})}${sentBody}`,
    `received: ${ex.status}`,
    `  headers: ${JSON.stringify(ex.headers)}`,
    `  body: ${clip(ex.body)}`,
  ].join("\n");
}

/** Throws with the exchange (and optional context, e.g. process logs) unless `condition` holds. */
export function check(condition: boolean, expectation: string, ex?: Exchange, context?: () => string): void {
  if (condition) return;
  const parts = [`expected ${expectation}`];
  if (ex) parts.push(formatExchange(ex));
  if (context) parts.push(context());
  throw new Error(parts.join("\n"));
}

/** A request to the chain's edge as the operator (valid client certificate), tagged with a case id. */
export function edgeRequest(chain: Chain, pki: TestPki, id: string, r: Partial<ClientRequest> = {}): ClientRequest {
  return {
    port: chain.ports.edge,
    ca: pki.ca.certPem,
    servername: chain.rendered.pkiNames.domain,
    path: "/v1/models",
    clientCert: pki.operator,
    ...r,
    headers: { "X-E2E-Case": id, ...(r.headers ?? {}) },
  };
}

/** A request straight to the chain's sidecar as the edge dials it (the edge's client certificate by default). */
export function sidecarRequest(chain: Chain, pki: TestPki, id: string, r: Partial<ClientRequest> = {}): ClientRequest {
  return {
    port: chain.ports.sidecar,
    ca: pki.ca.certPem,
    servername: SIDECAR_SERVER_NAME,
    path: "/v1/models",
    clientCert: pki.edgeClient,
    ...r,
    headers: { "X-E2E-Case": id, ...(r.headers ?? {}) },
  };
}

/** A unique id for one test's requests (sent as `x-e2e-case`, recorded by the mock). */
export function caseId(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

/** A line of Caddy's access log: logger `http.log.access`, or `http.log.access.logN` for a named log. */
export const ACCESS_LOGGER = /"logger":"http\.log\.access(\.log\d+)?"/;
