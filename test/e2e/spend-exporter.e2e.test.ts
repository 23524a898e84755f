/**
 * ApiGateway's spend exporter end to end on real binaries: PostgreSQL 15 (Debian's, as nobody) holds LiteLLM's
 * "LiteLLM_SpendLogs" table as LiteLLM's Prisma migration creates it (test/support/litellm-spend-logs.ts), the
 * grants job's script (sh + psql) creates the read-only role, and the exporter's script runs under busybox sh (the
 * postgres image's shell) with psql 15, as nobody, with the files the construct renders (taken from the
 * synthesized stack, generated passwords substituted). Rows are inserted the way LiteLLM writes them.
 *
 * Missing binaries fail, never skip. Network traffic: loopback only.
 */
import { spawnSync } from "child_process";
import { checkAuditEvent } from "../../lib/audit-events";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ApiGateway } from "../../index";
import { SPEND_READER_ROLE } from "../../lib/spend-exporter";
import { REVISION, resources, synth, uploaded } from "../helpers";
import { inferenceStack } from "../exposure-helpers";
import { LITELLM_SPEND_LOGS_DDL, LITELLM_VERIFICATION_TOKEN_DDL } from "../support/litellm-spend-logs";
import { ManagedProcess, freePorts, makeTempDir, requireBinary } from "./harness";
import { asNobody as runAsNobody, PG_BIN, requirePostgres, RUN_AS } from "../support/postgres";

const BUSYBOX = "/bin/busybox";
for (const b of ["setpriv", "runuser"]) requireBinary(b);
requirePostgres(["initdb", "pg_ctl", "psql"]);
if (!fs.existsSync(BUSYBOX)) throw new Error(`busybox is needed (the postgres image's shell): ${BUSYBOX}`);

const SETTLE = 30;
const INTERVAL = 5;

interface Files {
  exportSh: string;
  exportSql: string;
  grantsSh: string;
  grantsSql: string;
  ownerPassword: string;
  readerPassword: string;
}

let dir: string;
let port: number;
let files: Files;
let pgdata: string;
let exporter: ManagedProcess | undefined;

function render(): Files {
  const { stack, ai } = inferenceStack({
    model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, servedModelName: "qwen-0.5b" },
  });
  new ApiGateway(stack, "gateway", {
    inference: ai,
    hostname: "api.example.internal",
    apps: [{ name: "nightly", models: ["qwen-0.5b"] }],
    auditSpendLogs: true,
    spendLogIntervalSeconds: INTERVAL,
    spendLogSettleSeconds: SETTLE,
  });
  const json = synth(stack);
  const secrets = new Map<string, string>();
  const resolve = (text: string) =>
    text.replace(/\$\{random_password\.([^.}]+)\.result\}/g, (_, id: string) => {
      if (!secrets.has(id)) secrets.set(id, randomBytes(20).toString("hex"));
      return secrets.get(id)!;
    });
  const file = (loader: string, name: string) => resolve(uploaded(json, loader, name));
  const ids = Object.keys(resources(json, "random_password"));
  const owner = file("inference-gateway-spend-grants-config-loader", "db-password");
  // The same generated password in the job's and the exporter's volume (one random_password).
  expect(file("inference-gateway-spend-config-loader", "spend-reader-password")).toBe(
    file("inference-gateway-spend-grants-config-loader", "spend-reader-password"),
  );
  expect(ids.filter((id) => id.includes("spend-reader-password"))).toHaveLength(1);
  return {
    exportSh: file("inference-gateway-spend-config-loader", "export.sh"),
    exportSql: file("inference-gateway-spend-config-loader", "export.sql"),
    grantsSh: file("inference-gateway-spend-grants-config-loader", "grants.sh"),
    grantsSql: file("inference-gateway-spend-grants-config-loader", "grants.sql"),
    ownerPassword: owner,
    readerPassword: file("inference-gateway-spend-config-loader", "spend-reader-password"),
  };
}

function write(d: string, name: string, content: string): string {
  fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(d, name), content, { mode: 0o444 });
  return path.join(d, name);
}

