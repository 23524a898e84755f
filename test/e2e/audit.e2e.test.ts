/**
 * The audit trail with real binaries: real nginx (the sidecar) and Caddy (the edge) write their JSON access
 * lines for real requests; a real syslog-ng runs the collector config AuditLog synthesizes (paths and port
 * localized) and receives those lines framed the way Docker's syslog driver frames them (RFC 5424 with
 * microseconds, octet counting, over TLS with the daemon's client certificate). The daemon leg itself (the
 * driver options on a real engine) is test/engine/audit.engine.test.ts. The retention script the construct
 * renders runs under a real sh against day files of known dates. Every record the collector stored is
 * checked against the documented event schema (lib/audit-events.ts, docs/audit.md).
 */
import { spawn, spawnSync } from "child_process";
import { ACCESS_LOGGER } from "../support/client";
import * as fs from "fs";
import * as path from "path";
import { AuditLog, PolicyProfile, SecureInference } from "../../index";
import { AUDIT_DATA_DIR, DAEMON_IDENTITY } from "../../lib/audit";
import { checkAuditRecord, classifyAuditRecord } from "../../lib/audit-events";
import { CERT_ORGANIZATION, SERVICE_OU } from "../../lib/identities";
import { inferenceProps, stackWithProviders, synth, uploaded } from "../helpers";
import {
  CertificateFiles,
  Chain,
  ManagedProcess,
  MockVllm,
  StubGate,
  TestPki,
  caseId,
  createPki,
  edgeRequest,
  eventually,
  freePorts,
  issueWithOpenssl,
  localize,
  makeTempDir,
  renderChain,
  requireBinary,
  send,
  sidecarRequest,
  startChain,
} from "./harness";
import { dockerFrame, readDayFiles, sendFrames, startCollector } from "../support/syslog";

const API_KEY = "e2e-audit-vllm-key";

