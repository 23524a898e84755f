import { Container, ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { hardenedContainer } from "../../../lib/hardening";
import { CONTAINER_RULES, containerFindings } from "../../../lib/policy/hardened";
import { ALL_RULES } from "../../../lib/policy/rules";
import { SecurityPolicy } from "../../../lib/policy/security-policy";
import { gapRuleIds, hardeningGaps, synth } from "../../helpers";
import { ATTACHED_JOB, PINNED, compliantContainer, newStack } from "./fixtures";

const REASON = "the vendor image needs it; compensating control in OPS-12";

/** One broken invariant per row: the change to a compliant container, and the rule that must name it. */
const BROKEN: [string, Partial<ContainerConfig>, string][] = [
  ["port on every interface", { ports: [{ internal: 80, external: 8080 }] }, "ZTA-CTR-001"],
  ["privileged", { privileged: true }, "ZTA-CTR-002"],
  ["a capability added", { capabilities: { drop: ["ALL"], add: ["NET_ADMIN"] } }, "ZTA-CTR-003"],
  ["capabilities not dropped", { capabilities: undefined }, "ZTA-CTR-003"],
  ["no no-new-privileges", { securityOpts: [] }, "ZTA-CTR-004"],
  ["writable rootfs", { readOnly: false }, "ZTA-CTR-005"],
  ["no memory limit", { memory: undefined, memorySwap: undefined }, "ZTA-CTR-006"],
  ["swap allowed", { memorySwap: -1 }, "ZTA-CTR-006"],
  ["no CPU limit", { cpuShares: undefined }, "ZTA-CTR-007"],
  ["host network", { networkMode: "host", networksAdvanced: undefined }, "ZTA-CTR-008"],
  ["host PID", { pidMode: "host" }, "ZTA-CTR-008"],
  ["host IPC", { ipcMode: "host" }, "ZTA-CTR-008"],
  ["host user namespace", { usernsMode: "host" }, "ZTA-CTR-008"],
  [
    "docker.sock mounted",
    { mounts: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] },
    "ZTA-CTR-009",
  ],
  [
    "~/.ssh mounted",
    { volumes: [{ hostPath: "/home/dev/.ssh", containerPath: "/mnt", readOnly: true }] },
    "ZTA-CTR-010",
  ],
  ["runs as root", { user: "0:0" }, "ZTA-CTR-011"],
  ["literal secret in env", { env: ["OPENAI_API_KEY=sk-0123456789abcdefghijklmnop"] }, "ZTA-CTR-012"],
  ["no healthcheck", { healthcheck: undefined }, "ZTA-CTR-013"],
  ["restart forever", { restart: "always" }, "ZTA-CTR-014"],
  ["no log rotation", { logOpts: undefined }, "ZTA-CTR-015"],
];

function ids(stack: TerraformStack, scope?: Construct): string[] {
  return containerFindings(stack.toTerraform() as Record<string, unknown>, { scope }).map((f) => f.ruleId);
}

describe("containerFindings: the container rules through the engine", () => {
  test("the container rules are exactly the ZTA-CTR-* rules of the policy", () => {
    expect(CONTAINER_RULES.map((r) => r.meta.id)).toEqual(
      ALL_RULES.map((r) => r.meta.id).filter((id) => id.startsWith("ZTA-CTR-")),
    );
    expect(CONTAINER_RULES).toHaveLength(15);
  });

  test("a hardened service and a hardened job have no finding", () => {
    const stack = newStack();
    compliantContainer(stack, "service");
    compliantContainer(stack, "job", ATTACHED_JOB);
    expect(ids(stack, stack)).toEqual([]);
  });

  test.each(BROKEN)("%s is reported as its rule, and only that one", (_what, change, ruleId) => {
    const stack = newStack();
    compliantContainer(stack, "broken", change);
    expect(ids(stack, stack)).toEqual([ruleId]);
  });

  test("a suppression on the container or an ancestor hides that rule only, as in the aspect; without the construct tree nothing is hidden", () => {
    const stack = newStack();
    SecurityPolicy.suppress(compliantContainer(stack, "own", { user: "0:0" }), "ZTA-CTR-011", REASON);
    SecurityPolicy.suppress(compliantContainer(stack, "other-rule", { user: "0:0" }), "ZTA-CTR-005", REASON);
    const group = new Construct(stack, "group");
    SecurityPolicy.suppress(group, "ZTA-CTR-011", REASON);
    new Container(group, "inherited", {
      name: "inherited",
      image: PINNED,
      ...hardenedContainer({ memoryMb: 256, cpuShares: 512, user: "0", healthcheck: ["true"] }),
    });
    const json = stack.toTerraform() as Record<string, unknown>;
    expect(containerFindings(json, { scope: stack }).map((f) => `${f.ruleId} ${f.path}`)).toEqual([
      "ZTA-CTR-011 stack/other-rule",
    ]);
    expect(containerFindings(json).map((f) => `${f.ruleId} ${f.path}`)).toEqual([
      "ZTA-CTR-011 stack/own",
      "ZTA-CTR-011 stack/other-rule",
      "ZTA-CTR-011 stack/group/inherited",
    ]);
  });

  test("select limits the check to the chosen containers; other resource types and rules are not judged", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", { image: "nginx:latest" });
    compliantContainer(stack, "bad", { privileged: true });
    const json = stack.toTerraform() as Record<string, unknown>;
    expect(containerFindings(json, { select: (r) => r.path === "stack/ok" })).toEqual([]);
    expect(containerFindings(json, { select: (r) => r.path === "stack/bad" })).toEqual([
      expect.objectContaining({
        ruleId: "ZTA-CTR-002",
        path: "stack/bad",
        detail: "privileged = true",
        fix: expect.stringContaining("Remove `privileged`"),
      }),
    ]);
  });
});

describe("hardeningGaps (test/helpers.ts) asks the same rules", () => {
  test("a hardened container has no gap", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(hardeningGaps(synth(stack).resource.docker_container.ok)).toEqual([]);
  });

  test.each(BROKEN)("%s is a gap named by its rule", (_what, change, ruleId) => {
    const stack = newStack();
    compliantContainer(stack, "broken", change);
    const gaps = hardeningGaps(synth(stack).resource.docker_container.broken);
    expect(gaps).toEqual([expect.stringMatching(new RegExp(`^${ruleId} `))]);
  });

  test("honours the container's suppressions, and judges the object as given (an altered copy has none)", () => {
    const stack = newStack();
    SecurityPolicy.suppress(compliantContainer(stack, "root", { user: "0:0" }), "ZTA-CTR-011", REASON);
    const c = synth(stack).resource.docker_container.root;
    expect(hardeningGaps(c)).toEqual([]);
    c.read_only = false;
    expect(gapRuleIds(c)).toEqual(["ZTA-CTR-005"]);
    expect(gapRuleIds({ ...c })).toEqual(["ZTA-CTR-005", "ZTA-CTR-011"]);
  });
});
