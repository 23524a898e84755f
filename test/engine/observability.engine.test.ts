/**
 * SecureInference + Observability on the engine (test/engine/observability-stack.ts): Prometheus (the real
 * Debian binary in its stand-in) scrapes the sidecar over mTLS with the scraper identity, its API admits
 * only Grafana's certificate + password, Grafana (a mock) is reachable only through its proxy, and the
 * whole path works from the host through the edge.
 */
import { Testing } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { apply, container, destroy, Deployment, leftovers } from "./applier";
import { containerLogs, inspectContainer, sleep } from "./docker-api";
import { allowed, pairNetwork } from "./flows";
import { GRAFANA_HOSTNAME, OBS_HOST_PORT, OBS_PREFIX, observabilityStack } from "./observability-stack";
import { curlFrom, probeEach, probePki, ProbePki, tcpOpens } from "./probe";
import { appliedHardening, hardenedAs, hostRequest, jobs, loaders, readsEveryConfigFile, services, settle } from "./stack-checks";
import { buildAllStandins } from "./standins";
import { ALERTS } from "../../lib/alert-rules";

const PROMETHEUS = `${OBS_PREFIX}-obs-prometheus`;
const GRAFANA = `${OBS_PREFIX}-obs-grafana`;
const PROXY = `${OBS_PREFIX}-obs-grafana-proxy`;
const VLLM = `${OBS_PREFIX}-vllm-0`;
const EDGE = `${OBS_PREFIX}-edge`;
// The trust graph's networks of the two relationships these tests pose as (an attacker on one of them is
// whatever else might join it: the graph allows only the pair).
const GRAFANA_TO_PROMETHEUS = pairNetwork(GRAFANA, PROMETHEUS);
const EDGE_TO_GRAFANA = pairNetwork(`${OBS_PREFIX}-edge`, GRAFANA);
const PROMETHEUS_TO_EDGE = pairNetwork(PROMETHEUS, `${OBS_PREFIX}-edge`);
const PROMETHEUS_API = `https://${PROMETHEUS}:9090`;
/** What the edge answers a browser site's request without a session. */
const NO_SESSION_STATUS = 302;

