/**
 * The audit trail's Loki leg with real binaries: a real syslog-ng runs the collector config AuditLog
 * synthesizes and pushes every line it receives through a real nginx running the Loki gateway config, with
 * the collector's client certificate, to a mock of Loki's HTTP API (Loki cannot run here: Debian's `loki`
 * is an unrelated program). The mock only records what reaches it and answers like Loki's push and query
 * endpoints; every decision under test (who may push, who may read, what path reaches Loki, what happens
 * while Loki is down) is made by the real syslog-ng and nginx.
 */
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { AuditLog, HardenedService, SecureInference, ServiceIdentities } from "../../index";
import { IMAGES } from "../../lib/images";
import { DAEMON_IDENTITY } from "../../lib/audit";
import { checkAuditEvent, classifyAuditEvent } from "../../lib/audit-events";
import { CERT_ORGANIZATION, CONFIG_DIR, OPERATOR_OU, SERVICE_OU, serviceSubjectDn } from "../../lib/identities";
import { LOKI_GATEWAY_HEALTH_PORT, LOKI_GATEWAY_PORT, LOKI_HTTP_PORT, LOKI_JOB, LOKI_PUSH_PATH } from "../../lib/loki";
import { AUDIT_COLLECTOR_IDENTITY } from "../../constructs/audit-log";
import { inferenceProps, stackWithProviders, synth, uploaded } from "../helpers";
import {
  CertificateFiles,
  ManagedProcess,
  eventually,
  freePorts,
  issueWithOpenssl,
  localize,
  makeTempDir,
  nginxStarted,
  nginxTest,
  startNginx,
} from "./harness";
import { dockerFrame, readDayFiles, sendFrames, startCollector } from "../support/syslog";

/** sendFrames, failing unless the collector took them. */
async function sentFrames(...args: Parameters<typeof sendFrames>): Promise<void> {
  expect(await sendFrames(...args)).toBe("sent");
}

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Records every request; answers a push 204 and anything else 200 with Loki's empty query result. */
class MockLoki {
  readonly received: Received[] = [];
  private server: http.Server | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.received.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        if (req.url === LOKI_PUSH_PATH) {
          res.writeHead(204).end();
        } else {
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ status: "success", data: { resultType: "streams", result: [] } }));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every pushed entry, flattened: labels, timestamp (ns) and line. */
  entries(): Array<{ labels: Record<string, string>; ns: bigint; line: string }> {
    return this.received
      .filter((r) => r.url === LOKI_PUSH_PATH)
      .flatMap(
        (r) =>
          (JSON.parse(r.body) as { streams: Array<{ stream: Record<string, string>; values: [string, string][] }> })
            .streams,
      )
      .flatMap((s) => s.values.map(([ns, line]) => ({ labels: s.stream, ns: BigInt(ns), line })));
  }
}

