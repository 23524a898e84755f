/**
 * The audit trail's daemon leg on the real engine: the default stack plus an AuditLog, applied with stand-in
 * images (the collector runs Debian's real syslog-ng). The Docker daemon itself ships each container's output
 * with the syslog driver options AuditLog rendered, over TLS with the daemon's client certificate read from the
 * daemon-TLS volume's mountpoint, to the collector published on 127.0.0.1. A real request through the edge
 * makes the sidecar write its access line; the test reads it back from the collector's day file.
 */
import { App, Testing } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { apply, destroy, Deployment } from "./applier";
import { inspectContainer, runTool } from "./docker-api";
import { probePki, ProbePki, tcpOpens } from "./probe";
import { hostRequest, readUntil, services, settle } from "./stack-checks";
import { buildAllStandins, toolImage } from "./standins";
import { createHash } from "crypto";
import { AuditLog, SandboxRunner, SecureInference } from "../../index";
import { checkAuditRecord } from "../../lib/audit-events";
import { CONFIG_HASH_LABEL } from "../../lib/identities";
import { DefaultInferenceStack } from "../../stacks/default-stack";

const DOMAIN = "ai.example.internal";
const NAME = "zaud-audit";
const PORT = 16514;
/** A user's pinned agent image; the applier runs the suite's busybox tool image for it. */
const AGENT_IMAGE = `example/agent-tools:1.0@sha256:${"a1".repeat(32)}`;
const AGENT = "zaud-agent";
const AGENT_COMMAND = ["sh", "-c", "echo 'ran 3 tests'; echo '1 failed' >&2; exit 3"];
let d: Deployment;
let json: any;
let standins: Map<string, string>;
let pki: ProbePki;
const addr = (type: string, prefix: string) => {
  const a = [...d.values.keys()].find((k) => k.startsWith(`${type}.${prefix}`));
  if (!a) throw new Error(`no ${type}.${prefix}*`);
  return a;
};
const byName = (name: string) => {
  const c = d.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name} among ${d.containers.map((x) => x.name).join(", ")}`);
  return c;
};

/** Every record of the collector's day files, read from its volume by a tool container. */
async function stored(): Promise<Array<Record<string, any>>> {
  const r = await runTool({ image: toolImage(), cmd: ["sh", "-c", "cat /audit/*.jsonl 2>/dev/null || true"], binds: [`${NAME}-data:/audit:ro`] });
  return r.output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

function handshake(cert?: string, key?: string): Promise<string> {
  const ca = fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8");
  return new Promise((resolve) => {
    const s = tls.connect({ host: "127.0.0.1", port: PORT, ca, cert, key, servername: `${NAME}-collector` }, () => {
      s.write("1 x");
      setTimeout(() => s.end(() => resolve("accepted")), 500);
    });
    s.on("error", (e) => resolve(`refused: ${e.message}`));
  });
}

beforeAll(async () => {
  const stack = new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai");
  const ai = stack.node.findAll().find((c): c is SecureInference => c instanceof SecureInference)!;
  new AuditLog(stack, "audit", { ca: ai.ca, name: NAME, hostPort: PORT, pruneIntervalSeconds: 60 });
  // An agent run that fails (exit 3): its tool.run record must say so.
  new SandboxRunner(stack, "agent", { image: AGENT_IMAGE, command: AGENT_COMMAND, name: AGENT });
  json = JSON.parse(Testing.synth(stack, true));
  standins = new Map(await buildAllStandins()).set(AGENT_IMAGE, toolImage());
  d = await apply(json, { standins });
  pki = probePki(d, {
    operator: { key: addr("tls_private_key", "inference_ca_operator-devops-laptop_key"), cert: addr("tls_locally_signed_cert", "inference_ca_operator-devops-laptop_cert") },
    daemon: { key: addr("tls_private_key", "audit_daemon-client-cert_key"), cert: addr("tls_locally_signed_cert", "audit_daemon-client-cert") },
  });
  await settle(d);
});

afterAll(async () => {
  if (d) await destroy(d);
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

describe("AuditLog on the engine", () => {
  it("collector and pruner are running, healthy and hardened; no docker.sock; the port is on 127.0.0.1 only", async () => {
    for (const name of [`${NAME}-collector`, `${NAME}-retention`, `${NAME}-loki`, `${NAME}-loki-gateway`]) {
      const i = await inspectContainer(byName(name).id);
      expect({ name, status: i.State.Status, health: i.State.Health?.Status, restarts: i.RestartCount }).toEqual({ name, status: "running", health: "healthy", restarts: 0 });
      expect(i.HostConfig.ReadonlyRootfs).toBe(true);
      expect(i.HostConfig.CapDrop).toEqual(["ALL"]);
      expect(i.HostConfig.SecurityOpt).toContain("no-new-privileges:true");
      expect(JSON.stringify(i.Mounts)).not.toContain("docker.sock");
    }
    const c = await inspectContainer(byName(`${NAME}-collector`).id);
    expect(c.HostConfig.PortBindings).toEqual({ "6514/tcp": [{ HostIp: "127.0.0.1", HostPort: String(PORT) }] });
  });

  it("every other service started with the syslog driver (so the collector was listening first) and is healthy", async () => {
    const others = services(d).filter((c) => !c.name.startsWith(NAME));
    // The default stack's services: the request path and Observability.
    expect(others.map((c) => c.name).sort()).toEqual([
      "inference-edge",
      "inference-gate",
      "inference-observability-grafana",
      "inference-observability-grafana-proxy",
      "inference-observability-prometheus",
      "inference-vllm-0",
      "inference-vllm-0-mtls",
    ]);
    for (const c of others) {
      const i = await inspectContainer(c.id);
      expect({ name: c.name, driver: i.HostConfig.LogConfig.Type, health: i.State.Health?.Status }).toEqual({ name: c.name, driver: "syslog", health: "healthy" });
    }
  });

  it("the sidecar's access line for a real request arrives in the day file, attributed by the daemon's tag", async () => {
    const ex = await hostRequest({
      port: 443,
      servername: DOMAIN,
      path: "/v1/models",
      ca: fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8"),
      cert: fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"),
      key: fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8"),
      headers: { Authorization: "Bearer valid-alice" },
    });
    expect(ex.status).toBe(200);
    const records = await readUntil(stored, (rs) => rs.some((r) => r.container === "inference-vllm-0-mtls" && r.event?.route === "/v1/models"));
    const line = records.find((r) => r.container === "inference-vllm-0-mtls" && r.event?.route === "/v1/models");
    expect(line).toBeDefined();
    expect(line!.event).toMatchObject({ caller: "edge", identity: expect.stringContaining("alice") });
    expect(String(line!.event.status)).toBe("200");
    // The edge's output arrives too (its own container name as the tag).
    expect(records.some((r) => r.container === "inference-edge")).toBe(true);
  });

  it("Loki: the same line arrives through the gateway with the collector's certificate, labelled by the daemon's tag; Loki's own port is closed to the collector", async () => {
    // What the Loki stand-in stored (its volume), after the request of the test above.
    const pushed = async () => {
      const r = await runTool({ image: toolImage(), cmd: ["sh", "-c", "cat /loki/standin-entries.jsonl 2>/dev/null || true"], binds: [`${NAME}-loki-data:/loki:ro`] });
      return r.output.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { labels: Record<string, string>; ns: string; line: string });
    };
    const isCall = (e: Awaited<ReturnType<typeof pushed>>[number]) => e.labels.container === "inference-vllm-0-mtls" && e.line.includes('"route":"/v1/models"');
    const call = (await readUntil(pushed, (es) => es.some(isCall))).find(isCall);
    expect(call).toBeDefined();
    expect(call!.labels).toEqual({ job: "zta-audit", container: "inference-vllm-0-mtls", stream: "info" });
    // Verbatim: the sidecar's own JSON, numbers as numbers.
    expect(JSON.parse(call!.line)).toMatchObject({ caller: "edge", status: 200 });
    expect(Number(BigInt(call!.ns) / 1_000_000n)).toBeGreaterThan(Date.now() - 10 * 60 * 1000);
    // The collector reaches the gateway on their pair network, never Loki's loopback listener.
    const pair = `${NAME}-collector-to-${NAME}-loki`;
    expect(await tcpOpens(pair, `${NAME}-loki`, 3100)).toBe(true);
    expect(await tcpOpens(pair, `${NAME}-loki`, 3101)).toBe(false);
  });

  it("Grafana reads the trail through its provisioned Loki datasource, and that read is itself recorded as audit.read", async () => {
    const query = encodeURIComponent('{container="inference-vllm-0-mtls"}');
    const ex = await hostRequest({
      port: 443,
      servername: "grafana.example.internal",
      path: `/api/datasources/proxy/uid/zta-audit-loki/loki/api/v1/query_range?query=${query}`,
      ca: fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8"),
      cert: fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"),
      key: fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8"),
      headers: { Cookie: "__Host-zta-session=valid-alice" },
    });
    // operator -> edge -> Grafana's proxy -> Grafana -> (Grafana's client certificate) -> the gateway -> Loki.
    expect(ex.status).toBe(200);
    const result = JSON.parse(ex.body).data.result as Array<{ stream: Record<string, string>; values: [string, string][] }>;
    expect(result.map((r) => r.stream.container)).toEqual(["inference-vllm-0-mtls"]);
    expect(result[0].values.some(([, line]) => line.includes('"route":"/v1/models"'))).toBe(true);
    // The gateway's line for that read reaches the collector (the gateway is audited; its pushes are not logged).
    const isRead = (r: Record<string, any>) => r.container === `${NAME}-loki-gateway` && r.event?.route === "/loki/api/v1/query_range";
    const read = (await readUntil(stored, (rs) => rs.some(isRead))).find(isRead);
    expect(read).toBeDefined();
    expect(checkAuditRecord(read)).toEqual([]);
    expect(read!.event).toMatchObject({ gateway: "loki", role: "reader", client_cert: "CN=zta-grafana,OU=zta-services,O=cdktf-zero-trust-ai" });
    expect(String(read!.event.status)).toBe("200");
  });

  it("a SandboxRunner run becomes one tool.run record: image, command, exit code 3 and the SHA-256 of the output Terraform kept", async () => {
    const run = byName(AGENT);
    const runValues = d.values.get(run.address)!;
    expect(runValues.exit_code).toBe(3);
    expect(runValues.container_logs).toContain("ran 3 tests");
    expect((await inspectContainer(byName(`${AGENT}-record`).id)).State).toMatchObject({ Status: "exited", ExitCode: 0 });
    const isToolRun = (r: Record<string, any>) => r.event?.event === "tool.run";
    const record = (await readUntil(stored, (rs) => rs.some(isToolRun))).find(isToolRun);
    expect(record).toBeDefined();
    expect(checkAuditRecord(record)).toEqual([]);
    expect(record!.container).toBe(`${AGENT}-record`);
    expect(record!.event).toMatchObject({ run: AGENT, image: AGENT_IMAGE, workspace: "" });
    expect(String(record!.event.exit_code)).toBe("3");
    expect(record!.event.output_sha256).toBe(createHash("sha256").update(runValues.container_logs).digest("hex"));
    expect(Date.parse(record!.event.time)).toBeGreaterThan(Date.now() - 10 * 60 * 1000);
  });

  it("config.deployed: the applied configuration is recorded; a re-issued edge certificate records a new one that differs exactly where the config changed", async () => {
    const hashOf = (name: string) => (byName(name).config.labels as { label: string; value: string }[]).find((l) => l.label === CONFIG_HASH_LABEL)?.value ?? "";
    // Every started container outside the AuditLog: the services, the model fetch, the sandbox run and its record job.
    const audited = d.containers.filter((c) => c.config.start !== false && !c.name.startsWith(NAME)).map((c) => c.name);
    const deployedIn = (rs: Array<Record<string, any>>) => rs.filter((r) => r.event?.event === "config.deployed");
    const deployed = async (count: number) => deployedIn(await readUntil(stored, (rs) => deployedIn(rs).length >= count));
    const first = await deployed(audited.length);
    expect(first.map((r) => r.event.service).sort()).toEqual(audited.sort());
    for (const r of first) {
      expect(checkAuditRecord(r)).toEqual([]);
      expect(r.container).toBe(`${NAME}-changes`);
      expect({ name: r.event.service, hash: r.event.config_sha256 }).toEqual({ name: r.event.service, hash: hashOf(r.event.service) });
    }
    expect(hashOf("inference-edge")).toMatch(/^[0-9a-f]{64}$/);

    const oldEdge = byName("inference-edge").id;
    const hashesBefore = new Map(audited.map((name) => [name, hashOf(name)]));
    d = await apply(json, { standins }, "1", d, ["tls_locally_signed_cert.inference_edge_server-cert"]);
    await settle(d);
    expect(byName("inference-edge").id).not.toBe(oldEdge);
    // What the re-issue changed, from the applied labels: the edge's certificate, and Prometheus' alert rules
    // when the new certificate's expiry warning falls in another minute (they carry it to the minute; seen in CI).
    const reconfigured = audited.filter((name) => hashOf(name) !== hashesBefore.get(name));
    expect(reconfigured).toContain("inference-edge");
    expect(reconfigured.filter((name) => name !== "inference-edge" && name !== "inference-observability-prometheus")).toEqual([]);
    const records = await deployed(2 * audited.length);
    expect(records.length).toBe(2 * audited.length);
    // Each container's second line against its first: exactly the reconfigured ones differ.
    const of = (service: string) => records.filter((r) => r.event.service === service).map((r) => `${r.event.image} ${r.event.config_sha256}`);
    const changed = audited.filter((name) => new Set(of(name)).size > 1);
    expect(changed).toEqual(reconfigured);
    expect(records.filter((r) => r.event.service === "inference-edge")[1].event.config_sha256).toBe(hashOf("inference-edge"));
  });

  it("the collector's port refuses a connection without the daemon's client certificate and accepts the daemon's", async () => {
    expect(await handshake()).toMatch(/^refused: .*certificate required/);
    const op = [fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"), fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8")];
    expect(await handshake(op[0], op[1])).toMatch(/^refused: .*bad certificate/);
    const daemon = [fs.readFileSync(path.join(pki.dir, "daemon.crt"), "utf8"), fs.readFileSync(path.join(pki.dir, "daemon.key"), "utf8")];
    expect(await handshake(daemon[0], daemon[1])).toBe("accepted");
  });
});
