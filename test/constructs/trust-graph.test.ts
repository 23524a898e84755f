import { App, Testing } from "cdktf";
import { TerraformStack } from "cdktf";
import { HardenedService, TrustGraph } from "../../index";
import { DefaultInferenceStack } from "../../stacks/default-stack";
import { HomelabStack } from "../../examples/homelab";
import { TeamStack } from "../../examples/team";
import { OwnServiceStack } from "../../examples/own-service";
import { synth } from "../helpers";

/**
 * Segmentation both ways, at synth, for every pair of containers of each stack: two network namespaces share
 * an internal Docker network exactly when the trust graph holds a flow between them. (The engine suite proves
 * the same networks on a real engine.)
 */
function segmentation(stack: TerraformStack) {
  const json = synth(stack);
  const containers = Object.entries(json.resource.docker_container) as [string, any][];
  const byId = new Map(containers.map(([id, c]) => [id, c]));
  // A container in `container:<id>` mode listens in its owner's namespace.
  const ownerOf = (name: string): string => {
    const c = containers.find(([, x]) => x.name === name)?.[1];
    const m = /^container:\$\{docker_container\.([^.]+)\.id\}$/.exec(c?.network_mode ?? "");
    return m ? byId.get(m[1]).name : name;
  };
  const networkName = (ref: string) => {
    const id = /docker_network\.([^.]+)\.name/.exec(ref)?.[1];
    return id ? json.resource.docker_network[id].name : ref;
  };
  const internal = new Set(
    Object.values(json.resource.docker_network as Record<string, any>)
      .filter((n) => n.internal === true)
      .map((n) => n.name),
  );
  const owners = containers
    .map(([, c]) => c)
    .filter((c) => c.start !== false && c.networks_advanced !== undefined)
    .map((c) => ({
      name: c.name as string,
      networks: new Set<string>((c.networks_advanced as { name: string }[]).map((n) => networkName(n.name))),
    }));
  const flows = TrustGraph.of(stack).flows.filter((f) => !["host", "tailnet", "cloudflare"].includes(f.caller));
  const related = (a: string, b: string) =>
    flows.some((f) => [ownerOf(f.caller), f.dials].sort().join() === [a, b].sort().join());

  // Allowed flows whose ends share no network (unreachable although allowed).
  const unreachable = flows
    .filter((f) => {
      const a = owners.find((o) => o.name === ownerOf(f.caller))!;
      const b = owners.find((o) => o.name === f.dials)!;
      return ![...a.networks].some((n) => b.networks.has(n));
    })
    .map((f) => `${f.caller} -> ${f.callee}:${f.port}`);
  // Pairs without a flow that share an internal network (reachable although not allowed).
  const leaks: string[] = [];
  for (const a of owners) {
    for (const b of owners) {
      if (a.name >= b.name || related(a.name, b.name)) continue;
      for (const n of a.networks) if (b.networks.has(n) && internal.has(n)) leaks.push(`${a.name} / ${b.name} on ${n}`);
    }
  }
  const peersOf = (name: string) =>
    owners
      .filter(
        (o) => o.name !== name && [...o.networks].some((n) => owners.find((x) => x.name === name)!.networks.has(n)),
      )
      .map((o) => o.name);
  return { flows, unreachable, leaks, peersOf, owners };
}

const STACKS: [string, () => TerraformStack, boolean][] = [
  ["default (with observability)", () => new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai"), true],
  [
    "default without observability",
    () => new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai", { observability: false }),
    true,
  ],
  ["homelab", () => new HomelabStack(Testing.app() as App, "homelab"), false],
  ["team", () => new TeamStack(Testing.app() as App, "team"), true],
  ["own-service", () => new OwnServiceStack(Testing.app() as App, "own"), true],
];

describe.each(STACKS)("trust graph segmentation: %s", (_name, make, hasGate) => {
  const s = segmentation(make());

  test("the graph has flows, and every allowed flow's two ends share a network (reachable)", () => {
    expect(s.flows.length).toBeGreaterThan(1);
    expect(s.unreachable).toEqual([]);
  });

  test("no two namespaces without a flow share an internal network (not reachable)", () => {
    expect(s.leaks).toEqual([]);
  });

  test(hasGate ? "the gate shares a network with the edge alone" : "there is no gate", () => {
    const gate = s.owners.find((o) => o.name.endsWith("-gate"));
    expect(gate !== undefined).toBe(hasGate);
    if (gate) expect(s.peersOf(gate.name)).toEqual(["inference-edge"]);
  });
});

describe("trust graph segmentation: the check fails on a stack that breaks it", () => {
  test("a container attached by hand to the edge->gate network is a leak to the gate and to the edge", () => {
    const stack = new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai");
    const net = TrustGraph.of(stack).node.findChild(
      "inference-edge-to-inference-gate",
    ) as import("@cdktf/provider-docker/lib/network").Network;
    // Hardened (the stack's production policy passes it), but joined to the gate's network by hand, outside the graph.
    new HardenedService(stack, "rogue", {
      name: "rogue",
      role: "rogue",
      catalogImage: { reference: `rogue:1@sha256:${"c".repeat(64)}`, user: "1000:1000" },
      hardening: { memoryMb: 64, cpuShares: 64, healthcheck: ["true"] },
      networks: [{ name: net.name }],
    });
    const s = segmentation(stack);
    expect(s.leaks.sort()).toEqual([
      "inference-edge / rogue on inference-edge-to-inference-gate",
      "inference-gate / rogue on inference-edge-to-inference-gate",
    ]);
    expect(s.peersOf("inference-gate").sort()).toEqual(["inference-edge", "rogue"]);
  });
});

describe("the engine suite's allowed-flows table is what the trust graph declares", () => {
  /* eslint-disable @typescript-eslint/no-require-imports -- the engine suite's modules load only for this block */
  const { ALLOWED_FLOWS, flowsFromLabels } = require("../engine/flows");
  const { exposureStack } = require("../engine/exposure-stack");
  const { observabilityStack } = require("../engine/observability-stack");
  /* eslint-enable @typescript-eslint/no-require-imports */
  const key = (f: { caller: string; service: string; port: number; auth: string }) =>
    `${f.caller} -> ${f.service}:${f.port} ${f.auth}`;
  const cases: [string, () => TerraformStack][] = [
    ["default", () => new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai")],
    ["homelab", () => new HomelabStack(Testing.app() as App, "homelab")],
    ["team", () => new TeamStack(Testing.app() as App, "team")],
    ["exposure", exposureStack],
    ["observability", observabilityStack],
  ];
  test.each(cases)("%s", (name, make) => {
    const declared = flowsFromLabels(synth(make())).map(key).sort();
    expect(declared).toEqual(ALLOWED_FLOWS[name].map(key).sort());
  });
});