describe("AuditLog's Loki leg: real syslog-ng pushing through the real nginx gateway", () => {
  const stack = stackWithProviders();
  const ai = new SecureInference(stack, "inference", inferenceProps(stack));
  const audit = new AuditLog(stack, "audit", { ca: ai.ca });
  // A reader with Grafana's identity (Observability does the same for Grafana itself).
  const reader = new HardenedService(stack, "reader", {
    name: "e2e-reader",
    role: "e2e-reader",
    catalogImage: IMAGES.nginx,
    ca: ai.ca,
    clientIdentity: ServiceIdentities.GRAFANA,
    hardening: { memoryMb: 32, cpuShares: 64, healthcheck: ["true"] },
  });
  audit.allowLokiReader(reader, ServiceIdentities.GRAFANA);
  const json = synth(stack);
  const collectorConf = uploaded(json, "zta-audit-collector-config-loader", "syslog-ng.conf");
  const gatewayConf = uploaded(json, "zta-audit-loki-gateway-config-loader", "nginx.conf");

  let dir: string;
  let ca: CertificateFiles;
  let daemon: CertificateFiles;
  const clients: Record<string, CertificateFiles> = {};
  let mock: MockLoki;
  let nginx: ManagedProcess;
  let collector: ManagedProcess;
  let syslogPort: number;
  let gatewayPort: number;
  let dataDir: string;
  let gatewayAccessLog: string;

  /** A request to the gateway as `who` (undefined: no client certificate). */
  function gateway(
    who: string | undefined,
    method: string,
    urlPath: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<number | string> {
    const cert = who === undefined ? undefined : clients[who];
    return new Promise((resolve) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port: gatewayPort,
          servername: "zta-audit-loki",
          ca: ca.certPem,
          cert: cert?.certPem,
          key: cert?.keyPem,
          method,
          path: urlPath,
          headers,
          agent: false,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", (e) => resolve(`error: ${e.message}`));
      req.end(body);
    });
  }

  beforeAll(async () => {
    dir = makeTempDir("zta-e2e-loki-");
    const pki = path.join(dir, "pki");
    fs.mkdirSync(pki);
    const service = (cn: string): [string, string][] => [
      ["O", CERT_ORGANIZATION],
      ["OU", SERVICE_OU],
      ["CN", cn],
    ];
    ca = issueWithOpenssl(
      pki,
      "ca",
      "ca",
      [
        ["O", CERT_ORGANIZATION],
        ["CN", "e2e root CA"],
      ],
      [],
    );
    const foreignCa = issueWithOpenssl(
      pki,
      "foreign-ca",
      "ca",
      [
        ["O", "somebody-else"],
        ["CN", "foreign root CA"],
      ],
      [],
    );
    const collectorServer = issueWithOpenssl(
      pki,
      "collector",
      "server",
      service("zta-audit-collector"),
      ["zta-audit-collector", "localhost"],
      ca,
    );
    // The gateway's name as in the stack, plus localhost: the localized push URL's host.
    const gatewayServer = issueWithOpenssl(
      pki,
      "gateway",
      "server",
      service("zta-audit-loki"),
      ["zta-audit-loki", "localhost"],
      ca,
    );
    daemon = issueWithOpenssl(pki, "daemon", "client", service(DAEMON_IDENTITY.commonName), [], ca);
    clients.collector = issueWithOpenssl(
      pki,
      "collector-client",
      "client",
      service(AUDIT_COLLECTOR_IDENTITY.commonName),
      [],
      ca,
    );
    clients.grafana = issueWithOpenssl(pki, "grafana", "client", service(ServiceIdentities.GRAFANA.commonName), [], ca);
    clients.edge = issueWithOpenssl(pki, "edge", "client", service("zta-edge"), [], ca);
    clients.operator = issueWithOpenssl(
      pki,
      "operator",
      "client",
      [
        ["O", CERT_ORGANIZATION],
        ["OU", OPERATOR_OU],
        ["CN", "alice"],
      ],
      [],
      ca,
    );
    // The collector's subject, issued by another CA.
    clients.foreign = issueWithOpenssl(
      pki,
      "foreign",
      "client",
      service(AUDIT_COLLECTOR_IDENTITY.commonName),
      [],
      foreignCa,
    );

    const [lokiPort, healthPort, port1, port2] = await freePorts(4);
    syslogPort = port1;
    gatewayPort = port2;
    mock = new MockLoki(lokiPort);
    await mock.start();

    // The gateway: real nginx with the rendered config (ports, paths and stdout localized).
    const gwDir = path.join(dir, "gateway");
    const gwRun = path.join(dir, "gateway-run");
    fs.mkdirSync(gwDir);
    fs.mkdirSync(gwRun);
    fs.writeFileSync(path.join(gwDir, "ca.crt"), ca.certPem);
    fs.writeFileSync(path.join(gwDir, "server.crt"), gatewayServer.certPem);
    fs.writeFileSync(path.join(gwDir, "server.key"), gatewayServer.keyPem);
    gatewayAccessLog = path.join(gwRun, "access.log");
    const errorLog = path.join(gwRun, "error.log");
    const gwConfPath = path.join(gwDir, "nginx.conf");
    fs.writeFileSync(
      gwConfPath,
      localize(
        gatewayConf,
        [
          { from: `${CONFIG_DIR}/`, to: `${gwDir}/`, why: "config volume mount point" },
          { from: `listen ${LOKI_GATEWAY_PORT} ssl;`, to: `listen 127.0.0.1:${gatewayPort} ssl;`, why: "gateway port" },
          {
            from: `listen 127.0.0.1:${LOKI_GATEWAY_HEALTH_PORT};`,
            to: `listen 127.0.0.1:${healthPort};`,
            why: "health port",
          },
          {
            from: `server 127.0.0.1:${LOKI_HTTP_PORT};`,
            to: `server 127.0.0.1:${lokiPort};`,
            why: "Loki's loopback port (the mock)",
          },
          { from: "access_log /dev/stdout ", to: `access_log ${gatewayAccessLog} `, why: "container stdout" },
          { from: "error_log /dev/stderr ", to: `error_log ${errorLog} `, why: "container stderr" },
          { from: /(pid|_temp_path) \/tmp\//g, to: `$1 ${gwRun}/`, why: "run dir (tmpfs /tmp)" },
        ],
        "nginx.conf",
      ),
    );
    nginxTest(gwConfPath, gwRun, errorLog);
    nginx = startNginx(gwConfPath, gwRun, errorLog, gatewayAccessLog);
    await nginx.waitForPort(gatewayPort, nginxStarted(nginx, gwRun));

    // The collector: real syslog-ng with the rendered config; its push URL names the local gateway.
    ({ process: collector, dataDir } = await startCollector(
      collectorConf,
      dir,
      syslogPort,
      { ca, server: collectorServer, client: clients.collector },
      [
        {
          from: `https://zta-audit-loki:${LOKI_GATEWAY_PORT}/`,
          to: `https://localhost:${gatewayPort}/`,
          why: "the gateway's Docker name is the local gateway",
        },
      ],
    ));
  });

  afterAll(async () => {
    await collector?.stop();
    await nginx?.stop();
    await mock?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("each line reaches Loki verbatim, labelled with the job, the container and the stream, through the gateway with the collector's certificate", async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const lines: Array<[string, "stdout" | "stderr", string]> = [
      [
        "inference-vllm-0-sidecar",
        "stdout",
        JSON.stringify({ request_id: "loki-1", identity: "alice@example.com", status: 200, request_time: 0.25 }),
      ],
      ["inference-edge", "stdout", JSON.stringify({ msg: 'quote " backslash \\ tab \t unicode é', status: 401 })],
      ["inference-gate", "stderr", "a plain line, not JSON"],
    ];
    await sentFrames(
      syslogPort,
      ca.certPem,
      daemon,
      lines.map(([tag, stream, line]) => dockerFrame(tag, stream, line)),
    );
    const entries = await eventually(
      () => {
        const e = mock.entries();
        return e.length >= lines.length ? e : undefined;
      },
      "three entries pushed to Loki",
      100,
      100,
    );
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(entries.map((e) => [e.labels, e.line])).toEqual([
      [{ job: LOKI_JOB, container: "inference-vllm-0-sidecar", stream: "info" }, lines[0][2]],
      [{ job: LOKI_JOB, container: "inference-edge", stream: "info" }, lines[1][2]],
      [{ job: LOKI_JOB, container: "inference-gate", stream: "err" }, lines[2][2]],
    ]);
    // Nanoseconds of the receive time.
    for (const e of entries) expect(e.ns >= before - 1_000_000n && e.ns <= after).toBe(true);
    // One JSON body per batch, as Loki's push API takes it.
    const pushes = mock.received.filter((r) => r.url === LOKI_PUSH_PATH);
    for (const p of pushes) {
      expect(p.method).toBe("POST");
      expect(p.headers["content-type"]).toBe("application/json");
    }
    // The day files have them too.
    expect(
      readDayFiles(dataDir).filter((r) =>
        ["inference-vllm-0-sidecar", "inference-edge", "inference-gate"].includes(r.container),
      ),
    ).toHaveLength(3);
    // Accepted pushes are not logged by the gateway (each would be one more line to push).
    const logged = fs.existsSync(gatewayAccessLog) ? fs.readFileSync(gatewayAccessLog, "utf8") : "";
    expect(logged).not.toContain(LOKI_PUSH_PATH);
  });

  test("the gateway: the collector may only push, Grafana may only read, every other identity nothing", async () => {
    const start = mock.received.length;
    const push = JSON.stringify({
      streams: [{ stream: { job: "forged" }, values: [[`${Date.now()}000000`, "forged line"]] }],
    });
    const query = "/loki/api/v1/query_range?query=%7Bjob%3D%22zta-audit%22%7D";
    const results = {
      collectorQuery: await gateway("collector", "GET", query),
      collectorDelete: await gateway("collector", "POST", "/loki/api/v1/delete?query=%7Bjob%3D%22zta-audit%22%7D"),
      grafanaQuery: await gateway("grafana", "GET", query),
      grafanaInstant: await gateway("grafana", "GET", "/loki/api/v1/query?query=vector(1)%2Bvector(1)"),
      grafanaLabelValues: await gateway("grafana", "GET", "/loki/api/v1/label/container/values"),
      grafanaPush: await gateway("grafana", "POST", LOKI_PUSH_PATH, push, { "content-type": "application/json" }),
      grafanaDelete: await gateway("grafana", "POST", "/loki/api/v1/delete?query=%7Bjob%3D%22zta-audit%22%7D"),
      grafanaConfig: await gateway("grafana", "GET", "/config"),
      // A dotted path is judged after nginx normalizes it: this is the push path.
      grafanaDottedPush: await gateway("grafana", "POST", "/loki/api/v1/labels/../push", push),
      edgeQuery: await gateway("edge", "GET", query),
      operatorQuery: await gateway("operator", "GET", query),
      foreignPush: await gateway("foreign", "POST", LOKI_PUSH_PATH, push),
      noCertQuery: await gateway(undefined, "GET", query),
    };
    expect(results).toEqual({
      collectorQuery: 403,
      collectorDelete: 403,
      grafanaQuery: 200,
      grafanaInstant: 200,
      grafanaLabelValues: 200,
      grafanaPush: 403,
      grafanaDelete: 403,
      grafanaConfig: 403,
      grafanaDottedPush: 403,
      edgeQuery: 403,
      operatorQuery: 403,
      // nginx answers 400 when the client certificate is missing or not from the CA.
      foreignPush: 400,
      noCertQuery: 400,
    });
    // Only Grafana's three reads reached Loki.
    expect(mock.received.slice(start).map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET ${query}`,
      "GET /loki/api/v1/query?query=vector(1)%2Bvector(1)",
      "GET /loki/api/v1/label/container/values",
    ]);
    // The reads and the refusals are logged, with the certificate and the role.
    const logged = await eventually(() => {
      const l = fs
        .readFileSync(gatewayAccessLog, "utf8")
        .split("\n")
        .filter((x) => x !== "")
        .map((x) => JSON.parse(x));
      return l.length >= 11 ? l : undefined;
    }, "the gateway's access lines");
    // Each is an audit.read event of the documented schema.
    for (const l of logged)
      expect({ line: l, kind: classifyAuditEvent(l), problems: checkAuditEvent("audit.read", l) }).toEqual({
        line: l,
        kind: "audit.read",
        problems: [],
      });
    const grafanaRead = logged.find((l) => l.route === "/loki/api/v1/query_range" && l.role === "reader");
    expect(grafanaRead).toMatchObject({
      gateway: "loki",
      role: "reader",
      client_cert: serviceSubjectDn(ServiceIdentities.GRAFANA.commonName),
      status: 200,
      query: "%7Bjob%3D%22zta-audit%22%7D",
    });
    expect(logged.find((l) => l.role === "writer" && l.method === "GET")).toMatchObject({
      status: 403,
      route: "/loki/api/v1/query_range",
    });
  });

  test("what reaches Loki is the path the gateway checked, and a client's tenant header is removed", async () => {
    const start = mock.received.length;
    // %5F is "_": nginx decodes before deciding, and passes on the decoded path it decided on.
    expect(
      await gateway("grafana", "GET", "/loki/api/v1/query%5Frange?query=x", undefined, {
        "X-Scope-OrgID": "another-tenant",
      }),
    ).toBe(200);
    const got = mock.received.slice(start);
    expect(got.map((r) => r.url)).toEqual(["/loki/api/v1/query_range?query=x"]);
    expect(got[0].headers["x-scope-orgid"]).toBeUndefined();
  });

  test("while Loki is down the day files keep every line, and the queued lines reach Loki when it is back", async () => {
    await mock.stop();
    const marker = `loki-down-${Date.now()}`;
    await sentFrames(syslogPort, ca.certPem, daemon, [
      dockerFrame("inference-vllm-0-sidecar", "stdout", JSON.stringify({ request_id: marker })),
    ]);
    await eventually(
      () => (readDayFiles(dataDir).some((r) => r.event?.request_id === marker) ? true : undefined),
      "the line in the day file",
      100,
      50,
    );
    // The push failed (the gateway logs a writer's failed push: 502, Loki unreachable); syslog-ng keeps the
    // batch queued and retries every time-reopen (10 s).
    const accessLines = (): Array<Record<string, any>> =>
      fs
        .readFileSync(gatewayAccessLog, "utf8")
        .split("\n")
        .filter((x) => x !== "")
        .map((x) => JSON.parse(x));
    await eventually(
      () => (accessLines().some((l) => l.role === "writer" && l.status === 502) ? true : undefined),
      "a failed push (502)",
      100,
      100,
    );
    expect(mock.entries().some((e) => e.line.includes(marker))).toBe(false);
    await mock.start();
    await eventually(
      () => (mock.entries().some((e) => e.line.includes(marker)) ? true : undefined),
      "the queued line pushed after Loki is back",
      300,
      100,
    );
  }, 60_000);
});
