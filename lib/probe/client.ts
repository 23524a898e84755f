/**
 * The probe's only way onto the network: one bounded HTTPS request (or TLS handshake) to a host the
 * user named. Every connection is fresh (no pooled TLS session hides a handshake outcome), every
 * request has a timeout and a response-size cap, and every one is counted.
 */
import * as https from "https";
import * as http from "http";
import * as net from "net";
import * as tls from "tls";

/** A client identity: PEM certificate and key. */
export interface Identity {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface Exchange {
  /** HTTP status; undefined when no HTTP answer came (handshake refused, reset, timeout). */
  readonly status?: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Error code and message when the request failed below HTTP. */
  readonly error?: string;
  /** Milliseconds from sending to each body read, with the text read. */
  readonly reads: { readonly atMs: number; readonly text: string }[];
  readonly totalMs: number;
  /** The negotiated protocol and the server's certificate, when the handshake completed. */
  readonly tlsProtocol?: string;
  readonly peer?: tls.PeerCertificate;
}

export interface ProbeRequest {
  readonly url: URL;
  /** Path and query, sent exactly as written (path tricks must not be normalized here). @default url's */
  readonly rawPath?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly identity?: Identity;
  readonly ca: string;
  /** SNI. @default the url's hostname */
  readonly servername?: string;
  /** Host header. @default the url's host */
  readonly host?: string;
  /** Verify the chain but not the name (for a deliberate SNI mismatch). @default false */
  readonly skipNameCheck?: boolean;
  readonly minVersion?: tls.SecureVersion;
  readonly maxVersion?: tls.SecureVersion;
}

const MAX_BODY = 1024 * 1024;

export class ProbeClient {
  private count = 0;

  constructor(
    /** Hostnames the user named; nothing else is ever dialed. */
    private readonly named: Set<string>,
    /** hostname -> address[:port] to dial instead of resolving it (curl's --resolve). */
    private readonly resolve: Map<string, string>,
    private readonly timeoutMs: number,
  ) {}

  /** Requests sent so far. */
  get requests(): number {
    return this.count;
  }

  /** Where a URL is dialed: its resolve entry, or its own host and port. */
  dialTarget(url: URL): { host: string; port: number } {
    if (!this.named.has(url.hostname))
      throw new Error(`refusing to contact ${url.hostname}: only ${[...this.named].join(", ")} were named`);
    const port = Number(url.port || 443);
    const override = this.resolve.get(url.hostname);
    if (!override) return { host: url.hostname, port };
    const m = /^(.*?)(?::(\d+))?$/.exec(override)!;
    return { host: m[1].replace(/^\[|\]$/g, ""), port: m[2] ? Number(m[2]) : port };
  }

  /** A plain TCP connect to the URL's dial target: undefined when it opens, else the error. */
  async reachable(url: URL): Promise<string | undefined> {
    const { host, port } = this.dialTarget(url);
    return new Promise((resolve) => {
      const socket = net.connect({ host, port, timeout: this.timeoutMs });
      socket.once("connect", () => (socket.destroy(), resolve(undefined)));
      socket.once("timeout", () => (socket.destroy(), resolve(`no answer within ${this.timeoutMs} ms`)));
      socket.once("error", (e: NodeJS.ErrnoException) => resolve(`${e.code ?? "error"}: ${e.message}`));
    });
  }

  send(r: ProbeRequest): Promise<Exchange> {
    const { host, port } = this.dialTarget(r.url);
    this.count++;
    const started = Date.now();
    const legacy = r.maxVersion === "TLSv1" || r.maxVersion === "TLSv1.1";
    return new Promise((resolve) => {
      let settled = false;
      const reads: { atMs: number; text: string }[] = [];
      let body = "";
      let tlsProtocol: string | undefined;
      let peer: tls.PeerCertificate | undefined;
      const finish = (e: Partial<Exchange>) => {
        if (settled) return;
        settled = true;
        resolve({ headers: {}, body, reads, totalMs: Date.now() - started, tlsProtocol, peer, ...e });
      };
      const bodyLength = r.body === undefined ? {} : { "Content-Length": String(Buffer.byteLength(r.body)) };
      const req = https.request(
        {
          host,
          port,
          method: r.method ?? "GET",
          path: r.rawPath ?? `${r.url.pathname}${r.url.search}`,
          headers: { Host: r.host ?? r.url.host, ...bodyLength, ...(r.headers ?? {}) },
          ca: r.ca,
          servername: r.servername ?? r.url.hostname,
          cert: r.identity?.certPem,
          key: r.identity?.keyPem,
          agent: false,
          minVersion: r.minVersion,
          maxVersion: r.maxVersion,
          // Node's OpenSSL refuses to offer TLS 1.0/1.1 at its default security level: lower it for
          // those probes only, so a refusal is the server's and not our own client's.
          ciphers: legacy ? "DEFAULT@SECLEVEL=0" : undefined,
          checkServerIdentity: r.skipNameCheck ? () => undefined : tls.checkServerIdentity,
          timeout: this.timeoutMs,
        },
        (res) => {
          const status = res.statusCode;
          res.on("data", (c: Buffer) => {
            const text = c.toString();
            reads.push({ atMs: Date.now() - started, text });
            if (body.length < MAX_BODY) body += text;
            // Bounded: stop reading an answer that keeps coming.
            if (body.length >= MAX_BODY) res.destroy();
          });
          res.on("end", () => finish({ status, headers: res.headers }));
          res.on("close", () => finish({ status, headers: res.headers }));
          res.on("error", () => finish({ status, headers: res.headers }));
        },
      );
      req.on("socket", (s) => {
        s.once("secureConnect", () => {
          const t = s as tls.TLSSocket;
          tlsProtocol = t.getProtocol() ?? undefined;
          peer = t.getPeerCertificate();
        });
      });
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: "TIMEOUT" })),
      );
      req.on("error", (e: NodeJS.ErrnoException) => finish({ error: errorText(e) }));
      req.end(r.body);
    });
  }
}

/** `CODE: reason`, with OpenSSL's reason alone (not its file and line). */
function errorText(e: NodeJS.ErrnoException): string {
  const reason = /routines:[^:]*:([^:]+):/.exec(e.message)?.[1] ?? e.message.split("\n")[0];
  return `${e.code ?? "error"}: ${reason}`;
}

/** One line for a report: `404`, `401 (body ...)`, or the error. */
export function describe(e: Exchange): string {
  if (e.status === undefined) return `no HTTP answer (${e.error ?? "closed"})`;
  return `${e.status}`;
}
