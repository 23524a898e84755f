/**
 * Lockdown on the engine: the stack serves on its published port; the apply with `lockdown = true` leaves
 * nothing answering there (the edge is replaced without its port binding; vLLM, its sidecar and the gate
 * keep running, with their logs); the apply with `lockdown = false` serves again, and the data volume kept
 * its content throughout. Names carry the prefix "zta-lockdown" and the port is 18443, so nothing here
 * shares a name or a port with the other engine stacks.
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { apply, container, destroy, Deployment, leftovers, StackJson } from "./applier";
import { containerLogs, inspectContainer, runTool } from "./docker-api";
import { probePki, ProbePki } from "./probe";
import { hostRequest, settle } from "./stack-checks";
import { buildAllStandins, toolImage } from "./standins";
import { Lockdown, SecureInference } from "../../index";
import { inferenceProps, stackWithProviders, synth } from "../helpers";

const PREFIX = "zta-lockdown";
const PORT = 18443;
const DOMAIN = "ai.example.internal";
const DATA_VOLUME = `${PREFIX}-models`;

function stackJson(): StackJson {
  const stack = stackWithProviders("lockdown");
  new SecureInference(stack, "inference", inferenceProps(stack, { namePrefix: PREFIX, hostPort: PORT }));
  new Lockdown(stack);
  return synth(stack) as unknown as StackJson;
}

/** Whether anything accepts a TCP connection on 127.0.0.1:<port> from the host. */
function hostPortAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port, timeout: 3000 });
    s.on("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.on("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Every file of the data volume with its sha256 (a tool container mounting it read-only). */
async function volumeContent(): Promise<string> {
  const r = await runTool({ image: toolImage(), cmd: ["sh", "-c", "cd /v && find . -type f | sort | xargs sha256sum"], binds: [`${DATA_VOLUME}:/v:ro`], user: "0:0", timeoutSeconds: 30 });
  if (r.exitCode !== 0) throw new Error(`reading ${DATA_VOLUME}: ${r.output}`);
  return r.output;
}

const json = stackJson();
let d: Deployment;
let pki: ProbePki;
let standins: Map<string, string>;
const ids: Record<string, string> = {};
let contentBefore = "";
const KEPT = [`${PREFIX}-vllm-0`, `${PREFIX}-vllm-0-mtls`, `${PREFIX}-gate`];

const operator = () => ({
  port: PORT,
  servername: DOMAIN,
  path: "/v1/models",
  ca: fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8"),
  cert: fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"),
  key: fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8"),
  headers: { Authorization: "Bearer valid-alice" },
});

beforeAll(async () => {
  standins = await buildAllStandins();
  d = await apply(json, { standins, variables: { lockdown: "false" } });
  const key = (prefix: string) => [...d.values.keys()].find((k) => k.startsWith(prefix))!;
  pki = probePki(d, { operator: { key: key("tls_private_key.inference_ca_operator-devops-laptop_key"), cert: key("tls_locally_signed_cert.inference_ca_operator-devops-laptop_cert") } });
  await settle(d);
  // Data of our own beside what the model fetch wrote: it must survive both applies.
  const w = await runTool({ image: toolImage(), cmd: ["sh", "-c", "echo kept-through-lockdown > /v/incident-marker"], binds: [`${DATA_VOLUME}:/v`], user: "0:0" });
  if (w.exitCode !== 0) throw new Error(`writing the marker: ${w.output}`);
  contentBefore = await volumeContent();
  for (const name of KEPT) ids[name] = container(d, name).id;
});

afterAll(async () => {
  if (d) await destroy(d);
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

describe("lockdown on the engine", () => {
  it("before: the published port serves the operator (positive control)", async () => {
    expect(await hostPortAnswers(PORT)).toBe(true);
    expect((await hostRequest(operator())).status).toBe(200);
    expect(contentBefore).toMatch(/incident-marker/);
  });

  it("lockdown = true: nothing answers on the host's port; the edge runs without a binding; the rest keep running with their logs", async () => {
    d = await apply(json, { standins, variables: { lockdown: "true" } }, "1", d);
    await settle(d);
    expect(d.notes).toContain(`replaced ${PREFIX}-edge`);
    expect(await hostPortAnswers(PORT)).toBe(false);
    const edge = await inspectContainer(container(d, `${PREFIX}-edge`).id);
    expect({ running: edge.State.Running, bindings: edge.HostConfig.PortBindings ?? {} }).toEqual({ running: true, bindings: {} });
    for (const name of KEPT) {
      const c = container(d, name);
      expect({ name, same: c.id === ids[name], running: (await inspectContainer(c.id)).State.Running }).toEqual({ name, same: true, running: true });
    }
    // The audit line of the request made before the lockdown is still in the sidecar's log.
    expect(await containerLogs(ids[`${PREFIX}-vllm-0-mtls`])).toMatch(/"route":"\/v1\/models","status":200/);
    expect(await volumeContent()).toBe(contentBefore);
  });

  it("lockdown = false: the probe passes again and the data volume kept its content", async () => {
    d = await apply(json, { standins, variables: { lockdown: "false" } }, "1", d);
    await settle(d);
    expect(await hostPortAnswers(PORT)).toBe(true);
    expect((await hostRequest(operator())).status).toBe(200);
    expect(await volumeContent()).toBe(contentBefore);
    for (const name of KEPT) expect({ name, same: container(d, name).id === ids[name] }).toEqual({ name, same: true });
  });

  it("destroy leaves nothing behind", async () => {
    await destroy(d);
    d = undefined as unknown as Deployment;
    expect(await leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
