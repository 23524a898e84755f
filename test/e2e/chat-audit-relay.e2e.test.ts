/**
 * ChatUi's audit relay against the real busybox (the host's, 1.35; the catalog's Alpine nginx carries
 * busybox too): the exact entrypoint and healthcheck ChatUi renders, run as the relay's uid (nginx's 101,
 * with setpriv) on a temp directory laid out like the data volume (a root-owned 0755 directory, the file
 * 0644 as Loguru creates it). Open WebUI's records must come out on stdout in order, across Loguru's
 * rotation (rename, then a new file), from a file that did not exist when the relay started, and again
 * in full after a restart. Missing binaries fail, never skip.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ChatUi } from "../../constructs/chat-ui";
import { IMAGES } from "../../lib/images";
import { containerNamed, synth } from "../helpers";
import { inferenceStack } from "../exposure-helpers";
import { eventually, makeTempDir, requireBinary, within } from "../support/processes";

const BUSYBOX = requireBinary("busybox");
const SETPRIV = requireBinary("setpriv");
const [UID, GID] = IMAGES.nginx.user!.split(":");

/** The relay container as ChatUi synthesizes it. */
function renderedRelay(): { entrypoint: string[]; healthcheck: string[] } {
  const { stack, ai } = inferenceStack();
  new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
  const c = containerNamed(synth(stack), "inference-chat-audit-relay");
  return { entrypoint: c.entrypoint as string[], healthcheck: (c.healthcheck.test as string[]).slice(1) };
}

const relay = renderedRelay();
const MOUNT = "/data/";

/** The container's argv with the volume at `dir` and its applets from the host's busybox, as the relay's uid. */
function asRelay(argv: string[], dir: string): string[] {
  const [applet, ...args] = argv.map((a) => a.split(MOUNT).join(`${dir}/`));
  return [`--reuid=${UID}`, `--regid=${GID}`, "--clear-groups", BUSYBOX, applet, ...args];
}

/** A running relay, stdout (the records) kept apart from stderr (busybox's notes on the file). */
class Relay {
  private readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  constructor(dir: string) {
    this.child = spawn(SETPRIV, asRelay(relay.entrypoint, dir), { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
  }
  lines(): string[] {
    return this.stdout.split("\n").filter((l) => l !== "");
  }
  /** Bounded: busybox polls once a second. */
  async waitForLines(n: number): Promise<string[]> {
    return eventually(
      () => (this.lines().length >= n ? this.lines() : undefined),
      `${n} lines on the relay's stdout (stderr: ${this.stderr})`,
      50,
      100,
    );
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    if ((await within(exited, 3000)) === undefined) this.child.kill("SIGKILL");
  }
}

const record = (id: string) =>
  JSON.stringify({
    id,
    timestamp: 1765150000,
    user: { id: "u1", role: "admin" },
    audit_level: "METADATA",
    verb: "POST",
    request_uri: `/api/v1/${id}`,
  });

let dir: string;
let file: string;
const running: Relay[] = [];
const start = () => {
  const r = new Relay(dir);
  running.push(r);
  return r;
};
/** Append as Open WebUI's root process does; the file 0644 like Loguru's open() under umask 022. */
const append = (f: string, ...ids: string[]) => {
  fs.appendFileSync(f, ids.map((id) => `${record(id)}\n`).join(""));
  fs.chmodSync(f, 0o644);
};

beforeEach(() => {
  dir = makeTempDir("zta-audit-relay-");
  file = path.join(dir, "audit.log");
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the rendered command is busybox tail from the first line, following the name, of the file Open WebUI writes", () => {
  expect(relay.entrypoint).toEqual(["tail", "-n", "+1", "-F", "/data/audit.log"]);
});

test("records already in the file and appended later come out on stdout in order, unchanged", async () => {
  append(file, "a1", "a2");
  const r = start();
  expect(await r.waitForLines(2)).toEqual([record("a1"), record("a2")]);
  append(file, "a3");
  append(file, "a4");
  expect(await r.waitForLines(4)).toEqual(["a1", "a2", "a3", "a4"].map(record));
});

test("after Loguru's rotation (rename, new file) the new file's records follow; the old file's last one is not lost", async () => {
  append(file, "r1");
  const r = start();
  await r.waitForLines(1);
  // Loguru writes the record that fills the file, then renames it before the next write (_file_sink.py).
  append(file, "r2");
  fs.renameSync(file, path.join(dir, "audit.2026-12-08_02-00-00_000000.log"));
  append(file, "r3", "r4");
  expect(await r.waitForLines(4)).toEqual(["r1", "r2", "r3", "r4"].map(record));
  append(file, "r5");
  expect(await r.waitForLines(5)).toEqual(["r1", "r2", "r3", "r4", "r5"].map(record));
  expect(r.stderr).toContain("has been replaced");
});

test("started before the file exists, it picks the file up when Open WebUI creates it", async () => {
  const r = start();
  await eventually(
    () => (r.stderr.includes("can't open") ? true : undefined),
    "busybox's note that the file is missing",
    30,
    100,
  );
  expect(r.lines()).toEqual([]);
  append(file, "n1", "n2");
  expect(await r.waitForLines(2)).toEqual([record("n1"), record("n2")]);
});

test("a restart sends the current file again: repeated records carry the same id", async () => {
  append(file, "d1", "d2");
  const first = start();
  await first.waitForLines(2);
  await first.stop();
  append(file, "d3");
  const second = start();
  const again = (await second.waitForLines(3)).map((l) => JSON.parse(l).id);
  expect(again).toEqual(["d1", "d2", "d3"]);
});

test("the healthcheck, as the relay's uid: healthy with no file or a readable one, unhealthy when it cannot read it", () => {
  const health = () => spawnSync(SETPRIV, asRelay(relay.healthcheck, dir)).status;
  expect(relay.healthcheck).toEqual(["sh", "-c", "test ! -e /data/audit.log || test -r /data/audit.log"]);
  expect(health()).toBe(0);
  append(file, "h1");
  expect(health()).toBe(0);
  fs.chmodSync(file, 0o600);
  expect(health()).not.toBe(0);
});
