/**
 * A small Docker Engine API client over the unix socket (API v1.41 = Docker 20.10), so the engine suite
 * does not depend on the docker CLI's version. DOCKER_HOST must be unix://<path> (scripts/docker-engine.sh
 * sets it); without it the suite fails, it never skips.
 */
import * as http from "http";

export const API = "/v1.41";

/** Label key on everything the suite creates (value: the run, or what made it). */
export const TEST_LABEL = "zta.engine-test";
/**
 * Label key naming the suite's group. scripts/engine-tests.sh runs two groups of files at once (their stacks
 * use different Docker names and host ports); each group cleans up, and checks for leftovers, only its own.
 */
export const GROUP_LABEL = "zta.engine-group";
/** This process's group (ZTA_ENGINE_GROUP, set by scripts/engine-tests.sh). @default "all" */
export const ENGINE_GROUP = process.env.ZTA_ENGINE_GROUP ?? "all";

/** The labels of a resource the suite creates. */
export function suiteLabels(value: string): Record<string, string> {
  return { [TEST_LABEL]: value, [GROUP_LABEL]: ENGINE_GROUP };
}

/**
 * An Engine API `filters` query value: this group's resources (with `value`: only those with that test label
 * value); with `everyGroup`, the suite's resources of every group (the cleanup before the groups start).
 */
export function groupFilter(value?: string, everyGroup = false): string {
  const test = value === undefined ? TEST_LABEL : `${TEST_LABEL}=${value}`;
  return encodeURIComponent(JSON.stringify({ label: everyGroup ? [test] : [test, `${GROUP_LABEL}=${ENGINE_GROUP}`] }));
}

export function socketPath(): string {
  const host = process.env.DOCKER_HOST ?? "";
  if (!host.startsWith("unix://")) {
    throw new Error(
      `DOCKER_HOST must point at the suite's engine (unix://...), got "${host}". ` +
        "Run the suite through `bash scripts/docker-engine.sh run npm test`.",
    );
  }
  return host.slice("unix://".length);
}

export interface ApiResponse {
  status: number;
  body: Buffer;
  json<T = any>(): T;
}

/** One request; `body` is JSON unless it is a Buffer (sent as application/x-tar). Bounded by `timeoutMs`. */
export function request(method: string, path: string, body?: unknown, timeoutMs = 120000): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath: socketPath(),
        method,
        path: path.startsWith("/v1.") ? path : API + path,
        headers: payload
          ? { "Content-Type": Buffer.isBuffer(body) ? "application/x-tar" : "application/json", "Content-Length": payload.length }
          : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, body: buf, json: () => JSON.parse(buf.toString("utf8")) });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** A request that must answer with one of `ok` statuses; otherwise throws with the engine's message. */
export async function call(method: string, path: string, body?: unknown, ok: number[] = [200, 201, 204, 304]): Promise<ApiResponse> {
  const res = await request(method, path, body);
  if (!ok.includes(res.status)) {
    throw new Error(`${method} ${path} -> ${res.status}: ${res.body.toString("utf8").slice(0, 500)}`);
  }
  return res;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function inspectContainer(id: string): Promise<any> {
  return (await call("GET", `/containers/${encodeURIComponent(id)}/json`)).json();
}

/** The container's logs (stdout + stderr, demultiplexed). */
export async function containerLogs(id: string): Promise<string> {
  const res = await call("GET", `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=200`);
  return demux(res.body);
}

/** Docker's multiplexed stream format: 8-byte header (stream, 0, 0, 0, size BE32) per frame. */
export function demux(buf: Buffer): string {
  let out = "";
  let i = 0;
  while (i + 8 <= buf.length && buf[1] === 0 && buf[2] === 0 && buf[3] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString("utf8");
    i += 8 + size;
  }
  return i === 0 ? buf.toString("utf8") : out;
}

export interface RunResult {
  exitCode: number;
  output: string;
}

/**
 * Runs `cmd` in a throwaway container and returns its exit code and output: how the suite acts from inside
 * a network or a namespace. The container is removed afterwards; it is bounded by `timeoutSeconds`
 * (the engine kills it).
 */
/** Docker takes Dns only for a container with a network of its own (not `none`, `host` or `container:`). */
export const hasOwnNetwork = (mode: string | undefined) => mode !== undefined && mode !== "none" && mode !== "host" && !mode.startsWith("container:");

/**
 * The resolver of a suite container on a network: names Docker's embedded DNS does not know (a service
 * absent from that network) would go to the host's resolvers, which is traffic off the machine from
 * networks with a route out and a ~3 s timeout on internal ones. A resolver on the container's own
 * loopback (nothing listens) refuses at once and keeps every lookup on the engine.
 */
export function suiteDns(mode: string | undefined): { Dns?: string[] } {
  return hasOwnNetwork(mode) ? { Dns: ["127.0.0.1"] } : {};
}

export async function runTool(options: {
  image: string;
  cmd: string[];
  /** Replaces the image's ENTRYPOINT (the stand-ins whose entrypoint is a service). @default the image's */
  entrypoint?: string[];
  networkMode?: string;
  user?: string;
  binds?: string[];
  labels?: Record<string, string>;
  timeoutSeconds?: number;
  env?: string[];
}): Promise<RunResult> {
  const labels = { ...suiteLabels("tool"), ...(options.labels ?? {}) };
  const created = await call("POST", "/containers/create", {
    Image: options.image,
    Cmd: ["timeout", "-s", "KILL", String(options.timeoutSeconds ?? 20), ...options.cmd],
    ...(options.entrypoint ? { Entrypoint: options.entrypoint } : {}),
    User: options.user ?? "",
    Env: options.env ?? [],
    Labels: labels,
    HostConfig: {
      NetworkMode: options.networkMode ?? "none",
      Binds: options.binds ?? [],
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges:true"],
      ...suiteDns(options.networkMode),
    },
  });
  const id = created.json().Id as string;
  try {
    await call("POST", `/containers/${id}/start`);
    const waited = await request("POST", `/containers/${id}/wait`, undefined, ((options.timeoutSeconds ?? 20) + 30) * 1000);
    const exitCode = waited.json().StatusCode as number;
    return { exitCode, output: await containerLogs(id) };
  } finally {
    await request("DELETE", `/containers/${id}?force=1&v=1`);
  }
}

/** Runs `cmd` inside a running container (as its own user unless `user` is given), bounded. */
export async function execIn(id: string, cmd: string[], user?: string): Promise<RunResult> {
  const created = await call("POST", `/containers/${id}/exec`, {
    Cmd: ["timeout", "-s", "KILL", "15", ...cmd],
    AttachStdout: true,
    AttachStderr: true,
    ...(user ? { User: user } : {}),
  });
  const execId = created.json().Id as string;
  const res = await call("POST", `/exec/${execId}/start`, { Detach: false, Tty: false });
  const info = (await call("GET", `/exec/${execId}/json`)).json();
  return { exitCode: info.ExitCode as number, output: demux(res.body) };
}