/** The tools as nobody, with only PostgreSQL's and the system's directories on PATH. */
function asNobody(args: string[], env: Record<string, string> = {}) {
  return runAsNobody(args, env, `${PG_BIN}:/usr/bin:/bin`);
}

/** psql as a role with its password (over TCP, scram): each statement its own -c (its own transaction); the output or the error. */
function psqlAs(user: string, password: string, ...sqls: string[]): { ok: boolean; out: string } {
  const r = spawnSync(
    path.join(PG_BIN, "psql"),
    [
      "-X",
      "-qAt",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      user,
      "-d",
      "litellm",
      ...sqls.flatMap((q) => ["-c", q]),
    ],
    {
      encoding: "utf8",
      env: { ...process.env, PGPASSWORD: password },
    },
  );
  return { ok: r.status === 0, out: (r.status === 0 ? r.stdout : r.stderr).trim() };
}
const owner = (sql: string) => {
  const r = psqlAs("litellm", files.ownerPassword, sql);
  if (!r.ok) throw new Error(r.out);
  return r.out;
};
const reader = (...sqls: string[]) => psqlAs(SPEND_READER_ROLE, files.readerPassword, ...sqls);

/** Runs the grants job's script as the job would (its uid, its files), against the local server. */
function grants(waitSeconds = 10) {
  const configDir = path.join(dir, "grants");
  write(configDir, "grants.sh", files.grantsSh);
  write(configDir, "grants.sql", files.grantsSql);
  write(configDir, "db-password", files.ownerPassword);
  write(configDir, "spend-reader-password", files.readerPassword);
  const run = fs.mkdtempSync(path.join(dir, "grants-run-"));
  spawnSync("chown", [`${RUN_AS}:nogroup`, run]);
  return asNobody([BUSYBOX, "sh", path.join(configDir, "grants.sh")], {
    ZTA_CONFIG_DIR: configDir,
    ZTA_RUN_DIR: run,
    ZTA_WAIT_SECONDS: String(waitSeconds),
    PGHOST: "127.0.0.1",
    PGPORT: String(port),
  });
}

const exportDir = () => path.join(dir, "export");
const stateDir = () => path.join(dir, "state");
const runDir = () => path.join(dir, "export-run");

/** Starts the exporter's script as nobody under busybox sh (setpriv execs it: signals reach the script itself). */
function startExporter(): ManagedProcess {
  write(exportDir(), "export.sh", files.exportSh);
  write(exportDir(), "export.sql", files.exportSql);
  write(exportDir(), "spend-reader-password", files.readerPassword);
  for (const d of [stateDir(), runDir()]) {
    fs.mkdirSync(d, { recursive: true });
    spawnSync("chown", [`${RUN_AS}:nogroup`, d]);
  }
  fs.rmSync(path.join(runDir(), "zta-spend-exported-at"), { force: true });
  return new ManagedProcess(
    "spend-exporter",
    "setpriv",
    ["--reuid", RUN_AS, "--regid", "nogroup", "--clear-groups", BUSYBOX, "sh", path.join(exportDir(), "export.sh")],
    {
      PATH: `${PG_BIN}:/usr/bin:/bin`,
      HOME: "/nonexistent",
      ZTA_CONFIG_DIR: exportDir(),
      ZTA_STATE_DIR: stateDir(),
      ZTA_RUN_DIR: runDir(),
      PGHOST: "127.0.0.1",
      PGPORT: String(port),
    },
  );
}

