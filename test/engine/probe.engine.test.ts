/**
 * `zta-probe` against the default stack (stacks/default-stack.ts) on the real Docker engine, as a user
 * runs it after `cdktf deploy`: the operator bundle is the applied stack's `terraform output -json`
 * value, the target is the edge's published 127.0.0.1 port, the expectations come from the stack
 * (its routes, and OIDC from the edge's `zta.callers` label), the audit log is the sidecar's stdout.
 * The sidecar's /metrics check needs the internal network (a host is not on it): reported as skipped.
 */
import { App, Testing } from "cdktf";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { main } from "../../lib/probe/cli";
import { CHECKS } from "../../lib/probe/checks";
import { DefaultInferenceStack } from "../../stacks/default-stack";
import { apply, container, destroy, Deployment, leftovers } from "./applier";
import { API, socketPath } from "./docker-api";
import { settle } from "./stack-checks";
import { buildAllStandins } from "./standins";

let d: Deployment;
let stack: DefaultInferenceStack;
let dir: string;
let stopLogs: (() => void) | undefined;

/** An output's value as `terraform output -json <name>` prints it: references resolved from the applied values. */
function terraformOutput(name: string): Record<string, string> {
  const output = (d.json as unknown as { output: Record<string, { value: Record<string, string> }> }).output[name];
  if (!output) throw new Error(`no output ${name}`);
  return Object.fromEntries(
    Object.entries(output.value).map(([k, ref]) => {
      const m = /^\$\{([\w-]+)\.([\w-]+)\.(\w+)\}$/.exec(ref);
      if (!m) throw new Error(`output ${name}.${k}: not a plain reference: ${ref}`);
      const v = d.values.get(`${m[1]}.${m[2]}`)?.[m[3]];
      if (typeof v !== "string") throw new Error(`output ${name}.${k}: ${ref} has no value`);
      return [k, v];
    }),
  );
}

/** Follows a container's stdout into a file (Engine API logs?follow=1, demultiplexed), like `docker logs -f > file`. */
function followStdout(id: string, file: string): Promise<() => void> {
  fs.writeFileSync(file, "");
  return new Promise((resolve, reject) => {
    const since = Math.floor(Date.now() / 1000) - 5;
    const req = http.request({ socketPath: socketPath(), path: `${API}/containers/${id}/logs?follow=1&stdout=1&since=${since}` }, (res) => {
      let pending = Buffer.alloc(0);
      res.on("data", (c: Buffer) => {
        pending = Buffer.concat([pending, c]);
        while (pending.length >= 8) {
          const size = pending.readUInt32BE(4);
          if (pending.length < 8 + size) break;
          fs.appendFileSync(file, pending.subarray(8, 8 + size));
          pending = pending.subarray(8 + size);
        }
      });
      resolve(() => req.destroy());
    });
    req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    req.end();
  });
}

beforeAll(async () => {
  stack = new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai");
  const json = JSON.parse(Testing.synth(stack, true));
  d = await apply(json, { standins: await buildAllStandins() });
  await settle(d);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-probe-engine-"));
  const outputs = stack.inference.operatorOutputs;
  fs.writeFileSync(path.join(dir, "bundle.json"), JSON.stringify(terraformOutput(outputs[0])));
  fs.writeFileSync(path.join(dir, "scraper.json"), JSON.stringify(terraformOutput("inference_metrics_scraper_bundle")));
  stopLogs = await followStdout(container(d, "inference-vllm-0-mtls").id, path.join(dir, "audit.log"));
});

afterAll(async () => {
  stopLogs?.();
  if (d) await destroy(d);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("zta-probe against the default stack on the engine", () => {
  it("the expectations come from the stack: its routes, OIDC from the edge's zta.callers label, the published port", () => {
    const edge = container(d, "inference-edge");
    const callers = JSON.parse((edge.config.labels as { label: string; value: string }[]).find((l) => l.label === "zta.callers")!.value);
    // The host through the published port, and Prometheus on the edge's metrics listener (its own network).
    expect(callers).toEqual([
      expect.objectContaining({ caller: "host", auth: "mtls+oidc" }),
      expect.objectContaining({
        caller: "inference-observability-prometheus",
        port: 9180,
        auth: "mtls",
        identity: "zta-metrics-scraper",
        network: "inference-observability-prometheus-to-inference-edge",
      }),
    ]);
    expect(edge.config.ports).toEqual([expect.objectContaining({ ip: "127.0.0.1", external: 443 })]);
    expect(stack.inference.routes.length).toBeGreaterThan(0);
  });

  it("passes every check it can run from the host; exit 0", async () => {
    const edge = container(d, "inference-edge");
    const callers = JSON.parse((edge.config.labels as { label: string; value: string }[]).find((l) => l.label === "zta.callers")!.value);
    const oidc = callers.some((c: { auth: string }) => c.auth.includes("oidc"));
    const port = edge.config.ports[0].external as number;
    const out: string[] = [];
    const err: string[] = [];
    const report = path.join(dir, "report.json");
    const code = await main(
      [
        `https://${stack.inference.edge.hostnames[0]}${port === 443 ? "" : `:${port}`}`,
        "--bundle", path.join(dir, "bundle.json"),
        ...(oidc ? ["--token", "valid-probe-user"] : ["--no-oidc"]),
        "--scraper-bundle", path.join(dir, "scraper.json"),
        "--audit-log", path.join(dir, "audit.log"),
        "--routes", stack.inference.routes.join(","),
        "--resolve", `${stack.inference.edge.hostnames[0]}=${edge.config.ports[0].ip}`,
        "--json", report,
      ],
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      {},
    );
    console.log(out.join("\n"));
    expect({ code, err }).toEqual({ code: 0, err: [] });
    const results = JSON.parse(fs.readFileSync(report, "utf8")).results as { id: string; status: string; got: string }[];
    const skippedHere: Record<string, string> = { "auth-browser-redirect": "needs --chat", "metrics-scraper-only": "needs --sidecar (run from the internal network)" };
    expect(results.map((r) => ({ id: r.id, status: r.status, ...(r.status === "PASS" ? {} : { got: r.got }) }))).toEqual(
      CHECKS.map((c) => (skippedHere[c.id] ? { id: c.id, status: "SKIP", got: skippedHere[c.id] } : { id: c.id, status: "PASS" })),
    );
    // The stand-in vLLM streams 11 tokens 20 ms apart: the probe saw them arrive one by one.
    expect(results.find((r) => r.id === "stream-token-by-token")!.got).toMatch(/12 events in ([6-9]|1[0-2]) reads/);
  });
});

describe("zta-probe engine run: destroy", () => {
  it("leaves nothing behind", async () => {
    stopLogs?.();
    stopLogs = undefined;
    await destroy(d);
    d = undefined as unknown as Deployment;
    expect(await leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
