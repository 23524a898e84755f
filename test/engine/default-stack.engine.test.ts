/**
 * The default stack (stacks/default-stack.ts) on a real Docker engine with stand-in images: it comes
 * up, serves the request path from the host, and refuses every attack the allowed-flows table does not list.
 */
import { App, Testing } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { apply, container, destroy, Deployment, leftovers } from "./applier";
import { execIn, inspectContainer } from "./docker-api";
import { allowed, pairNetwork } from "./flows";
import { curlFrom, gatewayOf, hostServiceOnAllInterfaces, probeEach, probePki, ProbePki, tcpOpens } from "./probe";
import { appliedHardening, canRead, configVolumeOf, hardenedAs, hostRequest, jobs, loaders, readsItsFiles, services, settle } from "./stack-checks";
import { buildAllStandins } from "./standins";
import { DefaultInferenceStack } from "../../stacks/default-stack";

const DOMAIN = "ai.example.internal";
let d: Deployment;
let pki: ProbePki;
const addr = (type: string, prefix: string) => {
  const a = [...d.values.keys()].find((k) => k.startsWith(`${type}.${prefix}`));
  if (!a) throw new Error(`no ${type}.${prefix}*`);
  return a;
};

/** A network's name from a `networks_advanced` entry (the applier resolves references to names). */
const networkName = (ref: string) => ref;
const isInternal = (name: string) => d.networks.some((n) => n.name === name && (d.values.get(n.address) as { internal?: boolean } | undefined)?.internal === true);