function linesOf(p: ManagedProcess): Record<string, unknown>[] {
  return p.output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

/** Waits (bounded) for the next successful poll: the heartbeat file changes. */
async function nextPoll(p: ManagedProcess, after?: string): Promise<string> {
  const beat = path.join(runDir(), "zta-spend-exported-at");
  for (let i = 0; i < 100; i++) {
    const now = fs.existsSync(beat) ? fs.readFileSync(beat, "utf8") : undefined;
    if (now !== undefined && now !== after) return now;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no poll of the exporter in 20 s\n${p.logs()}`);
}

/** A row as LiteLLM's get_logging_payload writes it; `endedSecondsAgo` sets "endTime" (UTC, no time zone). */
function insertCall(o: {
  id: string;
  alias: string;
  model: string;
  prompt: number;
  completion: number;
  spend: number;
  endedSecondsAgo: number;
  status?: string;
  metadataAsString?: boolean;
}) {
  const metadata = JSON.stringify({
    user_api_key: "0".repeat(64),
    user_api_key_alias: o.alias,
    status: o.status ?? "success",
  }).replace(/'/g, "''");
  const meta = o.metadataAsString ? `to_jsonb('${metadata}'::text)` : `'${metadata}'::jsonb`;
  const end = `(now() AT TIME ZONE 'UTC') - make_interval(secs => ${o.endedSecondsAgo})`;
  owner(
    `INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime", model, model_group, metadata, status)
     VALUES ('${o.id}', 'acompletion', '${"0".repeat(64)}', ${o.spend}, ${o.prompt + o.completion}, ${o.prompt}, ${o.completion}, ${end} - interval '1 second', ${end},
             'Qwen/Qwen2.5-0.5B-Instruct', '${o.model}', ${meta}, ${o.status === undefined ? "'success'" : `'${o.status}'`})`,
  );
}

beforeAll(async () => {
  dir = makeTempDir("zta-e2e-spend-");
  files = render();
  [port] = await freePorts(1);
  pgdata = path.join(dir, "pg");
  const sock = path.join(dir, "pg-sock");
  fs.mkdirSync(sock);
  const pwfile = path.join(dir, "pgpw");
  fs.writeFileSync(pwfile, files.ownerPassword);
  fs.mkdirSync(pgdata);
  spawnSync("chown", [`${RUN_AS}:nogroup`, sock, pwfile, pgdata]);
  for (const args of [
    ["initdb", "-D", pgdata, "-U", "litellm", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256"],
    [
      "pg_ctl",
      "-D",
      pgdata,
      "-w",
      "-l",
      path.join(sock, "pg.log"),
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${sock}`,
      "start",
    ],
    ["psql", "-q", "-h", sock, "-p", String(port), "-U", "litellm", "-d", "postgres", "-c", "CREATE DATABASE litellm"],
  ]) {
    const r = asNobody(args);
    if (r.status !== 0) throw new Error(`${args.join(" ")}:\n${r.stdout}${r.stderr}`);
  }
}, 120000);

