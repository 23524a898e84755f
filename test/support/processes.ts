/**
 * Processes of the real-binary suite: finding the binaries (a missing one is an error, never a
 * skip), temp dirs nginx's workers can traverse, free loopback ports, a child process that keeps
 * its output for failure messages, `caddy validate` / `nginx -t` and starting caddy and nginx the
 * way their containers run them, with ready signals of their own; plus the bounded waits
 * (`eventually`, `within`) the tests poll with.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** Absolute path of a binary on PATH; throws (CI must fail, not skip) when it is missing. */
export function requireBinary(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== "")) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `The e2e suite needs the real '${name}' binary on PATH (Debian: apt-get install ${name}); ` +
      `PATH is ${process.env.PATH}. It fails instead of skipping so CI cannot pass without it.`,
  );
}

/** A fresh directory under the OS temp dir, traversable by nginx's workers (they run as nobody under root). */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/**
 * `count` distinct free TCP ports on 127.0.0.1, for servers the harness does not bind itself.
 * Drawn at random below Linux's ephemeral range (32768+), so a port released here is not handed
 * to another process's port-0 listener or outgoing connection before nginx or caddy binds it.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let attempt = 0; servers.length < count && attempt < 200; attempt++) {
      const port = 20000 + Math.floor(Math.random() * 12000);
      const s = net.createServer();
      const bound = await new Promise<boolean>((resolve) => {
        s.once("error", () => resolve(false));
        s.listen(port, "127.0.0.1", () => resolve(true));
      });
      if (bound) servers.push(s);
    }
    if (servers.length < count) throw new Error(`freePorts: found only ${servers.length} of ${count} free ports`);
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A child process whose output is kept for failure messages. */
export class ManagedProcess {
  private readonly child: ChildProcess;
  private outputText = "";
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;

  constructor(
    public readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    /** Log files the process writes itself (e.g. nginx's error log), included in `logs()`. */
    private readonly logFiles: string[] = [],
  ) {
    this.child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.outputText += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.outputText += d.toString()));
    this.exitPromise = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exited = { code, signal };
        resolve();
      });
      this.child.once("error", (err) => {
        this.outputText += `\nspawn error: ${err.message}`;
        this.exited = { code: null, signal: null };
        resolve();
      });
    });
  }

  /**
   * Polls, a bounded number of times, until the process says it is serving (`started`, e.g. a log
   * line: so a foreign listener on a reused port is not mistaken for it) and a TCP connect to
   * `port` succeeds; throws with the logs if it exits or never gets there.
   */
  async waitForPort(port: number, started: () => boolean, tries = 100, intervalMs = 50): Promise<void> {
    for (let i = 0; i < tries; i++) {
      if (this.exited)
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.exited)}) before listening on ${port}\n${this.logs()}`,
        );
      if (started() && (await canConnect(port))) return;
      await sleep(intervalMs);
    }
    throw new Error(`${this.name} did not listen on 127.0.0.1:${port} after ${tries} tries\n${this.logs()}`);
  }

  /** What the process wrote to stdout and stderr so far. */
  get output(): string {
    return this.outputText;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** stdout, stderr and the process's own log files. */
  logs(): string {
    const files = this.logFiles
      .filter((f) => fs.existsSync(f))
      .map((f) => `--- ${f} ---\n${fs.readFileSync(f, "utf8")}`)
      .join("\n");
    return `=== ${this.name} (pid ${this.child.pid}) output ===\n${this.outputText}\n${files}`;
  }

  /** SIGTERM, then SIGKILL if it has not exited after a bounded wait. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    if (
      (await within(
        this.exitPromise.then(() => true),
        5000,
      )) === undefined
    ) {
      this.child.kill("SIGKILL");
      await this.exitPromise;
    }
  }
}

function runChecked(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: "utf8", env });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}):\n${output}`);
  }
  return output;
}

/** Caddy keeps state under XDG dirs; point them at the test's own directory. */
function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, "data"),
    XDG_CONFIG_HOME: path.join(dir, "config"),
  };
}

function nginxArgs(confPath: string, prefixDir: string, errorLog: string): string[] {
  return ["-c", confPath, "-p", prefixDir, "-e", errorLog];
}

/** `caddy validate`; returns its output, throws with it on failure. */
export function caddyValidate(caddyfilePath: string, stateDir: string): string {
  return runChecked(
    requireBinary("caddy"),
    ["validate", "--config", caddyfilePath, "--adapter", "caddyfile"],
    caddyEnv(stateDir),
  );
}

/** `nginx -t`; returns its output, throws with it on failure. */
export function nginxTest(confPath: string, prefixDir: string, errorLog: string): string {
  return runChecked(requireBinary("nginx"), ["-t", ...nginxArgs(confPath, prefixDir, errorLog)]);
}

export function startCaddy(caddyfilePath: string, stateDir: string): ManagedProcess {
  return new ManagedProcess(
    "caddy",
    requireBinary("caddy"),
    ["run", "--config", caddyfilePath, "--adapter", "caddyfile"],
    caddyEnv(stateDir),
  );
}

/** nginx writes its pid file (`pid <runDir>/nginx.pid` in the rendered configs) after binding its listeners. */
export function nginxStarted(nginx: ManagedProcess, runDir: string): () => boolean {
  const pidFile = path.join(runDir, "nginx.pid");
  return () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() === String(nginx.pid);
}

/** Caddy logs this once its servers are listening. */
export function caddyStarted(caddy: ManagedProcess): () => boolean {
  return () => caddy.output.includes('"msg":"serving initial configuration"');
}

/** The rendered config has no `daemon` directive (the container runs nginx in the foreground); so does this. */
export function startNginx(confPath: string, prefixDir: string, errorLog: string, accessLog?: string): ManagedProcess {
  return new ManagedProcess(
    "nginx",
    requireBinary("nginx"),
    [...nginxArgs(confPath, prefixDir, errorLog), "-g", "daemon off;"],
    process.env,
    [errorLog, ...(accessLog ? [accessLog] : [])],
  );
}

export function readJsonLines(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls until `find` returns a value (bounded tries), e.g. for a log line written just after the response. */
export async function eventually<T>(find: () => T | undefined, what: string, tries = 40, intervalMs = 25): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(intervalMs);
  }
  throw new Error(`gave up waiting for ${what} after ${tries} tries`);
}

/** Resolves with the value, or with `undefined` after `ms` (a bound for negative controls, not a timing assertion). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