beforeAll(async () => {
  const json = JSON.parse(Testing.synth(new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai"), true));
  d = await apply(json, { standins: await buildAllStandins() });
  pki = probePki(d, {
    operator: { key: addr("tls_private_key", "inference_ca_operator-devops-laptop_key"), cert: addr("tls_locally_signed_cert", "inference_ca_operator-devops-laptop_cert") },
    edge: { key: addr("tls_private_key", "inference_edge_client-cert_key"), cert: addr("tls_locally_signed_cert", "inference_edge_client-cert") },
  });
  await settle(d);
});

afterAll(async () => {
  if (d) await destroy(d);
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

const operator = () => ({
  port: 443,
  servername: DOMAIN,
  ca: fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8"),
  cert: fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"),
  key: fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8"),
  headers: { Authorization: "Bearer valid-alice" },
});

describe("default stack: lifecycle", () => {
  it("every config loader is created and never started", async () => {
    // The chain's 4, and Observability's 5 (Prometheus, Grafana's config, datasources and dashboards, its proxy).
    expect(loaders(d).length).toBe(9);
    for (const c of loaders(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, started: s.StartedAt }).toEqual({ name: c.name, status: "created", started: "0001-01-01T00:00:00Z" });
    }
  });

  it("every service is running and healthy, with no restarts", async () => {
    expect(services(d).map((c) => c.name).sort()).toEqual([
      "inference-edge",
      "inference-gate",
      "inference-observability-grafana",
      "inference-observability-grafana-proxy",
      "inference-observability-prometheus",
      "inference-vllm-0",
      "inference-vllm-0-mtls",
    ]);
    for (const c of services(d)) {
      const i = await inspectContainer(c.id);
      expect({ name: c.name, status: i.State.Status, health: i.State.Health?.Status, restarts: i.RestartCount }).toEqual({
        name: c.name,
        status: "running",
        health: "healthy",
        restarts: 0,
      });
    }
  });

  it("every job exited 0", async () => {
    expect(jobs(d).map((c) => c.name)).toEqual(["inference-model-fetch"]);
    for (const c of jobs(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, exit: s.ExitCode }).toEqual({ name: c.name, status: "exited", exit: 0 });
    }
  });

  it("the engine got what the stack asked for: read-only, no capabilities but the edge's one, users, limits, one host port", async () => {
    for (const c of services(d)) {
      // The edge keeps the one capability it adds (NET_BIND_SERVICE) and has the stack's one host port, on 127.0.0.1.
      const edge = c.name === "inference-edge" ? { capAdd: ["NET_BIND_SERVICE"], hostPorts: { "8443/tcp": [{ HostIp: "127.0.0.1", HostPort: "443" }] } } : {};
      expect(await appliedHardening(c)).toEqual(hardenedAs(c, c.config.user ?? "", edge));
    }
    expect(d.notes).toEqual(['inference-vllm-0: gpus = "all" not requested (no GPU on this machine)']);
  });
});

describe("default stack: files", () => {
  it("each service reads every file of its config volume", async () => {
    for (const c of services(d)) {
      for (const r of await readsItsFiles(c, d)) expect({ service: c.name, ...r }).toEqual({ service: c.name, file: r.file, ok: true });
    }
  });

  it("vLLM's API key (0400, root) is readable by vLLM only, not by the sidecar's or the edge's user", async () => {
    const secrets = configVolumeOf(container(d, "inference-vllm-0"))!;
    expect(await canRead(secrets, "api-key", "0:0")).toBe(true);
    expect(await canRead(secrets, "api-key", "101:101")).toBe(false);
    expect(await canRead(secrets, "api-key", "65532:65532")).toBe(false);
  });

  it("the edge (65532) can write its /config and /data (tmpfs owned by its user) and Caddy logged no autosave error", async () => {
    const edge = container(d, "inference-edge");
    const r = await execIn(edge.id, ["touch", "/config/probe", "/data/probe"]);
    expect({ exit: r.exitCode, output: r.output }).toEqual({ exit: 0, output: "" });
    const logs = await (await import("./docker-api")).containerLogs(edge.id);
    expect(logs).not.toMatch(/permission denied/i);
  });
});

describe("default stack: the request path from the host", () => {
  it("the sidecar, in vLLM's namespace, reaches vLLM on 127.0.0.1:8000", async () => {
    const r = await curlFrom(`container:${container(d, "inference-vllm-0-mtls").id}`, "http://127.0.0.1:8000/health");
    expect(r.status).toBe(200);
  });

  it("GET /v1/models with the operator's certificate and a token: 200 with the served model", async () => {
    const r = await hostRequest({ ...operator(), path: "/v1/models" });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).data[0].id).toBe("Qwen/Qwen2.5-0.5B-Instruct");
  });

  it("a streamed completion arrives token by token, not all at once", async () => {
    const r = await hostRequest({
      ...operator(),
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...operator().headers, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "Qwen/Qwen2.5-0.5B-Instruct", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(r.status).toBe(200);
    // All 11 token events arrive, spread over many reads: a buffering hop would deliver them in one.
    const total = r.eventsPerRead.reduce((a, b) => a + b, 0);
    expect({ total, reads: r.eventsPerRead.length >= 6 ? "many" : r.eventsPerRead }).toEqual({ total: 11, reads: "many" });
    expect(r.body).toContain("data: [DONE]");
  });

  it("refusals: no certificate, a certificate of another CA, no token, /tokenize", async () => {
    const { cert, key, ...noCert } = operator();
    await expect(hostRequest({ ...noCert, path: "/v1/models" })).rejects.toThrow();
    await expect(
      hostRequest({ ...noCert, path: "/v1/models", cert: fs.readFileSync(path.join(pki.dir, "wrong.crt"), "utf8"), key: fs.readFileSync(path.join(pki.dir, "wrong.key"), "utf8") }),
    ).rejects.toThrow();
    expect((await hostRequest({ ...operator(), headers: {}, path: "/v1/models" })).status).toBe(401);
    expect((await hostRequest({ ...operator(), method: "POST", path: "/tokenize", body: "{}" })).status).toBe(404);
    expect(cert && key).toBeTruthy();
  });
});

describe("default stack: attacks", () => {
  const networks = () => d.networks.map((n) => n.name);
  const namespaces = () => services(d).map((c) => ({ name: c.name, where: `container:${c.id}` }));

  it("vLLM's port 8000 is closed to every network and to every container outside vLLM's namespace", async () => {
    // Positive control: the probe sees an open port (the sidecar's, in the same namespace, from the edge's network).
    expect(await tcpOpens(pairNetwork("inference-edge", "inference-vllm-0"), "inference-vllm-0", 8443)).toBe(true);
    const places = [...networks().map((n) => ({ name: n, where: n })), ...namespaces().filter((x) => !x.name.startsWith("inference-vllm-0"))];
    const seen = await probeEach(places, async (p) => ({ from: p.name, open: await tcpOpens(p.where, "inference-vllm-0", 8000) }));
    expect(seen).toEqual(places.map((p) => ({ from: p.name, open: false })));
  });

  it("the sidecar refuses callers without a certificate and with another CA's certificate, from every network and namespace", async () => {
    const probes = [...networks(), ...namespaces().map((x) => x.where)].flatMap((from) => [undefined, "wrong"].map((identity) => ({ from, identity })));
    const seen = await probeEach(probes, async (p) => ({ ...p, status: (await curlFrom(p.from, "https://inference-vllm-0:8443/v1/models", { pki, identity: p.identity })).status }));
    for (const r of seen) expect(r).toEqual({ ...r, status: r.status >= 200 && r.status < 300 ? "a refusal" : r.status });
    expect(seen.length).toBe(probes.length);
  });

  it("the edge's own certificate is the one the sidecar accepts (positive control for the refusals)", async () => {
    const r = await curlFrom(pairNetwork("inference-edge", "inference-vllm-0"), "https://inference-vllm-0:8443/v1/models", { pki, identity: "edge" });
    expect(r.status).toBe(200);
    expect(allowed("default", "inference-edge", "inference-vllm-0", 8443)).toBe(true);
  });

  it("the edge refuses callers without a client certificate on each of its internal networks", async () => {
    for (const n of (container(d, "inference-edge").config.networks_advanced as { name: string }[]).map((x) => networkName(x.name)).filter(isInternal)) {
      const r = await curlFrom(n, `https://inference-edge:8443/v1/models`, { pki, headers: [`Host: ${DOMAIN}`] });
      expect({ from: n, status: r.status }).toEqual({ from: n, status: 0 });
    }
  });

  it("a host service bound to all interfaces is unreachable through every internal network's gateway, from the network and from vLLM's namespace", async () => {
    const host = await hostServiceOnAllInterfaces();
    try {
      const internal = d.networks.map((n) => n.name).filter(isInternal);
      expect(internal.length).toBeGreaterThan(3);
      const vllm = `container:${container(d, "inference-vllm-0").id}`;
      // From each network, and from the namespace of vLLM (and its sidecar), which is on internal networks only.
      const probes = (await Promise.all(internal.map(async (n) => ({ n, gw: await gatewayOf(n) })))).flatMap(({ n, gw }) => [
        { from: n, where: n, gw },
        { from: `vllm via ${n}`, where: vllm, gw },
      ]);
      const seen = await probeEach(probes, async (p) => ({ from: p.from, status: (await curlFrom(p.where, `http://${p.gw}:${host.port}/`)).status }));
      expect(seen).toEqual(probes.map((p) => ({ from: p.from, status: 0 })));
      expect(host.connections()).toBe(0);
    } finally {
      await host.close();
    }
  });

  // Issue 15: oauth2-proxy checks no client certificate, so whoever shares its network can ask it whether a
  // stolen token is valid. The trust graph gives the edge -> gate relationship a network of its own: an
  // attacker there would be the edge itself (allowed); from every other network and every other namespace
  // the gate does not answer.
  it("only the edge may reach the gate: from every other network and every other namespace it gives no answer", async () => {
    const edgeToGate = pairNetwork("inference-edge", "inference-gate");
    const gateNetworks = (container(d, "inference-gate").config.networks_advanced as { name: string }[]).map((n) => networkName(n.name));
    expect(gateNetworks.filter(isInternal)).toEqual([edgeToGate]);
    const stolen = { pki, headers: ["Authorization: Bearer valid-stolen"] };
    // Its other network is its way to the IdP (not internal): the gate is its only container. (The Docker
    // host itself can route to a container on a non-internal bridge; docs/engine.md, finding 8.)
    const egress = gateNetworks.filter((n) => !isInternal(n));
    expect(egress).toEqual(["inference-gate-egress"]);
    const onEgress = d.containers.filter((c) => ((c.config.networks_advanced ?? []) as { name: string }[]).some((n) => n.name === "inference-gate-egress")).map((c) => c.name);
    expect(onEgress).toEqual(["inference-gate"]);
    const places = [
      ...networks()
        .filter((x) => x !== edgeToGate && isInternal(x))
        .map((n) => ({ name: n, where: n })),
      ...namespaces().filter((x) => x.name !== "inference-edge" && x.name !== "inference-gate"),
    ];
    const seen = await probeEach(places, async (p) => ({ from: p.name, status: (await curlFrom(p.where, "https://inference-gate:4443/oauth2/auth", stolen)).status }));
    expect(seen).toEqual(places.map((p) => ({ from: p.name, status: 0 })));
    // Positive control: from the edge's namespace, and on the pair's network, the gate answers (202: the mock IdP accepts the token).
    const fromEdge = await curlFrom(`container:${container(d, "inference-edge").id}`, "https://inference-gate:4443/oauth2/auth", { ...stolen, insecure: true });
    expect(fromEdge.status).toBe(202);
    expect((await curlFrom(edgeToGate, "https://inference-gate:4443/oauth2/auth", { ...stolen, insecure: true })).status).toBe(202);
    expect(allowed("default", "inference-edge", "inference-gate", 4443)).toBe(true);
    expect(allowed("default", "inference-vllm-0", "inference-gate", 4443)).toBe(false);
  });
});

describe("default stack: observability (on by default)", () => {
  const PROMETHEUS = "https://inference-observability-prometheus:9090/api/v1/query?query=up";
  const grafanaPassword = () => d.values.get(addr("random_password", "observability_grafana-api-password"))!.result as string;

  it("Prometheus' API answers Grafana's certificate + password, and nothing less", async () => {
    const grafana = probePki(d, { grafana: { key: addr("tls_private_key", "observability_grafana-client-cert_key"), cert: addr("tls_locally_signed_cert", "observability_grafana-client-cert") } });
    try {
      const auth = `Authorization: Basic ${Buffer.from(`grafana:${grafanaPassword()}`).toString("base64")}`;
      const net = pairNetwork("inference-observability-grafana", "inference-observability-prometheus");
      expect((await curlFrom(net, PROMETHEUS, { pki: grafana, identity: "grafana", headers: [auth] })).status).toBe(200);
      expect((await curlFrom(net, PROMETHEUS, { pki: grafana, identity: "grafana" })).status).toBe(401);
      expect((await curlFrom(net, PROMETHEUS, { pki: grafana, headers: [auth] })).status).toBe(0);
      expect(allowed("default", "inference-observability-grafana", "inference-observability-prometheus", 9090)).toBe(true);
    } finally {
      fs.rmSync(grafana.dir, { recursive: true, force: true });
    }
  });

  it("Grafana's port is closed to every network; its proxy refuses any certificate but the edge's", async () => {
    const net = pairNetwork("inference-edge", "inference-observability-grafana");
    // Positive control: its proxy's port in the same namespace is open from the edge's network.
    expect(await tcpOpens(net, "inference-observability-grafana", 8443)).toBe(true);
    const all = d.networks.map((x) => x.name);
    expect(await probeEach(all, async (n) => ({ from: n, open: await tcpOpens(n, "inference-observability-grafana", 3000) }))).toEqual(all.map((n) => ({ from: n, open: false })));
    expect((await curlFrom(net, "https://inference-observability-grafana:8443/api/health", { pki, identity: "operator" })).status).toBe(403);
    expect((await curlFrom(net, "https://inference-observability-grafana:8443/api/health", { pki, identity: "edge" })).status).toBe(200);
    expect(allowed("default", "inference-edge", "inference-observability-grafana", 8443)).toBe(true);
  });
});

describe("default stack: destroy", () => {
  it("leaves nothing behind", async () => {
    await destroy(d);
    const left = await leftovers();
    d = undefined as unknown as Deployment;
    expect(left).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