describe("AuditLog collector: real syslog-ng receiving real nginx and Caddy access lines", () => {
  const stack = stackWithProviders();
  const ai = new SecureInference(stack, "inference", inferenceProps(stack));
  // The day-file leg; the push to Loki beside it is audit-loki.e2e.test.ts.
  new AuditLog(stack, "audit", { ca: ai.ca, profile: PolicyProfile.TEAM, retentionDays: 120, loki: false });
  const json = synth(stack);
  const conf = uploaded(json, "zta-audit-collector-config-loader", "syslog-ng.conf");
  const pruneScript = uploaded(json, "zta-audit-retention-config-loader", "prune.sh");

  let dir: string;
  let pki: TestPki;
  let daemon: CertificateFiles;
  let otherService: CertificateFiles;
  let mock: MockVllm;
  let gate: StubGate;
  let chain: Chain;
  let collector: ManagedProcess;
  let port: number;
  let dataDir: string;

  beforeAll(async () => {
    const rendered = renderChain({});
    dir = makeTempDir("zta-e2e-audit-");
    pki = createPki(path.join(dir, "pki"), rendered.pkiNames);
    const service = (cn: string): [string, string][] => [["O", CERT_ORGANIZATION], ["OU", SERVICE_OU], ["CN", cn]];
    const server = issueWithOpenssl(pki.dir, "collector", "server", service("zta-audit-collector"), ["zta-audit-collector", "localhost"], pki.ca);
    daemon = issueWithOpenssl(pki.dir, "daemon", "client", service(DAEMON_IDENTITY.commonName), [], pki.ca);
    otherService = issueWithOpenssl(pki.dir, "not-daemon", "client", service("zta-edge"), [], pki.ca);
    [port] = await freePorts(1);
    ({ process: collector, dataDir } = await startCollector(conf, dir, port, { ca: pki.ca, server }));

    mock = new MockVllm();
    await mock.start();
    gate = new StubGate(pki, rendered.sessionCookieName!);
    await gate.start();
    chain = await startChain({ pki, mock, gate, apiKey: API_KEY });
  });

  afterAll(async () => {
    await chain?.stop();
    await gate?.stop();
    await mock?.stop();
    await collector?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the sidecar's per-call line and a refused call arrive with identity, route, status and the container that wrote them", async () => {
    const ok = caseId("audit-ok");
    const okEx = await send(edgeRequest(chain, pki, ok, { headers: { Authorization: "Bearer valid-auditor" } }));
    expect(okEx.status).toBe(200);
    // A CA-valid certificate that is not one of the sidecar's callers: 403, logged with its subject.
    const refused = await send(sidecarRequest(chain, pki, caseId("audit-refused"), { clientCert: pki.operator }));
    expect(refused.status).toBe(403);
    const lines = await eventually(() => {
      const all = fs.readFileSync(chain.paths.sidecarAccessLog, "utf8").split("\n").filter((l) => l !== "");
      return all.length >= 2 ? all : undefined;
    }, "two sidecar access lines");

    expect(await sendFrames(port, pki.ca.certPem, daemon, lines.map((l) => dockerFrame("inference-vllm-0-sidecar", "stdout", l)))).toBe("sent");
    const stored = await eventually(() => {
      const s = readDayFiles(dataDir).filter((r) => r.container === "inference-vllm-0-sidecar");
      return s.length >= lines.length ? s : undefined;
    }, "the sidecar lines in the day file", 80, 50);

    const sent = lines.map((l) => JSON.parse(l));
    // Every field of every line survives. syslog-ng 3.38 stores values as strings and numbers reformatted
    // ("0.002" -> "0.002000"); 4.x keeps JSON types. So numbers compare as numbers.
    for (const [i, original] of sent.entries()) {
      const event = stored[i].event;
      for (const [k, v] of Object.entries(original)) {
        const got = typeof v === "number" ? Number(event[k]) : String(event[k]);
        expect({ k, v: got }).toEqual({ k, v: typeof v === "number" ? v : String(v) });
      }
    }
    // As stored, both lines conform to the schema: the call and the refusal, each its own event type.
    expect(stored.map((r) => ({ event: classifyAuditRecord(r), violations: checkAuditRecord(r) }))).toEqual([
      { event: "inference.call", violations: [] },
      { event: "inference.refused", violations: [] },
    ]);
    const call = stored.find((r) => r.event.status === "200" || r.event.status === 200)!;
    expect(call.event).toMatchObject({ identity: expect.stringContaining("auditor"), caller: "edge", route: "/v1/models" });
    const denied = stored.find((r) => String(r.event.status) === "403")!;
    expect(denied.event.client_cert).toContain(`CN=${"devops-laptop"}`);
    const today = new Date().toISOString().slice(0, 10);
    expect(fs.existsSync(path.join(dataDir, `${today}.jsonl`))).toBe(true);
    expect(stored[0]).toMatchObject({ host: "e2e-docker-host", stream: "info", received: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*\+00:00$/) });
  });

  test("Caddy's JSON access line (the edge, with the presented client certificate) and a plain stderr line", async () => {
    const id = caseId("audit-edge");
    await send(edgeRequest(chain, pki, id, { headers: { Authorization: "Bearer valid-edgeaudit" } }));
    const edgeLine = await eventually(
      () => chain.caddy.logs().split("\n").find((l) => ACCESS_LOGGER.test(l) && l.includes(id)),
      "the edge's access line",
    );
    const stderrLine = "nginx: [warn] a plain line\nwith a second line";
    expect(
      await sendFrames(port, pki.ca.certPem, daemon, [dockerFrame("inference-edge", "stdout", edgeLine.trim()), dockerFrame("inference-edge", "stderr", stderrLine)]),
    ).toBe("sent");
    const stored = await eventually(() => {
      const s = readDayFiles(dataDir).filter((r) => r.container === "inference-edge");
      return s.length >= 2 ? s : undefined;
    }, "the edge's records", 80, 50);
    expect(stored[0].event).toMatchObject({ logger: expect.stringMatching(/^http\.log\.access(\.log\d+)?$/) });
    expect(stored.map((r) => ({ event: classifyAuditRecord(r), violations: checkAuditRecord(r) }))).toEqual([
      { event: "edge.request", violations: [] },
      { event: undefined, violations: [] },
    ]);
    expect(JSON.stringify(stored[0].event)).toContain(id);
    // Multi-line output stays one record (octet framing), kept raw since it is not JSON.
    expect(stored[1]).toMatchObject({ stream: "err", message: stderrLine });
  });

  test("refused at the edge: 401 without a token is an auth.refused record with the status and the presented certificate; a refused handshake writes none", async () => {
    const accessLines = () => chain.caddy.logs().split("\n").filter((l) => ACCESS_LOGGER.test(l));
    const id = caseId("audit-edge-401");
    expect((await send(edgeRequest(chain, pki, id))).status).toBe(401);
    const line = await eventually(() => accessLines().find((l) => l.includes(id)), "the edge's 401 line");
    expect(await sendFrames(port, pki.ca.certPem, daemon, [dockerFrame("inference-edge-401", "stdout", line.trim())])).toBe("sent");
    const [record] = await eventually(() => {
      const s = readDayFiles(dataDir).filter((r) => r.container === "inference-edge-401");
      return s.length >= 1 ? s : undefined;
    }, "the edge's refusal record", 80, 50);
    expect(classifyAuditRecord(record)).toBe("auth.refused");
    expect(checkAuditRecord(record)).toEqual([]);
    expect(Number(record.event.status)).toBe(401);
    // The certificate the client presented (pki.operator), as far as Caddy's log names it: CN and serial.
    expect(record.event.request.tls).toMatchObject({ client_common_name: "devops-laptop", client_serial: expect.stringMatching(/^\d+$/) });

    // Without a client certificate the handshake is refused, and Caddy writes no access line for it.
    const before = accessLines().length;
    const noCert = await send(edgeRequest(chain, pki, caseId("audit-edge-nocert"), { clientCert: undefined })).then(
      (ex) => `status ${ex.status}`,
      (e) => `error: ${e instanceof Error ? e.message : String(e)}`,
    );
    expect(noCert).toMatch(/^error: .*(certificate|alert|ECONNRESET|socket hang up)/i);
    // The request after it is logged, and it is the only new line: the refused handshake added none.
    const after = caseId("audit-edge-after");
    expect((await send(edgeRequest(chain, pki, after, { headers: { Authorization: "Bearer valid-after" } }))).status).toBe(200);
    await eventually(() => accessLines().find((l) => l.includes(after)), "the access line of the request after");
    expect(accessLines().length).toBe(before + 1);
  });

  test("the schema check bites on stored records: a sidecar line without status is stored, and reported", async () => {
    const broken = JSON.stringify({ ...JSON.parse(fs.readFileSync(chain.paths.sidecarAccessLog, "utf8").split("\n")[0]), status: undefined, marker: "no-status" });
    expect(await sendFrames(port, pki.ca.certPem, daemon, [dockerFrame("inference-broken-sidecar", "stdout", broken)])).toBe("sent");
    const [record] = await eventually(() => {
      const s = readDayFiles(dataDir).filter((r) => r.container === "inference-broken-sidecar");
      return s.length >= 1 ? s : undefined;
    }, "the broken line's record", 80, 50);
    expect(classifyAuditRecord(record)).toBe("inference.call");
    expect(checkAuditRecord(record)).toEqual(["event.status: required (integer), missing"]);
  });

  test("refused: no client certificate, one from another CA, and a CA-valid certificate that is not the daemon's; nothing is stored", async () => {
    const before = readDayFiles(dataDir).length;
    const marker = caseId("audit-forged");
    const frame = [dockerFrame("inference-vllm-0-sidecar", "stdout", JSON.stringify({ identity: "forged", marker }))];
    const results = [
      await sendFrames(port, pki.ca.certPem, undefined, frame),
      await sendFrames(port, pki.ca.certPem, pki.foreignClient, frame),
      await sendFrames(port, pki.ca.certPem, otherService, frame),
    ];
    for (const r of results) expect(r).toMatch(/^error: .*(certificate required|bad certificate|unknown ca|EPIPE|ECONNRESET)/);
    // Give syslog-ng the time it took for the accepted frames above.
    await new Promise((r) => setTimeout(r, 500));
    expect(readDayFiles(dataDir).length).toBe(before);
    expect(JSON.stringify(readDayFiles(dataDir))).not.toContain(marker);
    expect(collector.logs()).toMatch(/peer did not return a certificate|DN constraints were not met|certificate verify failed/);
  });

  /** The rendered pruner with the audit volume and the heartbeat file moved to local paths. */
  const localPruneScript = (dataDir: string, heartbeat: string) =>
    localize(
      pruneScript,
      [
        { from: `dir='${AUDIT_DATA_DIR}'`, to: `dir='${dataDir}'`, why: "the audit volume" },
        { from: "/tmp/zta-pruned-at", to: heartbeat, why: "the container's tmpfs" },
      ],
      "prune.sh",
    );

  test("retention: the rendered script (120 days) deletes day files older than the cutoff, by name, and keeps the rest", () => {
    const sh = requireBinary("sh");
    const retDir = path.join(dir, "retention");
    fs.mkdirSync(retDir);
    const day = (ago: number) => new Date(Date.now() - ago * 86400_000).toISOString().slice(0, 10);
    const files = { today: day(0), kept: day(119), cutoff: day(120), old: day(121), ancient: day(900) };
    for (const d of Object.values(files)) fs.writeFileSync(path.join(retDir, `${d}.jsonl`), "{}\n");
    // Touched just now: the name decides, not the mtime.
    fs.writeFileSync(path.join(retDir, "notes.txt"), "not a day file\n");
    const heartbeat = path.join(dir, "pruned-at");
    const script = localPruneScript(retDir, heartbeat);
    expect(script).toContain("days=120");
    const scriptPath = path.join(dir, "prune.sh");
    fs.writeFileSync(scriptPath, script);
    const run = spawnSync(sh, [scriptPath, "--once"], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(fs.readdirSync(retDir).sort()).toEqual([`${files.cutoff}.jsonl`, `${files.kept}.jsonl`, `${files.today}.jsonl`, "notes.txt"].sort());
    expect(run.stdout).toContain(`${files.old}.jsonl`);
    expect(Number(fs.readFileSync(heartbeat, "utf8"))).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  // As a container's PID 1 (here: the first process of a new PID namespace, which, like a container's, gets
  // no default action for signals from outside), the looping pruner must exit on SIGTERM: otherwise every
  // `docker stop` and every replacement waits the whole grace period and then kills it.
  test("retention: the looping pruner, as PID 1 of its namespace, exits 0 on SIGTERM at once", async () => {
    const unshare = requireBinary("unshare");
    const loopDir = path.join(dir, "retention-loop");
    fs.mkdirSync(loopDir);
    const heartbeat = path.join(dir, "loop-pruned-at");
    const script = localPruneScript(loopDir, heartbeat);
    const scriptPath = path.join(dir, "prune-loop.sh");
    fs.writeFileSync(scriptPath, script);
    const child = spawn(unshare, ["--pid", "--fork", "sh", scriptPath], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      // Bounded: until the first prune wrote its heartbeat (the loop is running, asleep).
      for (let i = 0; i < 100 && !fs.existsSync(heartbeat); i++) await new Promise((r) => setTimeout(r, 50));
      expect(fs.existsSync(heartbeat)).toBe(true);
      const children = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
      expect(children.length).toBe(1);
      process.kill(Number(children[0]), "SIGTERM");
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running after 5 s"), 5000))]);
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