afterAll(async () => {
  await exporter?.stop();
  if (pgdata && fs.existsSync(path.join(pgdata, "postmaster.pid")))
    asNobody(["pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the grants job on PostgreSQL 15", () => {
  test("before LiteLLM's migrations made the table it waits, then fails (the container's restarts retry); no role yet", () => {
    const r = grants(2);
    expect({ status: r.status, err: r.stderr.trim() }).toEqual({
      status: 1,
      err: 'spend grants: no table "LiteLLM_SpendLogs" in litellm after 2 seconds',
    });
    expect(owner(`SELECT count(*) FROM pg_roles WHERE rolname = '${SPEND_READER_ROLE}'`)).toBe("0");
  });

  test("with the table: creates the role; a second run changes nothing and succeeds (idempotent)", () => {
    owner(LITELLM_SPEND_LOGS_DDL);
    owner(LITELLM_VERIFICATION_TOKEN_DDL);
    owner(`INSERT INTO "LiteLLM_VerificationToken" (token, key_alias) VALUES ('${"a".repeat(64)}', 'nightly')`);
    for (let i = 0; i < 2; i++) {
      const r = grants();
      expect({ status: r.status, out: r.stdout.trim(), err: r.stderr }).toEqual({
        status: 0,
        out: `spend grants: ${SPEND_READER_ROLE} may read "LiteLLM_SpendLogs" only`,
        err: "",
      });
    }
    const role = owner(
      `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolconfig FROM pg_roles WHERE rolname = '${SPEND_READER_ROLE}'`,
    );
    expect(role).toBe("t|f|f|f|f|{default_transaction_read_only=on}");
  });
});

describe("the reader role is read-only and sees one table", () => {
  test("it reads the spend logs (positive control), with its own password only", () => {
    expect(reader(`SELECT count(*) FROM "LiteLLM_SpendLogs"`)).toEqual({ ok: true, out: "0" });
    expect(psqlAs(SPEND_READER_ROLE, "wrong", "SELECT 1")).toEqual({
      ok: false,
      out: expect.stringContaining(`password authentication failed for user "${SPEND_READER_ROLE}"`),
    });
  });

  test("it cannot INSERT or UPDATE: the read-only default refuses, and without it the missing grant does", () => {
    const insert = `INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, "startTime", "endTime") VALUES ('x', 'acompletion', now(), now())`;
    const update = `UPDATE "LiteLLM_SpendLogs" SET spend = 0`;
    for (const sql of [insert, update]) {
      expect(reader(sql)).toEqual({
        ok: false,
        out: expect.stringMatching(/cannot execute (INSERT|UPDATE) in a read-only transaction/),
      });
      // Any role may turn the default off for its session: the grant is what really refuses.
      expect(reader("SET default_transaction_read_only = off", sql)).toEqual({
        ok: false,
        out: expect.stringContaining("permission denied for table LiteLLM_SpendLogs"),
      });
    }
    // The owner may (the same statement is not refused for other reasons).
    expect(psqlAs("litellm", files.ownerPassword, "BEGIN", insert, "ROLLBACK").ok).toBe(true);
  });

  test("it cannot read another table or create one; a stray grant is found by the same check and removed by the next grants run", () => {
    const keys = `SELECT key_alias FROM "LiteLLM_VerificationToken"`;
    expect(reader(keys)).toEqual({
      ok: false,
      out: expect.stringContaining("permission denied for table LiteLLM_VerificationToken"),
    });
    expect(reader("SET default_transaction_read_only = off", "CREATE TABLE public.mine (x int)")).toEqual({
      ok: false,
      out: expect.stringContaining("permission denied for schema public"),
    });
    // Broken on purpose: a grant too many is visible to the check...
    owner(`GRANT SELECT ON "LiteLLM_VerificationToken" TO ${SPEND_READER_ROLE}`);
    expect(reader(keys)).toEqual({ ok: true, out: "nightly" });
    // ...and the grants job revokes everything but the spend logs on its next run.
    expect(grants().status).toBe(0);
    expect(reader(keys)).toEqual({
      ok: false,
      out: expect.stringContaining("permission denied for table LiteLLM_VerificationToken"),
    });
  });
});

describe("the exporter on PostgreSQL 15 (busybox sh + psql, as nobody)", () => {
  test("one JSON line per settled call, with the app, the model, token counts, spend and status, in end-time order", async () => {
    insertCall({
      id: "chatcmpl-b",
      alias: "nightly",
      model: "qwen-0.5b",
      prompt: 2,
      completion: 5,
      spend: 0.014,
      endedSecondsAgo: SETTLE + 20,
    });
    insertCall({
      id: "chatcmpl-a",
      alias: "ide",
      model: "qwen-b-only",
      prompt: 3,
      completion: 0,
      spend: 0,
      endedSecondsAgo: SETTLE + 40,
      status: "failure",
    });
    // The other shape LiteLLM may store metadata in (a JSON string): the app is read all the same.
    insertCall({
      id: "chatcmpl-c",
      alias: "string-meta",
      model: "qwen-0.5b",
      prompt: 1,
      completion: 1,
      spend: 0.004,
      endedSecondsAgo: SETTLE + 10,
      metadataAsString: true,
    });
    // Not settled yet: ended 5 s ago, the lag is 30 s.
    insertCall({
      id: "chatcmpl-late",
      alias: "nightly",
      model: "qwen-0.5b",
      prompt: 4,
      completion: 4,
      spend: 0.016,
      endedSecondsAgo: 5,
    });
    exporter = startExporter();
    await nextPoll(exporter);
    const lines = linesOf(exporter);
    expect(lines.map((l) => l.request_id)).toEqual(["chatcmpl-a", "chatcmpl-b", "chatcmpl-c"]);
    // Each line is a gateway.call event of the trail's schema (lib/audit-events.ts).
    expect(lines.map((l) => checkAuditEvent("gateway.call", l))).toEqual([[], [], []]);
    expect(lines[1]).toEqual({
      event: "gateway.call",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      request_id: "chatcmpl-b",
      app: "nightly",
      model: "qwen-0.5b",
      prompt_tokens: 2,
      completion_tokens: 5,
      total_tokens: 7,
      spend_usd: 0.014,
      status: "success",
    });
    expect(Object.keys(lines[1])).toEqual([
      "event",
      "time",
      "request_id",
      "app",
      "model",
      "prompt_tokens",
      "completion_tokens",
      "total_tokens",
      "spend_usd",
      "status",
    ]);
    expect(lines[0]).toMatchObject({ app: "ide", model: "qwen-b-only", status: "failure", total_tokens: 3 });
    expect(lines[2]).toMatchObject({ app: "string-meta" });
    // The time is the call's end in UTC: within a few seconds of what was written.
    const ended = Date.parse(String(lines[1].time));
    expect(Math.abs(Date.now() - (SETTLE + 20) * 1000 - ended)).toBeLessThan(15000);
    expect(fs.readFileSync(path.join(stateDir(), "cursor"), "utf8").split("\n")[1]).toBe(
      Buffer.from("chatcmpl-c").toString("hex"),
    );
  }, 60000);

  test("the settle lag: a call is held until it ended the lag ago, then exported once", async () => {
    const beat = await nextPoll(exporter!);
    expect(linesOf(exporter!).map((l) => l.request_id)).not.toContain("chatcmpl-late");
    // As if 30 s passed: its end moves back behind the lag (still after the cursor).
    owner(
      `UPDATE "LiteLLM_SpendLogs" SET "endTime" = (now() AT TIME ZONE 'UTC') - make_interval(secs => ${SETTLE + 1}) WHERE request_id = 'chatcmpl-late'`,
    );
    // Two polls: the first may have queried before the update.
    await nextPoll(exporter!, await nextPoll(exporter!, beat));
    const ids = linesOf(exporter!).map((l) => l.request_id);
    expect(ids.filter((id) => id === "chatcmpl-late")).toHaveLength(1);
    expect(ids).toHaveLength(4);
  }, 60000);

  test("a restart exports nothing twice (the cursor on the volume), only the calls since; SIGTERM stops it at once", async () => {
    const started = Date.now();
    await exporter!.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(exporter!.output).not.toMatch(/poll failed/);
    insertCall({
      id: "chatcmpl-d",
      alias: "nightly",
      model: "qwen-0.5b",
      prompt: 1,
      completion: 2,
      spend: 0.006,
      endedSecondsAgo: SETTLE + 1,
    });
    exporter = startExporter();
    await nextPoll(exporter);
    expect(linesOf(exporter).map((l) => l.request_id)).toEqual(["chatcmpl-d"]);
    // Broken on purpose: without the cursor (a lost volume) every call is exported again.
    await exporter.stop();
    fs.rmSync(path.join(stateDir(), "cursor"));
    exporter = startExporter();
    await nextPoll(exporter);
    expect(linesOf(exporter)).toHaveLength(5);
  }, 60000);

  test("a poll that cannot read (a wrong password) is reported on stderr and moves no heartbeat", async () => {
    await exporter!.stop();
    const good = files.readerPassword;
    files = { ...files, readerPassword: "wrong" };
    try {
      exporter = startExporter();
      for (let i = 0; i < 50 && !/poll failed/.test(exporter.output); i++) await new Promise((r) => setTimeout(r, 200));
      expect(exporter.output).toMatch(/spend exporter: poll failed: .*password authentication failed/);
      expect(fs.existsSync(path.join(runDir(), "zta-spend-exported-at"))).toBe(false);
      expect(linesOf(exporter)).toEqual([]);
    } finally {
      await exporter!.stop();
      files = { ...files, readerPassword: good };
      exporter = undefined;
    }
  }, 60000);
});
