/**
 * A changed configuration on the engine: a second apply of the same stack with a new route, then with a
 * re-issued edge certificate. The config hash label changes, so the service is replaced (as Terraform
 * replaces a docker_container whose labels change), and the new configuration is what is served.
 */
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { apply, container, destroy, Deployment, leftovers } from "./applier";
import { inspectContainer } from "./docker-api";
import { probePki, ProbePki } from "./probe";
import { hostRequest, settle } from "./stack-checks";
import { buildAllStandins } from "./standins";
import { InferenceRoutes, SecureInference } from "../../index";
import { inferenceProps, stackWithProviders, synth } from "../helpers";

const DOMAIN = "ai.example.internal";

function stackJson(routes: string[]): any {
  const stack = stackWithProviders("replace");
  new SecureInference(stack, "inference", inferenceProps(stack, { routes }));
  return synth(stack);
}

/** The certificate the edge serves on the published port, as the host sees it (fingerprint). */
function servedFingerprint(ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: 443, servername: DOMAIN, ca, timeout: 5000 }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on("error", reject);
  });
}

let d: Deployment;
let pki: ProbePki;
const key = (prefix: string) => [...d.values.keys()].find((k) => k.startsWith(prefix))!;

function refreshPki(): void {
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  pki = probePki(d, {
    operator: { key: key("tls_private_key.inference_ca_operator-devops-laptop_key"), cert: key("tls_locally_signed_cert.inference_ca_operator-devops-laptop_cert") },
  });
}
const operator = () => ({
  port: 443,
  servername: DOMAIN,
  ca: fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8"),
  cert: fs.readFileSync(path.join(pki.dir, "operator.crt"), "utf8"),
  key: fs.readFileSync(path.join(pki.dir, "operator.key"), "utf8"),
  headers: { Authorization: "Bearer valid-alice", "Content-Type": "application/json" },
  method: "POST",
  body: JSON.stringify({ model: "m", query: "q", documents: ["a"] }),
});

beforeAll(async () => {
  d = await apply(stackJson(InferenceRoutes.DEFAULT), { standins: await buildAllStandins() });
  refreshPki();
  await settle(d);
});
afterAll(async () => {
  if (d) await destroy(d);
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

it("before: /v1/rerank is not a route (404)", async () => {
  expect((await hostRequest({ ...operator(), path: "/v1/rerank" })).status).toBe(404);
});

it("a new route replaces the edge and the sidecar, keeps the gate, and is then served", async () => {
  const before = { edge: container(d, "inference-edge").id, sidecar: container(d, "inference-vllm-0-mtls").id, gate: container(d, "inference-gate").id };
  d = await apply(stackJson([...InferenceRoutes.DEFAULT, "/v1/rerank"]), { standins: await buildAllStandins() }, "1", d);
  await settle(d);
  const after = { edge: container(d, "inference-edge").id, sidecar: container(d, "inference-vllm-0-mtls").id, gate: container(d, "inference-gate").id };
  expect({ edge: after.edge !== before.edge, sidecar: after.sidecar !== before.sidecar, gate: after.gate === before.gate }).toEqual({ edge: true, sidecar: true, gate: true });
  for (const id of Object.values(after)) expect((await inspectContainer(id)).State.Health?.Status).toBe("healthy");
  expect((await hostRequest({ ...operator(), path: "/v1/rerank" })).status).toBe(200);
});

it("a re-issued edge certificate replaces the edge, which then serves the new certificate", async () => {
  const ca = fs.readFileSync(path.join(pki.dir, "ca.crt"), "utf8");
  const oldFingerprint = await servedFingerprint(ca);
  const oldEdge = container(d, "inference-edge").id;
  d = await apply(stackJson([...InferenceRoutes.DEFAULT, "/v1/rerank"]), { standins: await buildAllStandins() }, "1", d, [
    "tls_locally_signed_cert.inference_edge_server-cert",
  ]);
  await settle(d);
  expect(container(d, "inference-edge").id).not.toBe(oldEdge);
  const newFingerprint = await servedFingerprint(ca);
  expect(newFingerprint).not.toBe(oldFingerprint);
  expect((await hostRequest({ ...operator(), method: "GET", body: undefined, path: "/v1/models" })).status).toBe(200);
});

it("destroy leaves nothing behind", async () => {
  await destroy(d);
  d = undefined as unknown as Deployment;
  expect(await leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
});
