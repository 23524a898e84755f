import { Aspects, App, TerraformStack, Testing } from "cdktf";
import { FindingLevel, PolicyProfile, SecurityPolicy } from "../../index";
import { HomelabStack } from "../../examples/homelab";
import { TeamStack } from "../../examples/team";
import { StackJson, containerNamed, runningContainers } from "../helpers";

/** The README's two stacks, exactly as users write them, synthesize with every construct validation run. */
function synthExample(make: (app: App) => TerraformStack): StackJson {
  const stack = make(Testing.app());
  return JSON.parse(Testing.synth(stack, true)) as StackJson;
}

describe("examples", () => {
  test("homelab: two tailnet names, no host port anywhere, chat through the edge", () => {
    const json = synthExample((app) => new HomelabStack(app, "homelab"));
    for (const c of runningContainers(json)) expect(c.ports ?? []).toEqual([]);
    expect(containerNamed(json, "inference-edge-ts-ai").env).toContain("TS_HOSTNAME=ai");
    expect(containerNamed(json, "inference-edge-ts-chat").env).toContain("TS_HOSTNAME=chat");
    expect(containerNamed(json, "inference-chat").read_only).toBe(true);
    expect(json.resource.tailscale_tailnet_key).toBeDefined();
  });

  test("team: API on the tailnet, chat UI behind Cloudflare Access", () => {
    const json = synthExample((app) => new TeamStack(app, "team"));
    for (const c of runningContainers(json)) expect(c.ports ?? []).toEqual([]);
    expect(Object.keys(json.resource.cloudflare_zero_trust_access_policy)).toHaveLength(1);
    expect(containerNamed(json, "inference-chat-cloudflared").entrypoint).toContain("--token-file");
    expect(json.resource.tailscale_tailnet_key).toBeUndefined();
  });

  test.each([
    ["homelab", (app: App) => new HomelabStack(app, "homelab"), ["chat/webui/Default", "tailnet-api/Default/container", "tailnet-chat/Default/container"]],
    ["team", (app: App) => new TeamStack(app, "team"), ["chat/webui/Default", "tailnet/Default/container"]],
  ])("%s passes the production policy; its own exceptions are exactly the documented root-run ones", (_name, make, expected) => {
    const stack = make(Testing.app());
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
    Aspects.of(stack).add(policy);
    expect(() => Testing.synth(stack, true)).not.toThrow();
    const findings = policy.results.flatMap((r) => r.findings);
    expect(findings.filter((f) => !f.suppression && f.level === FindingLevel.ERROR)).toEqual([]);
    const ours = findings
      .filter((f) => f.suppression && !f.path.split("/")[1].startsWith("inference"))
      .map((f) => `${f.ruleId} ${f.path.split("/").slice(1).join("/")}`);
    expect(ours.sort()).toEqual(expected.map((p) => `ZTA-CTR-011 ${p}`).sort());
  });
});

describe("examples keep state out of the tree and synthesize portably", () => {
  test.each([
    ["homelab", (app: App) => new HomelabStack(app, "homelab")],
    ["team", (app: App) => new TeamStack(app, "team")],
  ])("%s: relative state path under the ignored .terraform-state/, no absolute path of this machine", (_name, make) => {
    const json = synthExample(make) as unknown as { terraform: { backend: { local: { path: string } } } };
    expect(json.terraform.backend.local.path).toMatch(/^\.\.\/\.\.\/\.\.\/\.terraform-state\/[\w-]+\.tfstate$/);
    expect(JSON.stringify(json)).not.toContain(process.cwd());
  });
});