let d: Deployment;
let pki: ProbePki;
const addr = (type: string, prefix: string) => {
  const a = [...d.values.keys()].find((k) => k.startsWith(`${type}.${prefix}`));
  if (!a) throw new Error(`no ${type}.${prefix}*`);
  return a;
};
const password = (prefix: string) => d.values.get(addr("random_password", prefix))!.result as string;
const basic = (user: string, pw: string) => `Authorization: Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
/** Grafana's own credentials toward Prometheus: its client certificate and its password. */
const asGrafana = () => ({ pki, identity: "grafana", headers: [basic("grafana", password("obs_grafana-api-password"))] });

/** A Prometheus API GET as Grafana, from a tool container on the Grafana -> Prometheus network: the parsed JSON. */
async function prometheusApi(apiPath: string): Promise<any> {
  const { runTool } = await import("./docker-api");
  const { toolImage } = await import("./standins");
  const r = await runTool({
    image: toolImage(),
    cmd: ["curl", "-sS", "--max-time", "5", "--cacert", "/pki/ca.crt", "--cert", "/pki/grafana.crt", "--key", "/pki/grafana.key", "-H", asGrafana().headers[0], `${PROMETHEUS_API}${apiPath}`],
    networkMode: GRAFANA_TO_PROMETHEUS,
    binds: [`${pki.dir}:/pki:ro`],
    user: "65534:65534",
    timeoutSeconds: 15,
  });
  return JSON.parse(r.output);
}

beforeAll(async () => {
  const json = JSON.parse(Testing.synth(observabilityStack(), true));
  d = await apply(json, { standins: await buildAllStandins() });
  pki = probePki(d, {
    operator: { key: addr("tls_private_key", "inference_ca_operator-devops-laptop_key"), cert: addr("tls_locally_signed_cert", "inference_ca_operator-devops-laptop_cert") },
    edge: { key: addr("tls_private_key", "inference_edge_client-cert_key"), cert: addr("tls_locally_signed_cert", "inference_edge_client-cert") },
    grafana: { key: addr("tls_private_key", "obs_grafana-client-cert_key"), cert: addr("tls_locally_signed_cert", "obs_grafana-client-cert") },
    scraper: { key: addr("tls_private_key", "inference_metrics-scraper_key"), cert: addr("tls_locally_signed_cert", "inference_metrics-scraper_cert") },
  });
  await settle(d);
});

afterAll(async () => {
  if (d) await destroy(d);
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

describe("observability: lifecycle and hardening", () => {
  it("every config loader is created and never started", async () => {
    expect(loaders(d).map((c) => c.name).filter((n) => n.startsWith(`${OBS_PREFIX}-obs-`)).sort()).toEqual([
      `${GRAFANA}-config-loader`,
      `${GRAFANA}-dashboards-loader`,
      `${GRAFANA}-datasources-loader`,
      `${PROXY}-config-loader`,
      `${PROMETHEUS}-config-loader`,
    ]);
    for (const c of loaders(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, started: s.StartedAt }).toEqual({ name: c.name, status: "created", started: "0001-01-01T00:00:00Z" });
    }
  });

  it("every service is running and healthy with no restarts; the model fetch exited 0", async () => {
    expect(services(d).map((c) => c.name).sort()).toEqual([`${OBS_PREFIX}-edge`, `${OBS_PREFIX}-gate`, GRAFANA, PROXY, PROMETHEUS, VLLM, `${VLLM}-mtls`]);
    for (const c of services(d)) {
      const i = await inspectContainer(c.id);
      expect({ name: c.name, status: i.State.Status, health: i.State.Health?.Status, restarts: i.RestartCount }).toEqual({ name: c.name, status: "running", health: "healthy", restarts: 0 });
    }
    for (const c of jobs(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, exit: s.ExitCode }).toEqual({ name: c.name, status: "exited", exit: 0 });
    }
  });

  it("Prometheus, Grafana and its proxy: read-only, no capabilities, their non-root users, limits, no host port", async () => {
    const users: Record<string, string> = { [PROMETHEUS]: "65534:65534", [GRAFANA]: "472:0", [PROXY]: "101:101" };
    for (const [name, user] of Object.entries(users)) expect(await appliedHardening(container(d, name))).toEqual(hardenedAs(container(d, name), user));
  });

  it("each service reads every file of every config volume it mounts, as its own user", async () => {
    for (const c of services(d)) {
      for (const r of await readsEveryConfigFile(c, d)) expect({ service: c.name, ...r }).toEqual({ service: c.name, file: r.file, ok: true });
    }
    expect((await readsEveryConfigFile(container(d, GRAFANA), d)).map((r) => r.file).sort()).toEqual([
      "/etc/grafana-provisioning/dashboards/provider.yaml",
      "/etc/grafana-provisioning/dashboards/vllm.json",
      "/etc/grafana-provisioning/datasources/prometheus.yaml",
      "/etc/zta/admin-password",
      "/etc/zta/grafana.ini",
    ]);
  });

  it("Prometheus writes its TSDB into the data volume (owned by nobody, as the image's VOLUME directory is)", async () => {
    const { execIn } = await import("./docker-api");
    const r = await execIn(container(d, PROMETHEUS).id, ["sh", "-c", "stat -c '%u:%g' /prometheus && ls /prometheus"]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toMatch(/^65534:65534\n/);
    expect(r.output).toMatch(/\bwal\b/);
    expect(await containerLogs(container(d, PROMETHEUS).id)).not.toMatch(/permission denied/i);
  });
});

describe("observability: Prometheus", () => {
  it("scrapes the sidecar over mTLS with the scraper identity: the vllm target is up (its API, with Grafana's credentials)", async () => {
    expect(allowed("observability", PROMETHEUS, VLLM, 8443)).toBe(true);
    // Bounded: 5 s scrape interval, up to 40 s for the first successful scrape.
    let targets: any[] = [];
    for (let i = 0; i < 20; i++) {
      targets = (await prometheusApi("/api/v1/targets")).data.activeTargets;
      if (targets.length > 0 && targets.every((t: any) => t.health === "up")) break;
      await sleep(2000);
    }
    expect(targets.map((t: any) => ({ job: t.labels.job, instance: t.labels.instance, health: t.health, error: t.lastError })).sort((a, b) => a.job.localeCompare(b.job))).toEqual([
      // The edge's Caddy on its metrics listener, the same identity (EdgeProxy.allowMetricsScraper).
      { job: "edge", instance: `${EDGE}:9180`, health: "up", error: "" },
      { job: "prometheus", instance: "127.0.0.1:9090", health: "up", error: "" },
      { job: "vllm", instance: `${VLLM}:8443`, health: "up", error: "" },
    ]);
    // Caddy's request counts arrive (the series the abuse alerts read), and the alerts are loaded.
    const counts = await prometheusApi(`/api/v1/query?query=${encodeURIComponent('caddy_http_request_duration_seconds_count{job="edge"}')}`);
    expect(counts.data.result.length).toBeGreaterThan(0);
    expect(new Set(counts.data.result.map((r: any) => r.metric.handler))).toEqual(new Set(["subroute"]));
    // vLLM's own series arrive through the sidecar (the stand-in exports vllm:num_requests_running).
    const running = await prometheusApi(`/api/v1/query?query=${encodeURIComponent('vllm:num_requests_running{job="vllm"}')}`);
    expect(running.data.result.map((r: any) => r.metric.instance)).toEqual([`${VLLM}:8443`]);
  });

  it("its healthcheck (promtool check healthy, 3.5's behaviour in the stand-in) passes with the construct's client config only", async () => {
    const { execIn } = await import("./docker-api");
    const id = container(d, PROMETHEUS).id;
    const test = container(d, PROMETHEUS).config.healthcheck.test as string[];
    // Docker's exec form: "CMD" and then the command.
    expect(test[0]).toBe("CMD");
    expect((await execIn(id, test.slice(1))).exitCode).toBe(0);
    // Without the HTTP client config: no client certificate, the handshake fails.
    const bare = await execIn(id, ["/bin/promtool", "check", "healthy", "--url=https://127.0.0.1:9090"]);
    expect({ exit: bare.exitCode, failed: bare.output.includes("FAILED") }).toEqual({ exit: 1, failed: true });
  });

  it("loaded its alert rules, the edge's abuse alerts among them", async () => {
    const rules = (await prometheusApi("/api/v1/rules")).data.groups.flatMap((g: any) => g.rules.map((r: any) => r.name));
    expect(rules).toEqual(expect.arrayContaining([ALERTS.replicaDown, ALERTS.queueBacklog, ALERTS.kvCacheSaturated, ALERTS.authFailureBurst, ALERTS.rateLimitBurst]));
  });

  it("the edge's metrics listener: the scraper's certificate on Prometheus' network only; any other identity 403, none refused anywhere", async () => {
    const url = `https://${EDGE}:9180/metrics`;
    expect(allowed("observability", PROMETHEUS, EDGE, 9180)).toBe(true);
    // On the pair's own network: the scraper 200, every other identity of the CA 403, another CA's or none refused.
    // (The edge's certificate for this listener names its Docker name: curl verifies it with the CA.)
    expect((await curlFrom(PROMETHEUS_TO_EDGE, url, { pki, identity: "scraper" })).status).toBe(200);
    for (const identity of ["operator", "edge", "grafana"]) {
      expect({ identity, status: (await curlFrom(PROMETHEUS_TO_EDGE, url, { pki, identity })).status }).toEqual({ identity, status: 403 });
    }
    for (const identity of [undefined, "wrong"]) {
      expect({ identity, status: (await curlFrom(PROMETHEUS_TO_EDGE, url, { pki, identity })).status }).toEqual({ identity, status: 0 });
    }
    expect((await curlFrom(PROMETHEUS_TO_EDGE, `https://${EDGE}:9180/`, { pki, identity: "scraper" })).status).toBe(404);
    // Everywhere else (every network, every other namespace): no certificate, no answer. Nothing else holds the
    // scraper's key; the port listens on the edge's other networks as its API port does (the handshake decides).
    const wheres = [...d.networks.map((n) => n.name), ...services(d).filter((c) => c.name !== EDGE && c.name !== PROMETHEUS).map((c) => `container:${c.id}`)];
    for (const where of wheres) {
      expect({ where, status: (await curlFrom(where, url, { pki })).status }).toEqual({ where, status: 0 });
    }
    expect(allowed("observability", "attacker", EDGE, 9180)).toBe(false);
  });

  it("refuses API callers without both credentials, from every network and namespace", async () => {
    const wheres = [...d.networks.map((n) => n.name), ...services(d).filter((c) => c.name !== PROMETHEUS).map((c) => `container:${c.id}`)];
    // No client certificate: the TLS handshake fails (status 0).
    const seen = await probeEach(wheres, async (where) => ({ where, status: (await curlFrom(where, `${PROMETHEUS_API}/api/v1/query?query=up`, { pki })).status }));
    expect(seen).toEqual(wheres.map((where) => ({ where, status: 0 })));
    // From Grafana's network to Prometheus: another CA's certificate; a CA-issued one without or with a wrong password.
    expect((await curlFrom(GRAFANA_TO_PROMETHEUS, `${PROMETHEUS_API}/api/v1/query?query=up`, { pki, identity: "wrong" })).status).toBe(0);
    for (const identity of ["operator", "edge", "grafana"]) {
      expect({ identity, status: (await curlFrom(GRAFANA_TO_PROMETHEUS, `${PROMETHEUS_API}/api/v1/query?query=up`, { pki, identity })).status }).toEqual({ identity, status: 401 });
    }
    expect((await curlFrom(GRAFANA_TO_PROMETHEUS, `${PROMETHEUS_API}/-/healthy`, { pki, identity: "grafana", headers: [basic("grafana", "wrong")] })).status).toBe(401);
    // Positive control: Grafana's certificate and password.
    expect((await curlFrom(GRAFANA_TO_PROMETHEUS, `${PROMETHEUS_API}/api/v1/query?query=up`, asGrafana())).status).toBe(200);
    expect(allowed("observability", "attacker", PROMETHEUS, 9090)).toBe(false);
  });
});

