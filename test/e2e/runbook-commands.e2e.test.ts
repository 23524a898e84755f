/**
 * The runbooks' commands, run for real: the audit queries of the AuditLog's day files with Debian's jq (1.6),
 * against day files in the collector's record shape (the wrapper from its syslog-ng template, the events with
 * the fields of the sidecars' and the gateway proxy's access-log formats); and the gateway's `ALTER ROLE`
 * step against PostgreSQL 15 set up as the official image does (local socket trusted, TCP with scram), run
 * as `nobody`. A stand-in `docker` on PATH plays only `docker cp` / `docker exec` of the exact container the
 * stack names, so the command lines run as the runbook prints them.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack, Testing } from "cdktf";
import { Lockdown } from "../../index";
import { renderCollectorConfig } from "../../lib/audit";
import { renderRunbooks } from "../../lib/runbooks";
import { FullStack } from "../lib/full-stack.fixture";
import { freePorts, localize, requireBinary } from "./harness";
import { PG_BIN, requirePostgres } from "../support/postgres";

requireBinary("jq");
requireBinary("runuser");
requirePostgres(["initdb", "pg_ctl", "psql"]);

type Json = { resource: Record<string, Record<string, any>> };
const stack = (): TerraformStack => {
  const s = new FullStack(Testing.app() as App, "full");
  new Lockdown(s);
  return s;
};
const json = JSON.parse(Testing.synth(stack())) as Json;
const books = renderRunbooks(json, "full");
const containers = Object.values(json.resource.docker_container);
const byRole = (role: string) =>
  containers.find((c) => (c.labels as any[]).some((l) => l.label === "zta.role" && l.value === role))!;

/** The shell blocks of a runbook. */
function blocks(file: string): string[] {
  const md = books.find((b) => b.file === file)!.markdown;
  return [...md.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** The keys of a JSON nginx log_format, read from the config the stack uploads. */
function logFormatKeys(name: string): string[] {
  const conf = containers
    .flatMap((c) => (c.upload ?? []) as any[])
    .map((u) => String(u.content ?? ""))
    .find((t) => t.includes(`log_format ${name} `))!;
  expect(conf).toBeDefined();
  const format = new RegExp(`log_format ${name} escape=json ([\\s\\S]*?);\\n`).exec(conf)![1];
  return [...format.matchAll(/"(\w+)":/g)].map((m) => m[1]);
}

function sh(script: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", ["-e", "-c", script], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-runbook-cmds-"));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, "bin"));
  // Stands in for the two docker commands the steps run; anything else (another container, another path) fails.
  fs.writeFileSync(
    path.join(dir, "bin", "docker"),
    `#!/bin/sh
if [ "$1" = cp ] && [ "$2" = "$ZTA_CP_SOURCE" ]; then cp -r "$ZTA_DAY_FILES" "$3"; exit 0; fi
# docker logs prints the container's stdout to stdout and its stderr to stderr.
if [ "$1" = logs ] && [ "$2" = "$ZTA_LOGS_CONTAINER" ]; then cat "$ZTA_LOGS_FILE"; echo "nginx: [warn] a stderr line" >&2; exit 0; fi
if [ "$1" = exec ] && [ "$2" = "$ZTA_EXEC_CONTAINER" ]; then
  shift 2
  exec runuser -u nobody -- env PATH=${PG_BIN}:/usr/bin:/bin HOME=/nonexistent PGHOST="$ZTA_PGHOST" PGPORT="$ZTA_PGPORT" "$@"
fi
echo "unexpected: docker $*" >&2
exit 97
`,
    { mode: 0o755 },
  );
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the audit queries (jq) over day files in the collector's record shape", () => {
  const collector = byRole("audit-collector");
  // Where the collector mounts the volume named zta-audit-data (the AuditLog's day files).
  const dataVolume = Object.entries(json.resource.docker_volume).find(([, v]) => v.name === "zta-audit-data")![0];
  const dataDir = (collector.volumes as any[]).find((v) =>
    String(v.volume_name).includes(`docker_volume.${dataVolume}.`),
  ).container_path as string;
  const sandbox = byRole("sandbox").name as string;
  const chatProxy = byRole("chat-proxy").name as string;
  const sidecar = byRole("mtls-sidecar").name as string;
  const gatewayProxy = byRole("api-gateway-proxy").name as string;
  const gateway = byRole("api-gateway").name as string;

  // The record's own keys, from the collector's template: received, container, host, stream (+ event or message).
  const wrapperKeys = [
    .../received=\$R_ISODATE container=\$PROGRAM host=\$HOST stream=\$LEVEL/
      .exec(renderCollectorConfig({ port: 1, configDir: "/c", dataDir: "/d", clientSubject: "x" }))![0]
      .matchAll(/(\w+)=\$/g),
  ].map((m) => m[1]);
  const sidecarKeys = logFormatKeys("zta_audit");
  const gatewayKeys = logFormatKeys("zta_gateway");
  const received = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace("Z", "+00:00");
  const H = 3600 * 1000;
  const sidecarEvent = (over: Record<string, unknown>) => ({
    ...Object.fromEntries(sidecarKeys.map((k) => [k, ""])),
    ...over,
  });
  const gatewayEvent = (over: Record<string, unknown>) => ({
    ...Object.fromEntries(gatewayKeys.map((k) => [k, ""])),
    ...over,
  });
  const rec = (msAgo: number, container: string, stream: string, body: { event: object } | { message: string }) => ({
    received: received(msAgo),
    container,
    host: "docker-host",
    stream,
    ...body,
  });
  const R = {
    // syslog-ng 3.x stores numbers as strings, 4.x keeps them: both shapes occur.
    keyCall: rec(1 * H, sidecar, "info", {
      event: sidecarEvent({
        request_id: "r1",
        identity: "gateway:ide-assistant",
        caller: "gateway",
        route: "/v1/chat/completions",
        status: "200",
      }),
    }),
    operatorRefused: rec(2 * H, sidecar, "info", {
      event: sidecarEvent({
        request_id: "r2",
        identity: "devops@example.com",
        caller: "edge",
        route: "/tokenize",
        status: 403,
      }),
    }),
    appLimited: rec(0.5 * H, gatewayProxy, "info", {
      event: gatewayEvent({
        app: "ide-assistant",
        client_cert: "CN=app-ide-assistant,OU=zta-operators,O=zta",
        uri: "/v1/chat/completions",
        status: 429,
      }),
    }),
    keyCallOld: rec(24 * H + 600000, sidecar, "info", {
      event: sidecarEvent({ request_id: "r4", identity: "gateway:ide-assistant", caller: "gateway", status: "200" }),
    }),
    litellmLine: rec(0.2 * H, gateway, "err", { message: "INFO: key alias ide-assistant over its rpm limit" }),
    chatCall: rec(0.1 * H, sidecar, "info", {
      event: sidecarEvent({ request_id: "r6", identity: "someone@example.com", caller: "chat", status: 200 }),
    }),
    sandboxLine: rec(0.1 * H, sandbox, "info", { message: "3 passed in 0.12s" }),
    oldFailure: rec(72 * H, sidecar, "info", {
      event: sidecarEvent({ request_id: "r8", identity: "other@example.com", caller: "edge", status: "502" }),
    }),
  };

  let evidence: string;
  const run = (block: string, extra: Record<string, string> = {}) => {
    evidence = fs.mkdtempSync(path.join(dir, "evidence-"));
    const r = sh(block, {
      E: evidence,
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      ZTA_CP_SOURCE: `${collector.name}:${dataDir}`,
      ZTA_DAY_FILES: path.join(dir, "day-files"),
      ...extra,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    return (name: string) =>
      fs
        .readFileSync(path.join(evidence, name), "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l));
  };
  const auditBlock = (file: string) => {
    const found = blocks(file).filter((b) => b.startsWith('A="$E/audit-'));
    expect(found).toHaveLength(1);
    return found[0];
  };
  const sorted = (rs: object[]) => [...rs].sort((a: any, b: any) => a.received.localeCompare(b.received));

  beforeAll(() => {
    // One file per UTC receive day, as the collector names them.
    const days = path.join(dir, "day-files");
    fs.mkdirSync(days);
    for (const r of Object.values(R))
      fs.appendFileSync(path.join(days, `${r.received.slice(0, 10)}.jsonl`), `${JSON.stringify(r)}\n`);
  });

  test("the fixture has the real record shape: the collector's keys and the access logs' fields", () => {
    expect(wrapperKeys).toEqual(["received", "container", "host", "stream"]);
    expect(sidecarKeys).toEqual(expect.arrayContaining(["identity", "caller", "client_cert", "route", "status"]));
    expect(gatewayKeys).toEqual(expect.arrayContaining(["app", "client_cert", "uri", "status"]));
    expect(collector.name).toBe("zta-audit-collector");
    expect(dataDir).toBe("/var/lib/zta-audit");
  });

  test("runbook 3: everything an identity did in the last 24 h, and every failed or refused call", () => {
    const block = localize(
      auditBlock("03-credential-leak.md"),
      [
        {
          from: "ID='<an e-mail, an app name or a certificate CN>'",
          to: "ID='ide-assistant'",
          why: "the identity asked about",
        },
      ],
      "audit block",
    );
    const read = run(block);
    // Its calls through the gateway (sidecar identity gateway:<app>), at the gateway proxy (app), LiteLLM's raw line; not the call 24 h + 10 min ago, not others'.
    expect(sorted(read("audit-identity-24h.jsonl"))).toEqual(sorted([R.keyCall, R.appLimited, R.litellmLine]));
    // 403 (a number), 429, and "502" (a string) from three days ago; not the "200"s, not lines without a status.
    expect(sorted(read("audit-refused.jsonl"))).toEqual(sorted([R.oldFailure, R.operatorRefused, R.appLimited]));
  });

  test("runbook 3: an operator's e-mail finds only that operator's calls", () => {
    const block = localize(
      auditBlock("03-credential-leak.md"),
      [
        {
          from: "ID='<an e-mail, an app name or a certificate CN>'",
          to: "ID='devops@example.com'",
          why: "the identity asked about",
        },
      ],
      "audit block",
    );
    expect(run(block)("audit-identity-24h.jsonl")).toEqual([R.operatorRefused]);
  });

  test("runbook 2: every call of the chat proxy to the sidecars; runbook 1: every line the sandbox wrote", () => {
    expect(run(auditBlock("02-rag-document-extraction.md"))(`audit-calls-${chatProxy}.jsonl`)).toEqual([R.chatCall]);
    expect(run(auditBlock("01-agent-secret-leak.md"))(`audit-lines-${sandbox}.jsonl`)).toEqual([R.sandboxLine]);
  });

  test("runbook 6: calls per app and status, from the gateway proxy's JSON log", () => {
    const line = blocks("06-abuse-gpu-dos.md")
      .flatMap((b) => b.split("\n"))
      .find((l) => l.startsWith(`docker logs ${gatewayProxy} `))!;
    expect(line).toBeDefined();
    // The proxy's stdout: its access lines (a healthcheck has no app) and a line that is not JSON.
    const lines = [
      gatewayEvent({ app: "ide-assistant", status: 200 }),
      gatewayEvent({ app: "ide-assistant", status: 200 }),
      gatewayEvent({ app: "ide-assistant", status: 429 }),
      gatewayEvent({ app: "nightly-summaries", status: 200 }),
      gatewayEvent({ app: "", status: 200 }),
    ].map((e) => JSON.stringify(e));
    const file = path.join(dir, "proxy.log");
    fs.writeFileSync(file, [...lines, "2026/01/01 10:00:00 [notice] 1#1: start worker processes"].join("\n") + "\n");
    const r = sh(line, {
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      ZTA_LOGS_CONTAINER: gatewayProxy,
      ZTA_LOGS_FILE: file,
    });
    expect(r.status).toBe(0);
    const counts = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/));
    // Most first; the order of equal counts is sort's (locale), not the runbook's.
    expect(counts[0]).toEqual(["2", "ide-assistant", "200"]);
    expect(counts.slice(1).sort()).toEqual([
      ["1", "ide-assistant", "429"],
      ["1", "nightly-summaries", "200"],
    ]);
  });

  test("the copy is of the collector's directory only: another source makes the stand-in docker fail", () => {
    const r = sh(auditBlock("05-host-compromise.md"), {
      E: fs.mkdtempSync(path.join(dir, "evidence-")),
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      ZTA_CP_SOURCE: `${collector.name}:/elsewhere`,
      ZTA_DAY_FILES: path.join(dir, "day-files"),
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`unexpected: docker cp ${collector.name}:${dataDir}`);
  });
});

