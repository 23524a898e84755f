/**
 * EncryptedBackup on the engine (test/engine/backup-stack.ts): the job (the real Debian restic 0.14 in the
 * restic stand-in) comes up hardened, backs up the chat UI's real data volume into a local repository on
 * its first loop, and its restore drill verifies the snapshot; the repository is read back with the host's
 * restic and the construct's password. The chat UI's audit relay comes up hardened and relays records
 * written to Open WebUI's audit log on that volume.
 */
import { Testing } from "cdktf";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apply, container, destroy, Deployment, leftovers } from "./applier";
import { containerLogs, execIn, inspectContainer, runTool } from "./docker-api";
import { BKP_JOB, BKP_PREFIX, backupStack } from "./backup-stack";
import { appliedHardening, hardenedAs, jobs, loaders, readUntil, readsItsFiles, services, settle } from "./stack-checks";
import { buildAllStandins, toolImage } from "./standins";

/** The uid the job runs as (the construct's choice; the repository directory must be its own). */
const JOB_UID = 0;

let d: Deployment;
let repo: string;

const password = () => {
  const a = [...d.values.keys()].find((k) => k.startsWith("random_password.backup_repository-password"));
  if (!a) throw new Error("no repository password");
  return d.values.get(a)!.result as string;
};
/** The host's restic (Debian 0.14) on the job's repository, with the construct's password. */
function hostRestic(args: string[]): string {
  return execFileSync("restic", ["-r", repo, "--no-cache", ...args], { env: { ...process.env, RESTIC_PASSWORD: password() }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
/** The job's JSON audit lines from its log. */
async function auditLines(): Promise<any[]> {
  const logs = await containerLogs(container(d, BKP_JOB).id);
  return logs
    .split("\n")
    .filter((l) => l.startsWith('{"event":"zta.'))
    .map((l) => JSON.parse(l));
}

beforeAll(async () => {
  // A local repository: a host directory owned by the job's uid (docs/backup.md), removed after the run.
  repo = fs.mkdtempSync(path.join(os.tmpdir(), "zta-engine-backup-repo-"));
  fs.chownSync(repo, JOB_UID, JOB_UID);
  fs.chmodSync(repo, 0o700);
  const json = JSON.parse(Testing.synth(backupStack(repo), true));
  d = await apply(json, { standins: await buildAllStandins() });
  await settle(d);
  // The job is healthy once its loop runs; its first backup and drill finish a few seconds later. Bounded: 90 s.
  for (let i = 0; i < 360 && !(await auditLines()).some((l) => l.event === "zta.drill"); i++) await new Promise((r) => setTimeout(r, 250));
});

afterAll(async () => {
  if (d) await destroy(d);
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
});

describe("backup: lifecycle and hardening", () => {
  it("loaders created and never started, services healthy with no restarts, the model fetch exited 0", async () => {
    expect(loaders(d).map((c) => c.name)).toContain(`${BKP_JOB}-config-loader`);
    for (const c of loaders(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, started: s.StartedAt }).toEqual({ name: c.name, status: "created", started: "0001-01-01T00:00:00Z" });
    }
    expect(services(d).map((c) => c.name)).toContain(BKP_JOB);
    for (const c of services(d)) {
      const i = await inspectContainer(c.id);
      expect({ name: c.name, status: i.State.Status, health: i.State.Health?.Status, restarts: i.RestartCount }).toEqual({ name: c.name, status: "running", health: "healthy", restarts: 0 });
    }
    for (const c of jobs(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, exit: s.ExitCode }).toEqual({ name: c.name, status: "exited", exit: 0 });
    }
  });

  it("the job: read-only root, no capabilities, no network, the construct's user, sources mounted read-only", async () => {
    const c = container(d, BKP_JOB);
    const i = await inspectContainer(c.id);
    expect({ ro: i.HostConfig.ReadonlyRootfs, drop: i.HostConfig.CapDrop, add: i.HostConfig.CapAdd, sec: i.HostConfig.SecurityOpt, net: i.HostConfig.NetworkMode, user: i.Config.User }).toEqual({
      ro: true,
      drop: ["ALL"],
      add: [],
      sec: ["no-new-privileges:true"],
      net: "none",
      user: c.config.user,
    });
    const source = i.Mounts.find((m: any) => m.Destination === "/backup/sources/webui-data");
    expect({ name: source.Name, rw: source.RW }).toEqual({ name: `${BKP_PREFIX}-chat-data`, rw: false });
    expect(i.Mounts.find((m: any) => m.Destination === "/etc/zta").RW).toBe(false);
    // The effective capability sets of the running job are empty.
    const caps = await execIn(c.id, ["sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"]);
    expect(caps.output.trim().split("\n").map((l) => l.split(/\s+/)[1])).toEqual(["0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"]);
  });

  it("the job reads every file of its config volume (scripts, repository, password) as its own user", async () => {
    const files = await readsItsFiles(container(d, BKP_JOB), d);
    expect(files.map((f) => f.file).sort()).toEqual(["/etc/zta/backup.sh", "/etc/zta/common.sh", "/etc/zta/drill.sh", "/etc/zta/repository", "/etc/zta/restic-password", "/etc/zta/scheduler.sh"]);
    for (const r of files) expect(r).toEqual({ file: r.file, ok: true });
  });
});

describe("backup: the first loop", () => {
  it("backed up into the repository and the restore drill succeeded (its JSON audit lines)", async () => {
    const lines = await auditLines();
    const backup = lines.find((l) => l.event === "zta.backup");
    const drill = lines.find((l) => l.event === "zta.drill");
    expect(backup).toMatchObject({ backup: BKP_JOB, status: "success", exit_code: 0 });
    // restic 0.14 prints the short id in the backup summary; newer releases print the full one.
    expect(backup.snapshot).toMatch(/^[0-9a-f]{8}([0-9a-f]{56})?$/);
    expect(drill).toMatchObject({ backup: BKP_JOB, status: "success", exit_code: 0, snapshot: backup.snapshot.slice(0, 8), databases_verified: 0 });
    expect(drill.files_verified).toBeGreaterThan(0);
  });

  it("the repository holds that snapshot, readable with the construct's password (host restic)", async () => {
    const backup = (await auditLines()).find((l) => l.event === "zta.backup");
    const snapshots = JSON.parse(hostRestic(["snapshots", "--json"]));
    expect(snapshots.map((s: any) => ({ id: s.id.slice(0, backup.snapshot.length), host: s.hostname, tags: s.tags }))).toEqual([{ id: backup.snapshot, host: BKP_JOB, tags: ["zta-backup"] }]);
    expect(() => execFileSync("restic", ["-r", repo, "--no-cache", "snapshots"], { env: { ...process.env, RESTIC_PASSWORD: "wrong" }, stdio: "pipe" })).toThrow(/wrong password/);
  });

  it("the metrics textfile says both runs succeeded", async () => {
    const r = await execIn(container(d, BKP_JOB).id, ["cat", "/var/lib/zta-backup/backup.prom"]);
    expect(r.output).toContain(`zta_backup_last_run_success{backup="${BKP_JOB}",kind="backup"} 1`);
    expect(r.output).toContain(`zta_backup_last_run_success{backup="${BKP_JOB}",kind="drill"} 1`);
  });
});

describe("backup: on demand, with the chat UI's files", () => {
  it("a run started with docker exec backs up what the chat UI wrote (cache excluded) and the drill verifies it", async () => {
    const chat = container(d, `${BKP_PREFIX}-chat`);
    const seed = await execIn(chat.id, ["sh", "-c", "echo kept > /app/backend/data/notes.txt && mkdir -p /app/backend/data/cache && echo dropped > /app/backend/data/cache/blob"]);
    expect(seed.exitCode).toBe(0);
    const job = container(d, BKP_JOB).id;
    const b = await execIn(job, ["sh", "/etc/zta/backup.sh"]);
    expect({ exit: b.exitCode, line: b.output.includes('"event":"zta.backup"') && b.output.includes('"status":"success"') }).toEqual({ exit: 0, line: true });
    const dr = await execIn(job, ["sh", "/etc/zta/drill.sh"]);
    expect({ exit: dr.exitCode, line: dr.output.includes('"event":"zta.drill"') && dr.output.includes('"status":"success"') }).toEqual({ exit: 0, line: true });
    const files = hostRestic(["ls", "latest"]).split("\n");
    expect(files).toEqual(expect.arrayContaining(["/backup/sources/webui-data/webui.db", "/backup/sources/webui-data/notes.txt", "/backup/dumps/manifest.sha256"]));
    expect(files.filter((f) => f.includes("/cache"))).toEqual([]);
    expect(hostRestic(["dump", "latest", "/backup/sources/webui-data/notes.txt"])).toBe("kept\n");
  });
});

describe("the chat UI's audit relay (Open WebUI's audit log file to stdout)", () => {
  const RELAY = `${BKP_PREFIX}-chat-audit-relay`;

  it("runs hardened and healthy: read-only root, no capabilities, nginx's uid, no network, the data volume read-only", async () => {
    const c = container(d, RELAY);
    const i = await inspectContainer(c.id);
    expect({ status: i.State.Status, health: i.State.Health?.Status, restarts: i.RestartCount }).toEqual({ status: "running", health: "healthy", restarts: 0 });
    expect(await appliedHardening(c)).toEqual(hardenedAs(c, "101:101"));
    expect({ net: i.HostConfig.NetworkMode, networks: Object.keys(i.NetworkSettings.Networks ?? {}).filter((n) => n !== "none") }).toEqual({ net: "none", networks: [] });
    expect(i.Mounts.filter((m: any) => m.Type === "volume").map((m: any) => ({ name: m.Name, at: m.Destination, rw: m.RW }))).toEqual([
      { name: `${BKP_PREFIX}-chat-data`, at: "/data", rw: false },
    ]);
  });

  it("two records appended to audit.log on the chat data volume come out of the relay's stdout, in order", async () => {
    const relay = container(d, RELAY);
    const stamp = Date.now();
    const records = [1, 2].map((n) => JSON.stringify({ id: `engine-${stamp}-${n}`, timestamp: Math.floor(stamp / 1000), user: { id: "u1", role: "admin" }, audit_level: "METADATA", verb: "POST", request_uri: `/api/v1/auths/${n}` }));
    // As Open WebUI does: root appends to the file (created 0644 under umask 022, like Loguru's open()).
    const write = await runTool({
      image: toolImage(),
      cmd: ["sh", "-c", `umask 022; echo '${records[0]}' >> /data/audit.log && echo '${records[1]}' >> /data/audit.log`],
      binds: [`${BKP_PREFIX}-chat-data:/data`],
    });
    expect(write).toEqual({ exitCode: 0, output: "" });
    // Bounded: busybox polls once a second, up to 30 reads.
    const logs = await readUntil(() => containerLogs(relay.id), (l) => l.includes(records[1]));
    const out = logs.split("\n").filter((l) => l.includes(`engine-${stamp}-`));
    expect(out).toEqual(records);
    expect((await inspectContainer(relay.id)).State.Health?.Status).toBe("healthy");
  });
});

describe("backup: destroy", () => {
  it("leaves nothing behind", async () => {
    await destroy(d);
    const left = await leftovers();
    d = undefined as unknown as Deployment;
    expect(left).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
