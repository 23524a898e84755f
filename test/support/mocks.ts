/**
 * Mock servers on 127.0.0.1 that record every request: MockVllm stands in for vLLM's HTTP server
 * (the OpenAI routes with SSE streaming as vLLM writes it, streams that can be held after their
 * first token, and vLLM's admin routes), StubGate for oauth2-proxy's forward_auth protocol over
 * HTTPS with the gate's certificate.
 */
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as tls from "tls";
import { CertificateFiles, TestPki } from "./pki";
import { sleep } from "./processes";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly bodyBytes: number;
}

/** Reads a request's body and records what arrived. */
export function receive(req: http.IncomingMessage): Promise<{ record: RecordedRequest; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = {
        method: req.method ?? "",
        path: (req.url ?? "/").split("?")[0],
        headers: req.headers,
        bodyBytes: body.length,
      };
      resolve({ record, body });
    });
  });
}

/** A loopback HTTP(S) server that records every request it receives. */
export abstract class RecordingServer<R extends RecordedRequest> {
  public readonly requests: R[] = [];
  private server?: http.Server;

  get port(): number {
    return (this.server!.address() as net.AddressInfo).port;
  }

  /** Requests whose `x-e2e-case` header is `id`. */
  requestsFor(id: string): R[] {
    return this.requests.filter((r) => r.headers["x-e2e-case"] === id);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;

  /** Listens on 127.0.0.1 (port 0: any free one); returns the port. */
  protected async listenWith(create: (listener: http.RequestListener) => http.Server, port: number): Promise<number> {
    const server = create((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return this.port;
  }
}

export interface MockVllmOptions {
  /** Tokens per streamed answer. @default 5 */
  readonly tokens?: number;
  /** Pause between streamed tokens, ms (benchmarks). @default 0 */
  readonly tokenIntervalMs?: number;
}

/** Holds streams after their first token until released. */
export interface StreamHold {
  /** Resolves when a stream has written its first token and is waiting. */
  readonly reached: Promise<void>;
  /** How many streams are waiting now. */
  readonly holding: () => number;
  /** Lets every held stream finish, and stops holding new ones. */
  readonly release: () => void;
  readonly isReleased: () => boolean;
}

interface ActiveHold {
  readonly wait: () => Promise<void>;
  readonly release: () => void;
}

export const MOCK_MODEL = "Qwen/Qwen2.5-0.5B-Instruct";

/**
 * Stands in for vLLM's HTTP server on 127.0.0.1. Answers the OpenAI routes and also vLLM's
 * unauthenticated admin routes (/tokenize, /pause, /update_weights, /metrics), so a 404 seen by a
 * client comes from the chain, not from here. Records every request.
 */
export class MockVllm extends RecordingServer<RecordedRequest> {
  private hold?: ActiveHold;

  constructor(private readonly options: MockVllmOptions = {}) {
    super();
  }

  start(port = 0): Promise<number> {
    return this.listenWith((listener) => http.createServer(listener), port);
  }

  /** Every streamed answer that starts from now on writes its first token, then waits for `release()`. */
  holdStreams(): StreamHold {
    let resolveReleased!: () => void;
    let resolveReached!: () => void;
    const released = new Promise<void>((resolve) => (resolveReleased = resolve));
    const reached = new Promise<void>((resolve) => (resolveReached = resolve));
    let holding = 0;
    let isReleased = false;
    const hold: ActiveHold = {
      wait: async () => {
        holding++;
        resolveReached();
        await released;
        holding--;
      },
      release: () => {
        isReleased = true;
        if (this.hold === hold) this.hold = undefined;
        resolveReleased();
      },
    };
    this.hold = hold;
    return { reached, holding: () => holding, release: hold.release, isReleased: () => isReleased };
  }

  async stop(): Promise<void> {
    this.hold?.release();
    await super.stop();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { record, body } = await receive(req);
    this.requests.push(record);
    await this.answer(record.method, record.path, body, res);
  }

  private async answer(method: string, urlPath: string, body: Buffer, res: http.ServerResponse): Promise<void> {
    const json = (status: number, value: unknown): void => {
      const text = JSON.stringify(value);
      res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
    };
    switch (`${method} ${urlPath}`) {
      case "GET /health":
        res.writeHead(200, { "Content-Length": 0 });
        res.end();
        return;
      case "GET /v1/models":
        return json(200, { object: "list", data: [{ id: MOCK_MODEL, object: "model", owned_by: "vllm" }] });
      case "POST /v1/chat/completions":
      case "POST /v1/completions": {
        let request: { stream?: boolean } = {};
        try {
          request = JSON.parse(body.toString() || "{}");
        } catch {
          return json(400, { error: { message: "invalid JSON" } });
        }
        const chat = urlPath === "/v1/chat/completions";
        if (request.stream) return this.stream(chat, res);
        const text = this.tokenTexts().join("");
        return json(
          200,
          chat
            ? {
                id: "chatcmpl-mock",
                object: "chat.completion",
                model: MOCK_MODEL,
                choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
              }
            : {
                id: "cmpl-mock",
                object: "text_completion",
                model: MOCK_MODEL,
                choices: [{ index: 0, text, finish_reason: "stop" }],
              },
        );
      }
      case "POST /tokenize":
        return json(200, { tokens: [1, 2, 3], count: 3 });
      case "POST /pause":
        return json(200, { paused: true });
      case "POST /update_weights":
        return json(200, { updated: true });
      case "GET /metrics":
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
        res.end("# HELP vllm:num_requests_running mock\nvllm:num_requests_running 0\n");
        return;
      default:
        return json(404, { error: { message: `mock vLLM: no route ${method} ${urlPath}` } });
    }
  }

  private tokenTexts(): string[] {
    return Array.from({ length: this.options.tokens ?? 5 }, (_, i) => `tok${i} `);
  }

  /** SSE as vLLM writes it: one `data: {json}\n\n` event per token, then `data: [DONE]`. No X-Accel-Buffering header. */
  private async stream(chat: boolean, res: http.ServerResponse): Promise<void> {
    const hold = this.hold;
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    const interval = this.options.tokenIntervalMs ?? 0;
    const texts = this.tokenTexts();
    for (let i = 0; i < texts.length; i++) {
      if (res.destroyed) return;
      const event = chat
        ? {
            id: "chatcmpl-mock",
            object: "chat.completion.chunk",
            model: MOCK_MODEL,
            choices: [{ index: 0, delta: { content: texts[i] } }],
          }
        : { id: "cmpl-mock", object: "text_completion", model: MOCK_MODEL, choices: [{ index: 0, text: texts[i] }] };
      res.write(`data: ${JSON.stringify(event)}\n\n`);
      if (i === 0 && hold) {
        await hold.wait();
      } else if (interval > 0 && i < texts.length - 1) {
        await sleep(interval);
      }
    }
    res.end("data: [DONE]\n\n");
  }
}

// ---------------------------------------------------------------------------------------------
// Stub OIDC gate (oauth2-proxy's forward_auth protocol)
// ---------------------------------------------------------------------------------------------

export interface GateRecordedRequest extends RecordedRequest {
  /** Subject of the client certificate the caller presented, if any. */
  readonly clientCertSubject?: string;
}

/** Marker body of the stub's sign-in routes. */
export const GATE_MARKER = "stub-gate";

/**
 * oauth2-proxy as the edge sees it: `/oauth2/auth` answers 202 with X-Auth-Request-User/Email when
 * the session cookie is `valid-<user>` or the bearer token is `valid-<user>`, else 401;
 * users named `noemail-*` get no email header (a machine token without an email claim);
 * `/oauth2/start` and `/oauth2/callback` answer 200 with a marker body. HTTPS with the gate's
 * certificate; the caller's certificate is requested (not required, as oauth2-proxy) and recorded.
 */
export class StubGate extends RecordingServer<GateRecordedRequest> {
  constructor(
    private readonly pki: TestPki,
    private readonly sessionCookieName: string,
    /** The certificate the gate serves. @default pki.gateServer */
    private readonly serverCert: CertificateFiles = pki.gateServer,
  ) {
    super();
  }

  start(port = 0): Promise<number> {
    const tlsOptions: https.ServerOptions = {
      cert: this.serverCert.certPem,
      key: this.serverCert.keyPem,
      ca: this.pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    };
    return this.listenWith((listener) => https.createServer(tlsOptions, listener), port);
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
    const subject =
      peer && peer.subject ? `CN=${peer.subject.CN},OU=${peer.subject.OU},O=${peer.subject.O}` : undefined;
    const { record } = await receive(req);
    this.requests.push({ ...record, clientCertSubject: subject });
    const urlPath = record.path;
    if (urlPath === "/oauth2/auth") {
      const user = this.userOf(req.headers);
      if (user) {
        // Like oauth2-proxy for a token without an email claim: users named noemail-* get no email header.
        const email = user.startsWith("noemail-") ? {} : { "X-Auth-Request-Email": `${user}@example.com` };
        res.writeHead(202, { "X-Auth-Request-User": user, ...email, "Content-Length": 0 });
      } else {
        res.writeHead(401, { "Content-Type": "text/plain" });
      }
      res.end();
    } else if (urlPath === "/oauth2/start" || urlPath === "/oauth2/callback") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(`${GATE_MARKER} ${urlPath}`);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end(`${GATE_MARKER}: no route ${urlPath}`);
    }
  }

  private userOf(headers: http.IncomingHttpHeaders): string | undefined {
    const cookies = (headers.cookie ?? "").split(";").map((c) => c.trim());
    for (const c of cookies) {
      const m = c.match(/^([^=]+)=valid-([a-z0-9-]+)$/);
      if (m && m[1] === this.sessionCookieName) return m[2];
    }
    const bearer = (headers.authorization ?? "").match(/^Bearer valid-([a-z0-9-]+)$/);
    return bearer?.[1];
  }
}