describe("runbook 4: the gateway's new Postgres password, set with ALTER ROLE (PostgreSQL 15)", () => {
  const db = byRole("api-gateway-db");
  const env = Object.fromEntries(
    (db.env as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
  let pgdata: string;
  let port: number;
  const asNobody = (args: string[], extraEnv: string[] = []) =>
    spawnSync(
      "runuser",
      ["-u", "nobody", "--", "env", `PATH=${PG_BIN}:/usr/bin:/bin`, "HOME=/nonexistent", ...extraEnv, ...args],
      { encoding: "utf8", timeout: 120000 },
    );
  const must = (r: ReturnType<typeof asNobody>, what: string) => {
    if (r.status !== 0) throw new Error(`${what} failed:\n${r.stdout}${r.stderr}`);
  };
  /** A login over TCP with scram, as LiteLLM connects. */
  const login = (password: string) =>
    asNobody(
      [
        "psql",
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        env.POSTGRES_USER,
        "-d",
        env.POSTGRES_DB,
        "-Atc",
        "select 1",
      ],
      [`PGPASSWORD=${password}`],
    );
  const OLD = "oldPassw0rdAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  const NEW = "newPassw0rdBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
  let sock: string;
  let mounted: string;

  beforeAll(async () => {
    [port] = await freePorts(1);
    pgdata = path.join(dir, "pg");
    sock = path.join(dir, "pg-sock");
    const zta = path.join(dir, "etc-zta");
    for (const d of [pgdata, sock, zta]) fs.mkdirSync(d);
    spawnSync("chown", ["nobody:nogroup", pgdata, sock, zta]);
    // As the image's entrypoint: the cluster made with the first password (POSTGRES_USER a superuser), local trust, host scram.
    fs.writeFileSync(path.join(zta, "first"), `${OLD}\n`, { mode: 0o644 });
    must(
      asNobody([
        "initdb",
        "-D",
        pgdata,
        "-U",
        env.POSTGRES_USER,
        "--pwfile",
        path.join(zta, "first"),
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
      ]),
      "initdb",
    );
    must(
      asNobody([
        "pg_ctl",
        "-D",
        pgdata,
        "-w",
        "-l",
        path.join(sock, "pg.log"),
        "-o",
        `-c listen_addresses=127.0.0.1 -p ${port} -k ${sock}`,
        "start",
      ]),
      "pg_ctl start",
    );
    must(
      asNobody([
        "psql",
        "-q",
        "-h",
        sock,
        "-p",
        String(port),
        "-U",
        env.POSTGRES_USER,
        "-d",
        "postgres",
        "-c",
        `CREATE DATABASE ${env.POSTGRES_DB}`,
      ]),
      "createdb",
    );
    // The apply wrote the new password into the config volume the new container mounts.
    mounted = path.join(zta, "db-password");
    fs.writeFileSync(mounted, NEW, { mode: 0o644 });
  });
  afterAll(() => {
    if (pgdata && fs.existsSync(path.join(pgdata, "postmaster.pid")))
      asNobody(["pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"]);
  });

  test("before the step the new password is refused and the leaked one works; after it, the reverse", () => {
    expect(login(NEW).stderr).toMatch(/password authentication failed/);
    expect(login(OLD).status).toBe(0);
    const line = blocks("04-internal-secret-leak.md")
      .flatMap((b) => b.split("\n"))
      .find((l) => l.startsWith(`docker exec ${db.name} `) && l.includes("ALTER ROLE"))!;
    expect(line).toBeDefined();
    const local = localize(
      line,
      [{ from: env.POSTGRES_PASSWORD_FILE, to: mounted, why: "the container's config mount" }],
      "ALTER ROLE line",
    );
    const r = sh(local, {
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      ZTA_EXEC_CONTAINER: db.name,
      ZTA_PGHOST: sock,
      ZTA_PGPORT: String(port),
    });
    expect({ status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({
      status: 0,
      stderr: "",
      stdout: "ALTER ROLE\n",
    });
    expect(login(NEW).status).toBe(0);
    expect(login(OLD).stderr).toMatch(/password authentication failed/);
  });
});
