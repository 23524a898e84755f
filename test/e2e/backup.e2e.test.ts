/**
 * The EncryptedBackup job's own scripts (lib/backup-scripts.ts) run end to end with Debian's real
 * restic 0.14, sqlite3 and PostgreSQL 15 on temp dirs: init, backup, forget/prune, check, restore
 * drill, wrong password, a corrupted pack. Everything runs as `nobody` (initdb refuses root, and
 * the job runs as a non-root uid in its container too). No network except a loopback Postgres port.
 */
import { spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import {
  BackupScriptOptions,
  renderBackupAlertRules,
  renderBackupScripts,
  renderSchedulerScript,
} from "../../lib/backup-scripts";
import { freePorts, makeTempDir, requireBinary } from "./harness";
import { asNobody, PG_BIN, requirePostgres, RUN_AS } from "../support/postgres";

const PATH_WITH_PG = `${PG_BIN}:${process.env.PATH}`;

for (const b of ["restic", "sqlite3", "sha256sum", "runuser", "promtool"]) requireBinary(b);
requirePostgres(["initdb", "pg_ctl", "pg_dump", "psql"]);

interface Job {
  dir: string;
  options: BackupScriptOptions;
  run(script: string): SpawnSyncReturns<string>;
  audit(): Record<string, any>[];
}

function chownTree(dir: string): void {
  const r = spawnSync("chown", ["-R", `${RUN_AS}:nogroup`, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}

function makeJob(overrides: Partial<BackupScriptOptions> = {}): Job {
  const dir = makeTempDir("zta-backup-");
  const d = (p: string) => path.join(dir, p);
  const options: BackupScriptOptions = {
    name: "ai-backup",
    rootDir: d("backup"),
    stateDir: d("state"),
    scratchDir: d("scratch"),
    configDir: d("config"),
    cacheDir: d("cache"),
    tmpDir: d("tmp"),
    volumes: [{ name: "webui-data", exclude: ["cache"] }],
    sqlite: [{ volume: "webui-data", path: "webui.db" }],
    postgres: [],
    keep: { daily: 7, weekly: 4, monthly: 6 },
    appendOnly: false,
    checkSubset: "100%",
    ...overrides,
  };
  for (const p of [
    "backup/sources/webui-data/uploads",
    "backup/sources/webui-data/cache",
    "backup/dumps",
    "state",
    "scratch",
    "config",
    "cache",
    "tmp",
    "repo",
  ]) {
    fs.mkdirSync(d(p), { recursive: true });
  }
  for (const s of [...renderBackupScripts(options), renderSchedulerScript(86400, 92 * 86400)])
    fs.writeFileSync(path.join(options.configDir, s.name), s.content);
  fs.writeFileSync(path.join(options.configDir, "repository"), `${d("repo")}\n`);
  fs.writeFileSync(path.join(options.configDir, "restic-password"), "correct horse battery staple 42\n");
  fs.writeFileSync(d("backup/sources/webui-data/uploads/notes.txt"), "my knowledge base\n");
  fs.writeFileSync(d("backup/sources/webui-data/uploads/report with spaces.bin"), Buffer.alloc(300000, 7));
  fs.writeFileSync(d("backup/sources/webui-data/cache/model.bin"), "re-downloadable");
  const db = d("backup/sources/webui-data/webui.db");
  sqlite(
    db,
    'CREATE TABLE chat (id INTEGER PRIMARY KEY, body TEXT); CREATE TABLE "user" (id INTEGER PRIMARY KEY, email TEXT);' +
      "INSERT INTO \"user\" (email) VALUES ('a@example.com'), ('b@example.com');" +
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO chat (body) SELECT 'message ' || i FROM n;",
  );
  chownTree(dir);
  return {
    dir,
    options,
    run: (script) => asNobody(["sh", path.join(options.configDir, script)]),
    audit: () =>
      fs.existsSync(path.join(options.stateDir, "audit.jsonl"))
        ? fs
            .readFileSync(path.join(options.stateDir, "audit.jsonl"), "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l))
        : [],
  };
}

function sqlite(db: string, sql: string): string {
  const r = spawnSync("sqlite3", [db, sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

function restic(job: Job, args: string[]): SpawnSyncReturns<string> {
  return asNobody([
    "restic",
    "-r",
    path.join(job.dir, "repo"),
    "--password-file",
    path.join(job.options.configDir, "restic-password"),
    "--cache-dir",
    job.options.cacheDir,
    ...args,
  ]);
}

function snapshotCount(job: Job): number {
  const r = restic(job, ["snapshots", "--json"]);
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

function expectOk(r: SpawnSyncReturns<string>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\n${r.stderr}\n${r.stdout}`);
}

describe("backup job scripts with real restic 0.14", () => {
  let job: Job;
  beforeAll(() => {
    job = makeJob();
  });

  test("scripts parse as POSIX sh (dash -n)", () => {
    for (const s of ["common.sh", "backup.sh", "drill.sh"]) {
      const r = spawnSync("dash", ["-n", path.join(job.options.configDir, s)], { encoding: "utf8" });
      expect({ s, status: r.status, err: r.stderr }).toEqual({ s, status: 0, err: "" });
    }
  });

  test("the first run initialises the repository, dumps SQLite while it is written, backs up and checks", async () => {
    const db = path.join(job.options.rootDir, "sources/webui-data/webui.db");
    // A writer inserting rows during the backup, bounded (it stops by itself after 200 inserts).
    const writer = spawn("runuser", [
      "-u",
      RUN_AS,
      "--",
      "sh",
      "-c",
      `i=0; while [ $i -lt 200 ]; do sqlite3 ${db} "PRAGMA busy_timeout=5000; INSERT INTO chat (body) VALUES ('live $i');" || exit 1; i=$((i+1)); done`,
    ]);
    const writerDone = new Promise<number>((resolve) => writer.on("exit", (code) => resolve(code ?? -1)));
    const r = job.run("backup.sh");
    expect(await writerDone).toBe(0);
    expectOk(r, "backup.sh");
    expect(r.stderr).toMatch(/no repository yet: initialising/);
    const [line] = job.audit();
    expect(line).toMatchObject({ event: "zta.backup", status: "success", exit_code: 0, backup: "ai-backup" });
    expect(line.snapshot).toMatch(/^[0-9a-f]{8,64}$/);
    expect(snapshotCount(job)).toBe(1);
    // The live database file and the excluded cache are not in the snapshot; the dump and manifest are.
    const ls = restic(job, ["ls", "latest"]);
    expectOk(ls, "restic ls");
    expect(ls.stdout).toMatch(/dumps\/sqlite-webui-data-webui.db.db\n/);
    expect(ls.stdout).toMatch(/dumps\/manifest.sha256\n/);
    expect(ls.stdout).toMatch(/uploads\/report with spaces.bin\n/);
    expect(ls.stdout).not.toMatch(/webui-data\/webui.db\n/);
    expect(ls.stdout).not.toMatch(/cache\/model.bin/);
    const counts = fs.readFileSync(path.join(job.options.rootDir, "dumps/rowcounts.tsv"), "utf8");
    expect(counts).toMatch(/^sqlite\tsqlite-webui-data-webui.db.db\tuser\t2$/m);
    expect(Number(/\tchat\t(\d+)$/m.exec(counts)?.[1])).toBeGreaterThanOrEqual(500);
  });

  test("a second run reuses the repository, forget --prune applies the keep policy", () => {
    const r = job.run("backup.sh");
    expectOk(r, "backup.sh");
    expect(r.stderr).not.toMatch(/initialising/);
    // Two snapshots on the same day: keep-daily 7 keeps the newest of the day only.
    expect(snapshotCount(job)).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/remove 1 snapshots|removed.*snapshot/i);
  });

  test("the restore drill restores the latest snapshot and verifies manifest and row counts", () => {
    const r = job.run("drill.sh");
    expectOk(r, "drill.sh");
    const drill = job
      .audit()
      .filter((l) => l.event === "zta.drill")
      .pop();
    expect(drill).toMatchObject({ status: "success", databases_verified: 1 });
    expect(drill!.files_verified).toBeGreaterThanOrEqual(4);
    expect(fs.readdirSync(job.options.scratchDir)).toEqual([]);
    const metrics = fs.readFileSync(path.join(job.options.stateDir, "backup.prom"), "utf8");
    expect(metrics).toMatch(/zta_backup_last_success_timestamp_seconds\{backup="ai-backup",kind="drill"\} [1-9]\d+/);
    const check = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" });
    expect(check.status).toBe(0);
  });

  test("a drill whose restored files differ from the manifest fails", () => {
    // Tamper with the source after the snapshot is taken is not enough (the snapshot is immutable):
    // take a snapshot whose manifest lies, by backing up with a doctored manifest directly.
    const tampered = makeJob();
    expectOk(tampered.run("backup.sh"), "backup.sh");
    const manifest = path.join(tampered.options.rootDir, "dumps/manifest.sha256");
    const text = fs
      .readFileSync(manifest, "utf8")
      .replace(/^[0-9a-f]{64}( {2}sources\/webui-data\/uploads\/notes.txt)$/m, `${"0".repeat(64)}$1`);
    fs.writeFileSync(manifest, text);
    expectOk(
      restic(tampered, ["backup", "--host", "ai-backup", "--tag", "zta-backup", tampered.options.rootDir]),
      "restic backup",
    );
    const r = tampered.run("drill.sh");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/restored files differ from the manifest/);
    expect(tampered.audit().pop()).toMatchObject({ event: "zta.drill", status: "failure" });
  });

  test("a wrong password fails loudly and never re-initialises the repository", () => {
    const configBefore = fs.readFileSync(path.join(job.dir, "repo/config"));
    const passwordFile = path.join(job.options.configDir, "restic-password");
    const good = fs.readFileSync(passwordFile);
    fs.writeFileSync(passwordFile, "wrong password\n");
    try {
      const r = job.run("backup.sh");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/wrong password/);
      expect(r.stderr).toMatch(/not initialising over it/);
      expect(job.audit().pop()).toMatchObject({ event: "zta.backup", status: "failure" });
      expect(fs.readFileSync(path.join(job.dir, "repo/config"))).toEqual(configBefore);
      const drill = job.run("drill.sh");
      expect(drill.status).not.toBe(0);
    } finally {
      fs.writeFileSync(passwordFile, good);
    }
  });

  test("a corrupted pack file is detected by the job's check", () => {
    const damaged = makeJob();
    expectOk(damaged.run("backup.sh"), "backup.sh");
    const dataDir = path.join(damaged.dir, "repo/data");
    const packs = fs
      .readdirSync(dataDir)
      .flatMap((sub) => fs.readdirSync(path.join(dataDir, sub)).map((f) => path.join(dataDir, sub, f)));
    const biggest = packs.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
    fs.chmodSync(biggest, 0o644);
    const bytes = fs.readFileSync(biggest);
    for (let i = 100; i < 200; i++) bytes[i] ^= 0xff;
    fs.writeFileSync(biggest, bytes);
    const r = damaged.run("backup.sh");
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(
      /pack [0-9a-f]+|Fatal: repository contains errors|ciphertext verification failed/,
    );
    expect(damaged.audit().pop()).toMatchObject({ event: "zta.backup", status: "failure" });
  });

  test("an append-only job never forgets", () => {
    const appendOnly = makeJob({ appendOnly: true });
    expectOk(appendOnly.run("backup.sh"), "backup.sh");
    const r = appendOnly.run("backup.sh");
    expectOk(r, "backup.sh");
    expect(r.stderr).toMatch(/append-only repository/);
    expect(snapshotCount(appendOnly)).toBe(2);
  });
});

/**
 * A stand-in for restic's rest-server started with --append-only (Debian 12 packages no rest-server):
 * its REST protocol (config, /<type>/ listings, HEAD/GET with Range, POST, DELETE) as restic's REST
 * backend uses it, and its append-only rule: no DELETE except of locks, no overwriting. Loopback only.
 */
class AppendOnlyRestServer {
  public readonly refused: string[] = [];
  private server?: http.Server;
  constructor(private readonly dir: string) {}

  public async start(port: number): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
  }

  public stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const parts = url.pathname.split("/").filter((p) => p !== "");
    const send = (code: number, body?: Buffer | string, headers: Record<string, string> = {}) => {
      res.writeHead(code, headers);
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method === "POST" && parts.length === 0 && url.searchParams.get("create") === "true") {
      for (const t of ["data", "keys", "locks", "snapshots", "index"])
        fs.mkdirSync(path.join(this.dir, t), { recursive: true });
      return send(200);
    }
    const [type, name] = parts.length === 1 && parts[0] === "config" ? ["config", ""] : parts;
    const file = type === "config" ? path.join(this.dir, "config") : path.join(this.dir, type ?? "", name ?? "");
    if (req.method === "GET" && name === undefined && type !== "config") {
      const names = fs.existsSync(file) ? fs.readdirSync(file) : [];
      const v2 = (req.headers.accept ?? "").includes("application/vnd.x.restic.rest.v2");
      const body = v2 ? names.map((n) => ({ name: n, size: fs.statSync(path.join(file, n)).size })) : names;
      return send(200, JSON.stringify(body), {
        "Content-Type": v2 ? "application/vnd.x.restic.rest.v2" : "application/json",
      });
    }
    if (req.method === "GET" || req.method === "HEAD") {
      if (!fs.existsSync(file)) return send(404, "not found");
      const all = fs.readFileSync(file);
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      if (range) {
        const start = Number(range[1]);
        const end = range[2] === "" ? all.length - 1 : Math.min(Number(range[2]), all.length - 1);
        const part = all.subarray(start, end + 1);
        return send(206, part, {
          "Content-Length": String(part.length),
          "Content-Range": `bytes ${start}-${end}/${all.length}`,
        });
      }
      return send(200, all, { "Content-Length": String(all.length) });
    }
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (fs.existsSync(file)) {
          this.refused.push(`POST ${url.pathname}`);
          return send(403, "append-only: exists");
        }
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, Buffer.concat(chunks));
        send(200);
      });
      return;
    }
    if (req.method === "DELETE") {
      if (type !== "locks") {
        this.refused.push(`DELETE ${url.pathname}`);
        return send(403, "append-only");
      }
      if (fs.existsSync(file)) fs.unlinkSync(file);
      return send(200);
    }
    send(405);
  }
}

/** Runs a job script without blocking the event loop (the stand-in server lives in this process). */
function runAsync(job: Job, script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("runuser", [
      "-u",
      RUN_AS,
      "--",
      "env",
      `PATH=${PATH_WITH_PG}`,
      "HOME=/nonexistent",
      "sh",
      path.join(job.options.configDir, script),
    ]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60000);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function expectOkAsync(r: { status: number | null; stdout: string; stderr: string }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\n${r.stderr}\n${r.stdout}`);
}

describe("append-only rest-server (stand-in)", () => {
  test("an append-only job backs up and drills; a job that forgets is refused and fails loudly", async () => {
    const [port] = await freePorts(1);
    const server = new AppendOnlyRestServer(makeTempDir("zta-rest-"));
    await server.start(port);
    try {
      const appendOnly = makeJob({ appendOnly: true, volumes: [{ name: "webui-data", exclude: [] }] });
      fs.writeFileSync(path.join(appendOnly.options.configDir, "repository"), `rest:http://127.0.0.1:${port}/\n`);
      expectOkAsync(await runAsync(appendOnly, "backup.sh"), "backup.sh (append-only, first)");
      expectOkAsync(await runAsync(appendOnly, "backup.sh"), "backup.sh (append-only, second)");
      expectOkAsync(await runAsync(appendOnly, "drill.sh"), "drill.sh over rest");
      expect(server.refused).toEqual([]);

      // The same repository, but a job configured to forget: the server refuses the snapshot delete.
      const forgetting = makeJob({ appendOnly: false, volumes: [{ name: "webui-data", exclude: [] }] });
      fs.writeFileSync(path.join(forgetting.options.configDir, "repository"), `rest:http://127.0.0.1:${port}/\n`);
      fs.copyFileSync(
        path.join(appendOnly.options.configDir, "restic-password"),
        path.join(forgetting.options.configDir, "restic-password"),
      );
      const r = await runAsync(forgetting, "backup.sh");
      expect(r.status).not.toBe(0);
      expect(server.refused.some((x) => x.startsWith("DELETE /snapshots/"))).toBe(true);
      expect(forgetting.audit().pop()).toMatchObject({ event: "zta.backup", status: "failure" });
    } finally {
      await server.stop();
    }
  }, 120000);
});

describe("scheduler loop", () => {
  test("runs a due backup and drill at once, keeps a heartbeat, and stops on TERM", async () => {
    const job = makeJob();
    // setpriv execs (runuser stays as a parent and dies by the forwarded signal itself), so TERM reaches sh.
    const loop = spawn(
      "setpriv",
      [
        "--reuid",
        RUN_AS,
        "--regid",
        "nogroup",
        "--clear-groups",
        "--",
        "env",
        `PATH=${PATH_WITH_PG}`,
        "sh",
        path.join(job.options.configDir, "scheduler.sh"),
      ],
      { stdio: "ignore" },
    );
    const exited = new Promise<number | null>((resolve) => loop.on("exit", (code) => resolve(code)));
    try {
      // Bounded wait: up to 120 polls of 500 ms for the first backup and drill lines.
      for (let i = 0; i < 120 && job.audit().length < 2; i++) await new Promise((r) => setTimeout(r, 500));
      expect(job.audit().map((l) => `${l.event}:${l.status}`)).toEqual(["zta.backup:success", "zta.drill:success"]);
      expect(fs.existsSync(path.join(job.options.stateDir, "heartbeat"))).toBe(true);
    } finally {
      loop.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});

describe("Postgres source with real PostgreSQL 15", () => {
  let job: Job;
  let pgdata: string;
  beforeAll(async () => {
    const [port] = await freePorts(1);
    job = makeJob({
      sqlite: [],
      postgres: [{ name: "gateway", host: "127.0.0.1", port, database: "gateway", user: "gateway" }],
    });
    pgdata = path.join(job.dir, "source-pg");
    const sock = path.join(job.dir, "source-sock");
    const pwfile = path.join(job.dir, "pw");
    // A password with the characters pgpass needs escaped.
    const password = "s3cr:et\\pa ss";
    fs.writeFileSync(pwfile, password);
    fs.writeFileSync(path.join(job.options.configDir, "pg-gateway.password"), password);
    fs.mkdirSync(sock);
    chownTree(job.dir);
    expectOk(
      asNobody([
        "initdb",
        "-D",
        pgdata,
        "-U",
        "gateway",
        "--pwfile",
        pwfile,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
      ]),
      "initdb",
    );
    expectOk(
      asNobody([
        "pg_ctl",
        "-D",
        pgdata,
        "-w",
        "-l",
        path.join(job.dir, "source-pg.log"),
        "-o",
        `-c listen_addresses=127.0.0.1 -p ${port} -k ${sock}`,
        "start",
      ]),
      "pg_ctl start",
    );
    const psql = (db: string, sql: string) =>
      expectOk(
        asNobody([
          "psql",
          "-q",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          sock,
          "-p",
          String(port),
          "-U",
          "gateway",
          "-d",
          db,
          "-c",
          sql,
        ]),
        sql,
      );
    psql("postgres", "CREATE DATABASE gateway");
    psql(
      "gateway",
      'CREATE TABLE keys (id serial PRIMARY KEY, name text NOT NULL); CREATE TABLE "Spend" (id bigserial PRIMARY KEY, note text);' +
        "INSERT INTO keys (name) SELECT 'key-' || g FROM generate_series(1, 321) g;" +
        "INSERT INTO \"Spend\" (note) SELECT E'multi\\nline ' || g FROM generate_series(1, 77) g;",
    );
  });
  afterAll(() => {
    if (pgdata) asNobody(["pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"]);
  });

  test("pg_dump over loopback with a password file, backup, restore into a throwaway instance, identical rows", () => {
    expectOk(job.run("backup.sh"), "backup.sh");
    const counts = fs.readFileSync(path.join(job.options.rootDir, "dumps/rowcounts.tsv"), "utf8");
    expect(counts).toContain("postgres\tpostgres-gateway.sql\tpublic.keys\t321\n");
    expect(counts).toContain('postgres\tpostgres-gateway.sql\tpublic."Spend"\t77\n');
    const r = job.run("drill.sh");
    expectOk(r, "drill.sh");
    expect(job.audit().pop()).toMatchObject({ event: "zta.drill", status: "success", databases_verified: 1 });
  });

  test("a wrong database password fails the backup", () => {
    const file = path.join(job.options.configDir, "pg-gateway.password");
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, "not-it");
    try {
      const r = job.run("backup.sh");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/password authentication failed/);
    } finally {
      fs.writeFileSync(file, good);
    }
  });
});

describe("alert rules (real promtool)", () => {
  test("fire on a stale backup and a missed drill, stay quiet when fresh", () => {
    const dir = makeTempDir("zta-rules-");
    fs.writeFileSync(path.join(dir, "rules.yml"), renderBackupAlertRules(26, 91));
    expectOk(
      spawnSync("promtool", ["check", "rules", path.join(dir, "rules.yml")], { encoding: "utf8" }),
      "promtool check rules",
    );
    // Series: backup succeeded at t=0 and never again; drill succeeded at t=0.
    fs.writeFileSync(
      path.join(dir, "test.yml"),
      `rule_files: [rules.yml]
evaluation_interval: 1h
tests:
  - interval: 1h
    input_series:
      - series: 'zta_backup_last_success_timestamp_seconds{backup="ai",kind="backup"}'
        values: '0x100'
      - series: 'zta_backup_last_success_timestamp_seconds{backup="ai",kind="drill"}'
        values: '0x100'
    alert_rule_test:
      - eval_time: 25h
        alertname: ZtaBackupMissing
        exp_alerts: []
      - eval_time: 27h
        alertname: ZtaBackupMissing
        exp_alerts:
          - exp_labels: { severity: critical, backup: ai, kind: backup }
            exp_annotations: { summary: "No successful backup of ai in 26 h" }
      - eval_time: 27h
        alertname: ZtaRestoreDrillMissing
        exp_alerts: []
`,
    );
    expectOk(
      spawnSync("promtool", ["test", "rules", path.join(dir, "test.yml")], { encoding: "utf8" }),
      "promtool test rules",
    );
  });
});
