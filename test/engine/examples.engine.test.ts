/**
 * examples/homelab.ts (ChatUi + two TailscaleExposures) and examples/team.ts (ChatUi + TailscaleExposure +
 * CloudflareTunnel) on the engine: they come up, and what the allowed-flows table does not list is refused.
 */
import { App, TerraformStack, Testing } from "cdktf";
import * as fs from "fs";
import { apply, destroy, Deployment, leftovers } from "./applier";
import { inspectContainer } from "./docker-api";
import { ALLOWED_FLOWS, allowed, pairNetwork, TUNNEL_ORIGIN_NETWORK } from "./flows";
import { exposureStack } from "./exposure-stack";
import { curlFrom, probeEach, probePki, tcpOpens } from "./probe";
import { jobs, loaders, readsItsFiles, services, settle } from "./stack-checks";
import { buildAllStandins } from "./standins";
import { HomelabStack } from "../../examples/homelab";
import { TeamStack } from "../../examples/team";

const STACKS: [keyof typeof ALLOWED_FLOWS, (app: App) => TerraformStack][] = [
  ["homelab", (app) => new HomelabStack(app, "homelab")],
  ["team", (app) => new TeamStack(app, "team")],
  ["exposure", () => exposureStack()],
];

describe.each(STACKS)("%s on the engine", (name, make) => {
  let d: Deployment;
  let pkiDir: string | undefined;

  beforeAll(async () => {
    const json = JSON.parse(Testing.synth(make(Testing.app() as App), true));
    d = await apply(json, { standins: await buildAllStandins() });
    await settle(d);
  });
  afterAll(async () => {
    if (d) await destroy(d);
    if (pkiDir) fs.rmSync(pkiDir, { recursive: true, force: true });
  });

  it("loaders created and never started, services healthy without restarts, jobs exited 0", async () => {
    expect(loaders(d).length).toBeGreaterThan(0);
    for (const c of loaders(d)) expect({ c: c.name, s: (await inspectContainer(c.id)).State.Status }).toEqual({ c: c.name, s: "created" });
    for (const c of services(d)) {
      const i = await inspectContainer(c.id);
      expect({ c: c.name, s: i.State.Status, h: i.State.Health?.Status, r: i.RestartCount }).toEqual({ c: c.name, s: "running", h: "healthy", r: 0 });
    }
    for (const c of jobs(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ c: c.name, s: s.Status, e: s.ExitCode }).toEqual({ c: c.name, s: "exited", e: 0 });
    }
  });

  it("each service reads every file of its config volume", async () => {
    for (const c of services(d)) {
      for (const r of await readsItsFiles(c, d)) expect({ service: c.name, ...r }).toEqual({ service: c.name, file: r.file, ok: true });
    }
  });

  it("the chat UI reaches vLLM through its own proxy and the sidecar (its allowed flow)", async () => {
    expect(allowed(name, "inference-chat", "inference-vllm-0", 8443)).toBe(true);
    const chat = d.containers.find((c) => c.name === "inference-chat")!;
    const r = await curlFrom(`container:${chat.id}`, "http://127.0.0.1:8080/api/models");
    expect(r.status).toBe(200);
  });

  it("vLLM's port is closed, and the sidecar refuses no certificate and another CA's, from every network", async () => {
    const ca = [...d.values.keys()].find((k) => k.startsWith("tls_locally_signed_cert.inference_edge_client-cert"))!;
    const key = [...d.values.keys()].find((k) => k.startsWith("tls_private_key.inference_edge_client-cert_key"))!;
    const pki = probePki(d, { edge: { key, cert: ca } });
    pkiDir = pki.dir;
    // Positive control: the probe sees an open port (the sidecar's, in vLLM's namespace, from the edge's network).
    expect(await tcpOpens(pairNetwork("inference-edge", "inference-vllm-0"), "inference-vllm-0", 8443)).toBe(true);
    const all = d.networks.map((x) => x.name);
    expect(await probeEach(all, async (n) => ({ from: n, open: await tcpOpens(n, "inference-vllm-0", 8000) }))).toEqual(all.map((n) => ({ from: n, open: false })));
    const probes = all.flatMap((from) => [undefined, "wrong"].map((identity) => ({ from, identity })));
    const seen = await probeEach(probes, async (p) => {
      const r = await curlFrom(p.from, "https://inference-vllm-0:8443/v1/models", { pki, identity: p.identity });
      return { ...p, refused: r.status < 200 || r.status >= 300 };
    });
    expect(seen).toEqual(probes.map((p) => ({ ...p, refused: true })));
  });

  it("the tunnel listener (chat :8444) answers only on the tunnel's origin network", async () => {
    const tunnel = ALLOWED_FLOWS[name].find((f) => f.port === 8444);
    if (!tunnel) {
      // No tunnel in this stack: nothing may listen there.
      expect(d.networks.map((n) => n.name)).not.toContain(TUNNEL_ORIGIN_NETWORK);
      return;
    }
    expect(tunnel.caller).toBe("inference-chat-cloudflared");
    const pki = probePki(d, {});
    try {
      const all = d.networks.map((x) => x.name);
      const seen = await probeEach(all, async (n) => {
        const r = await curlFrom(n, "https://inference-chat:8444/", { pki, headers: ["Host: chat.zta.internal"], insecure: true });
        return { from: n, answered: r.status >= 200 && r.status < 400 };
      });
      expect(seen).toEqual(all.map((n) => ({ from: n, answered: n === TUNNEL_ORIGIN_NETWORK })));
    } finally {
      fs.rmSync(pki.dir, { recursive: true, force: true });
    }
  });

  it("the chat site on the edge listener (chat :8443) needs the edge's certificate, and only where the edge may call it", async () => {
    const cert = [...d.values.keys()].find((k) => k.startsWith("tls_locally_signed_cert.inference_edge_client-cert"))!;
    const key = [...d.values.keys()].find((k) => k.startsWith("tls_private_key.inference_edge_client-cert_key"))!;
    const pki = probePki(d, { edge: { key, cert } });
    try {
      // Where the edge may call the UI, on the network of that pair; where it may not (team: the UI is on the
      // tunnel only), that network does not exist and an attacker with the edge's certificate on the UI's other
      // internal network (to the sidecar) gets no page either.
      const mayCall = allowed(name, "inference-edge", "inference-chat", 8443);
      const net = mayCall ? pairNetwork("inference-edge", "inference-chat") : pairNetwork("inference-chat", "inference-vllm-0");
      expect(d.networks.map((n) => n.name)).toContain(net);
      expect(d.networks.map((n) => n.name).includes(pairNetwork("inference-edge", "inference-chat"))).toBe(mayCall);
      const without = await curlFrom(net, "https://inference-chat:8443/", { pki, insecure: true });
      const wrong = await curlFrom(net, "https://inference-chat:8443/", { pki, identity: "wrong", insecure: true });
      const edge = await curlFrom(net, "https://inference-chat:8443/", { pki, identity: "edge", insecure: true });
      const edgeExpected = mayCall ? 200 : "refused";
      expect({
        without: without.status < 200 || without.status >= 400,
        wrong: wrong.status < 200 || wrong.status >= 400,
        edge: edge.status >= 200 && edge.status < 400 ? edge.status : "refused",
      }).toEqual({ without: true, wrong: true, edge: edgeExpected });
    } finally {
      fs.rmSync(pki.dir, { recursive: true, force: true });
    }
  });

  it("destroy leaves nothing behind", async () => {
    await destroy(d);
    d = undefined as unknown as Deployment;
    expect(await leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
