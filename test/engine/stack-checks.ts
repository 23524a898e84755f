/** Checks shared by the engine tests of each stack: lifecycle, files, attacks. */
import * as https from "https";
import { AppliedContainer, Deployment } from "./applier";
import { inspectContainer, runTool, sleep } from "./docker-api";
import { toolImage } from "./standins";

export const loaders = (d: Deployment) => d.containers.filter((c) => c.config.start === false);
export const jobs = (d: Deployment) => d.containers.filter((c) => c.config.start !== false && c.config.must_run === false);
export const services = (d: Deployment) => d.containers.filter((c) => c.config.start !== false && c.config.must_run !== false);

/** Waits (bounded: 90 polls of 1 s) until every service is healthy and every job has exited. */
/** What the engine applied of a container's hardening, as one object a test compares whole. */
export interface AppliedHardening {
  name: string;
  readOnly: boolean;
  capDrop: string[];
  capAdd: string[];
  securityOpt: string[];
  user: string;
  memoryBytes: number;
  hostPorts: Record<string, unknown>;
}

export async function appliedHardening(c: AppliedContainer): Promise<AppliedHardening> {
  const i = await inspectContainer(c.id);
  const h = i.HostConfig;
  return { name: c.name, readOnly: h.ReadonlyRootfs, capDrop: h.CapDrop, capAdd: h.CapAdd, securityOpt: h.SecurityOpt, user: i.Config.User, memoryBytes: h.Memory, hostPorts: h.PortBindings ?? {} };
}

/**
 * A library service as HardenedService makes it: read-only root, every capability dropped and none added,
 * no-new-privileges, the memory limit it was given, `user`, and no host port (unless overridden).
 */
export function hardenedAs(c: AppliedContainer, user: string, overrides: Partial<AppliedHardening> = {}): AppliedHardening {
  return {
    name: c.name,
    readOnly: true,
    capDrop: ["ALL"],
    capAdd: [],
    securityOpt: ["no-new-privileges:true"],
    user,
    memoryBytes: c.config.memory * 1024 * 1024,
    hostPorts: {},
    ...overrides,
  };
}

export async function settle(d: Deployment): Promise<void> {
  // Bounded: 360 x 250 ms.
  for (let i = 0; i < 360; i++) {
    const states = await Promise.all(d.containers.map((c) => inspectContainer(c.id)));
    const pending = states.filter((s, n) => {
      const c = d.containers[n];
      if (c.config.start === false) return false;
      if (c.config.must_run === false) return s.State.Running;
      return s.State.Health?.Status === "starting";
    });
    if (pending.length === 0) return;
    await sleep(250);
  }
}

/**
 * Every file of the container's read-only config volume (`/etc/zta`), read as the container's own user
 * (from a tool container mounting the same volume: some images, like cloudflared's, have no shell to exec).
 */
export async function readsItsFiles(c: AppliedContainer, d: Deployment): Promise<{ file: string; ok: boolean }[]> {
  return (await readsEveryConfigFile(c, d)).filter((r) => r.file.startsWith("/etc/zta/"));
}

/**
 * Every file of every config volume the container mounts (Grafana's provisioning volumes too), each read
 * as the container's own user at the path the service sees it.
 */
export async function readsEveryConfigFile(c: AppliedContainer, d: Deployment): Promise<{ file: string; ok: boolean }[]> {
  const user = (await inspectContainer(c.id)).Config.User || "0:0";
  const results: { file: string; ok: boolean }[] = [];
  for (const mount of c.config.volumes ?? []) {
    const loader = d.containers.find((l) => l.config.start === false && l.config.volumes?.[0]?.volume_name === mount.volume_name);
    const files = (loader?.config.upload ?? []).map((u: any) => (u.file as string).replace(/^\/zta-load\//, ""));
    if (files.length === 0) continue;
    // One tool container per volume: each file read with cat, one line per file.
    const r = await runTool({
      image: toolImage(),
      cmd: ["sh", "-c", 'for f in "$@"; do if cat "/v/$f" > /dev/null 2>&1; then echo "ok $f"; else echo "no $f"; fi; done', "sh", ...files],
      binds: [`${mount.volume_name}:/v:ro`],
      user,
      timeoutSeconds: 15,
    });
    for (const f of files) results.push({ file: `${mount.container_path}/${f}`, ok: r.output.split("\n").includes(`ok ${f}`) });
  }
  return results;
}

export function configVolumeOf(c: AppliedContainer): string | undefined {
  return (c.config.volumes ?? []).find((v: any) => v.container_path === "/etc/zta")?.volume_name;
}

/** Whether `user` can read `file` in volume `volume` (a tool container mounting it read-only). */
export async function canRead(volume: string, file: string, user: string): Promise<boolean> {
  const r = await runTool({ image: toolImage(), cmd: ["cat", `/v/${file}`], binds: [`${volume}:/v:ro`], user, timeoutSeconds: 10 });
  return r.exitCode === 0;
}

export interface HostExchange {
  status: number;
  body: string;
  /** Token events per socket read, for streamed responses. */
  eventsPerRead: number[];
}

/** A request from the host to the published edge port (127.0.0.1 only), bounded. */
export function hostRequest(options: {
  port: number;
  servername: string;
  path: string;
  method?: string;
  body?: string;
  ca: string;
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
}): Promise<HostExchange> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: options.port,
        servername: options.servername,
        method: options.method ?? "GET",
        path: options.path,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        headers: { Host: options.servername, ...(options.headers ?? {}) },
        timeout: 10000,
      },
      (res) => {
        let body = "";
        const eventsPerRead: number[] = [];
        res.on("data", (c: Buffer) => {
          const text = c.toString();
          body += text;
          const events = (text.match(/data: \{/g) ?? []).length;
          if (events) eventsPerRead.push(events);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, eventsPerRead }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * Reads until `done` holds, at most 30 times 1 s apart (the collector, Loki and the jobs write on their own
 * schedule), and returns the last read either way: the test's own expectation judges it.
 */
export async function readUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, tries = 30): Promise<T> {
  let value = await read();
  for (let i = 1; i < tries && !done(value); i++) {
    await sleep(1000);
    value = await read();
  }
  return value;
}