describe("observability: Grafana", () => {
  it("read its provisioning: the Prometheus datasource and the vLLM dashboard", async () => {
    const logs = await containerLogs(container(d, GRAFANA).id);
    expect(logs).toContain("inserting datasource from configuration name=Prometheus uid=zta-prometheus");
    expect(logs).toContain("provisioned dashboard uid=zta-vllm");
  });

  it("port 3000 is closed to every network and to every other container's namespace", async () => {
    // Positive control: its proxy's port in the same namespace is open from the edge's network.
    expect(await tcpOpens(EDGE_TO_GRAFANA, GRAFANA, 8443)).toBe(true);
    const places = [
      ...d.networks.map((n) => ({ from: n.name, where: n.name })),
      ...services(d)
        .filter((x) => x.name !== GRAFANA && x.name !== PROXY)
        .map((c) => ({ from: c.name, where: `container:${c.id}` })),
    ];
    const seen = await probeEach(places, async (p) => ({ from: p.from, open: await tcpOpens(p.where, GRAFANA, 3000) }));
    expect(seen).toEqual(places.map((p) => ({ from: p.from, open: false })));
  });

  it("its proxy admits the edge's certificate only: none, another CA's, an operator's and Grafana's own are refused", async () => {
    // ssl_verify_client on: nginx finishes the handshake and answers 400 itself (no certificate / a bad one).
    expect((await curlFrom(EDGE_TO_GRAFANA, `https://${GRAFANA}:8443/api/health`, { pki })).status).toBe(400);
    expect((await curlFrom(EDGE_TO_GRAFANA, `https://${GRAFANA}:8443/api/health`, { pki, identity: "wrong" })).status).toBe(400);
    for (const identity of ["operator", "grafana", "scraper"]) {
      expect({ identity, status: (await curlFrom(EDGE_TO_GRAFANA, `https://${GRAFANA}:8443/api/health`, { pki, identity })).status }).toEqual({ identity, status: 403 });
    }
    expect((await curlFrom(EDGE_TO_GRAFANA, `https://${GRAFANA}:8443/api/health`, { pki, identity: "edge" })).status).toBe(200);
    expect(allowed("observability", `${OBS_PREFIX}-edge`, GRAFANA, 8443)).toBe(true);
  });

  it("from the host through the edge: signed in as the gate's user, and Grafana queries Prometheus with its provisioned credentials", async () => {
    const req = (p: string, cookie?: string) =>
      hostRequest({
        port: OBS_HOST_PORT,
        servername: GRAFANA_HOSTNAME,
        path: p,
        ca: fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8"),
        cert: fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"),
        key: fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8"),
        headers: cookie ? { Cookie: cookie } : {},
      });
    const user = await req("/api/user", "__Host-zta-session=valid-devops");
    expect(user.status).toBe(200);
    expect(JSON.parse(user.body)).toMatchObject({ email: "devops@example.com", isGrafanaAdmin: true });
    const viewer = JSON.parse((await req("/api/user", "__Host-zta-session=valid-alice")).body);
    expect(viewer).toMatchObject({ email: "alice@example.com", isGrafanaAdmin: false, orgRole: "Viewer" });
    // Without a session the gate stops it before Grafana (a browser site: the edge sends it to sign in).
    const anonymous = await req("/api/user");
    expect({ status: anonymous.status, grafana: anonymous.body.includes("devops@example.com") }).toEqual({ status: NO_SESSION_STATUS, grafana: false });
    // grafana -> prometheus: the datasource proxy with the provisioned client certificate and password.
    const q = await req("/api/datasources/proxy/uid/zta-prometheus/api/v1/query?query=up", "__Host-zta-session=valid-alice");
    expect({ status: q.status, result: JSON.parse(q.body).status }).toEqual({ status: 200, result: "success" });
    expect(allowed("observability", GRAFANA, PROMETHEUS, 9090)).toBe(true);
  });

  it("Grafana's user comes from the edge's identity header alone: a client-sent Grafana header is overwritten", async () => {
    const viaProxy = (headers: string[]) => curlFrom(EDGE_TO_GRAFANA, `https://${GRAFANA}:8443/api/user`, { pki, identity: "edge", headers });
    expect((await viaProxy(["X-ZTA-Grafana-User: devops@example.com"])).status).toBe(401);
    // Positive control: the identity header the edge sets after forward_auth.
    expect((await viaProxy(["X-ZTA-Identity: devops@example.com"])).status).toBe(200);
  });

  it("inside its namespace, Grafana refuses what its ini turns off: anonymous access and basic auth (even with the admin password)", async () => {
    const ns = `container:${container(d, GRAFANA).id}`;
    expect((await curlFrom(ns, "http://127.0.0.1:3000/api/user")).status).toBe(401);
    expect((await curlFrom(ns, "http://127.0.0.1:3000/api/user", { headers: [basic("admin", password("obs_grafana-admin-password"))] })).status).toBe(401);
    expect((await curlFrom(ns, "http://127.0.0.1:3000/")).status).toBe(302);
    expect((await curlFrom(ns, "http://127.0.0.1:3000/api/health")).status).toBe(200);
  });
});

describe("observability: destroy", () => {
  it("leaves nothing behind", async () => {
    await destroy(d);
    const left = await leftovers();
    d = undefined as unknown as Deployment;
    expect(left).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
