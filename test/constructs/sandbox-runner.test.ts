import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Aspects, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { Construct } from "constructs";
import { SandboxRunner, SandboxRunnerProps, TOOL_RUN_RECORD_ROLE } from "../../constructs/sandbox-runner";
import { RECORD_JOB_SCRIPT } from "../../lib/audit-events";
import { ROLE_LABEL } from "../../lib/identities";
import { IMAGES } from "../../lib/images";
import { ConfigError } from "../../lib/errors";
import { synthOf } from "../helpers";
import { PolicyProfile } from "../../lib/policy/profiles";
import { SecurityPolicy } from "../../lib/policy/security-policy";

const IMAGE = "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f";
const BASE: SandboxRunnerProps = {
  image: IMAGE,
  command: ["python", "/workspace/run_tests.py"],
  workspace: { hostPath: "/srv/agent/repo" },
};

function newStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "stack");
  new DockerProvider(stack, "docker", {});
  return stack;
}

/** The synthesized docker_container of the runner. */
function containerOf(stack: TerraformStack): Record<string, any> {
  const json = JSON.parse(Testing.synth(stack));
  return Object.values(json.resource.docker_container)[0] as Record<string, any>;
}

function errorOf(props: Partial<SandboxRunnerProps>): ConfigError {
  try {
    synthOf(new SandboxRunner(newStack(), "agent", { ...BASE, ...props }));
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("SandboxRunner defaults", () => {
  test("no network, read-only rootfs and workspace, scratch tmpfs, caps dropped, non-root, limits, a one-shot job", () => {
    const stack = newStack();
    new SandboxRunner(stack, "agent", BASE);
    const c = containerOf(stack);
    expect(c).toMatchObject({
      network_mode: "none",
      ipc_mode: "private",
      read_only: true,
      capabilities: { drop: ["ALL"] },
      security_opts: ["no-new-privileges:true"],
      user: "61000:61000",
      memory: 1024,
      memory_swap: 1024,
      cpu_shares: 512,
      cpu_period: 100000,
      cpu_quota: 100000,
      // Owned by the sandbox user (HardenedJob): writable by it alone, not Docker's root-owned 1777 default.
      tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=256m,uid=61000,gid=61000,mode=0700" },
      mounts: [{ type: "bind", source: "/srv/agent/repo", target: "/workspace", read_only: true }],
      working_dir: "/workspace",
      attach: true,
      logs: true,
      must_run: false,
      restart: "no",
      log_driver: "json-file",
      command: ["python", "/workspace/run_tests.py"],
    });
    expect(c.ulimit).toEqual(
      expect.arrayContaining([
        { name: "nproc", soft: 256, hard: 256 },
        { name: "nofile", soft: 1024, hard: 1024 },
      ]),
    );
    expect(c.networks_advanced).toBeUndefined();
    expect(c.runtime).toBeUndefined();
    const json = JSON.parse(Testing.synth(stack));
    // The run's image, and the record job's (the catalog's nginx; see "tool.run records").
    expect(Object.values(json.resource.docker_image)).toEqual([
      expect.objectContaining({ name: IMAGE }),
      expect.objectContaining({ name: IMAGES.nginx.reference }),
    ]);
  });

  test("an egress network by name, a writable workspace, gVisor and a separate (rootless) Docker provider when asked", () => {
    const stack = newStack();
    const rootless = new DockerProvider(stack, "rootless", {
      alias: "rootless",
      host: "unix:///run/user/1000/docker.sock",
    });
    new SandboxRunner(stack, "agent", {
      ...BASE,
      workspace: { hostPath: "/srv/agent/repo", writable: true },
      egressNetwork: "agent-egress",
      runtime: "runsc",
      dockerProvider: rootless,
    });
    const json = JSON.parse(Testing.synth(stack));
    const c = Object.values(json.resource.docker_container)[0] as Record<string, any>;
    expect(c.network_mode).toBeUndefined();
    expect(c.networks_advanced).toEqual([{ name: "agent-egress" }]);
    expect(c.mounts[0].read_only).toBe(false);
    expect(c.runtime).toBe("runsc");
    expect(c.provider).toBe("docker.rootless");
    const image = Object.values(json.resource.docker_image)[0] as Record<string, any>;
    expect(image.provider).toBe("docker.rootless");
  });

  test("default Docker names come from the construct path, so two runners never collide", () => {
    const stack = newStack();
    const a = new SandboxRunner(stack, "agent", BASE);
    const b = new SandboxRunner(new Construct(stack, "team"), "Agent Two", BASE);
    expect(a.containerName).toBe("stack-agent");
    expect(b.containerName).toBe("stack-team-agent-two");
    const long = new SandboxRunner(stack, "x".repeat(80), BASE);
    expect(long.containerName).toHaveLength(63);
  });

  test("passes the production policy with zero findings", () => {
    const stack = newStack();
    new SandboxRunner(stack, "agent", BASE);
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    Aspects.of(stack).add(policy);
    Testing.synth(stack);
    expect(policy.results[0].findings).toEqual([]);
  });

  test("snapshot (safety net)", () => {
    const stack = newStack();
    new SandboxRunner(stack, "agent", BASE);
    expect(Testing.synth(stack)).toMatchSnapshot();
  });
});

describe("SandboxRunner tool.run records", () => {
  const record = (stack: TerraformStack) =>
    JSON.parse(Testing.synth(stack)).resource.docker_container.agent_record_container_B1A7F1EC as Record<string, any>;

  test("a hardened one-shot job prints the record from the finished run's exit_code and container_logs", () => {
    const stack = newStack();
    const agent = new SandboxRunner(stack, "agent", BASE);
    const r = record(stack);
    expect(agent.recordJob).toBeDefined();
    expect(r).toMatchObject({
      name: "stack-agent-record",
      network_mode: "none",
      read_only: true,
      attach: true,
      must_run: false,
      user: "101:101",
      capabilities: { drop: ["ALL"] },
    });
    expect(r.labels).toEqual(expect.arrayContaining([{ label: ROLE_LABEL, value: TOOL_RUN_RECORD_ROLE }]));
    expect(r.entrypoint).toEqual(["/bin/sh", "-c", RECORD_JOB_SCRIPT]);
    // One argument: Terraform's jsonencode of the record, referencing the run's computed attributes, so a
    // new run (unknown values at plan) replaces the record job and prints a new record.
    const run = "docker_container.agent_container_770BAE9C";
    expect(r.command).toHaveLength(1);
    expect(r.command[0]).toMatch(/^\$\{jsonencode\(\{/);
    expect(r.command[0]).toContain(`"exit_code" = ${run}.exit_code`);
    expect(r.command[0]).toContain(`"output_sha256" = sha256(${run}.container_logs)`);
    expect(r.command[0]).toContain(`"image" = "${IMAGE}"`);
    expect(r.command[0]).toContain(`"workspace" = "/srv/agent/repo"`);
    expect(r.command[0]).toContain(`"command" = ["python", "/workspace/run_tests.py"]`);
    // No dollar-brace in the script: Terraform would interpolate it.
    expect(RECORD_JOB_SCRIPT).not.toContain("${");
  });

  test("the record job passes the production policy too; recordRuns: false leaves it out; a non-boolean is refused", () => {
    const stack = newStack();
    new SandboxRunner(stack, "agent", BASE);
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    Aspects.of(stack).add(policy);
    const json = JSON.parse(Testing.synth(stack));
    expect(Object.keys(json.resource.docker_container)).toHaveLength(2);
    expect(policy.results[0].findings).toEqual([]);

    const without = newStack();
    const quiet = new SandboxRunner(without, "agent", { ...BASE, recordRuns: false });
    expect(quiet.recordJob).toBeUndefined();
    expect(Object.keys(JSON.parse(Testing.synth(without)).resource.docker_container)).toEqual([
      "agent_container_770BAE9C",
    ]);

    const e = errorOf({ recordRuns: "yes" as unknown as boolean });
    expect(e.message).toMatch(/recordRuns: received a string .*Use true or false/);
  });
});

describe("SandboxRunner refusals", () => {
  test("privileged, host PID, host IPC and the host network are refused", () => {
    expect(errorOf({ privileged: true }).problems[0].prop).toBe("privileged");
    expect(errorOf({ pidMode: "host" }).problems[0].prop).toBe("pidMode");
    expect(errorOf({ ipcMode: "host" }).problems[0].prop).toBe("ipcMode");
    expect(errorOf({ egressNetwork: "host" }).problems[0].prop).toBe("egressNetwork");
  });

  test.each([
    ["/var/run/docker.sock", /engine socket/],
    ["/run", /engine socket/],
    ["/", /engine socket|inside \//],
    ["/home/dev/.ssh", /\.ssh/],
    ["/root/.aws", /\.aws|\/root/],
    ["/home/dev/.config/gcloud", /gcloud/],
    ["/home/dev/.kube", /\.kube/],
    ["/etc", /\/etc/],
    ["/home/dev", /\/home/],
    ["~/project", /absolute/],
  ])("workspace %s is refused", (hostPath, why) => {
    const err = errorOf({ workspace: { hostPath } });
    expect(err.problems[0].prop).toBe("workspace.hostPath");
    expect(err.problems[0].fix).toMatch(why);
  });

  test("secret-looking env names and values are refused unless opted in by name with a reason", () => {
    for (const [name, value] of [
      ["GITHUB_TOKEN", "x"],
      ["OPENAI_API_KEY", "x"],
      ["AWS_ACCESS_KEY_ID", "x"],
      ["DB_SECRET", "x"],
      ["HARMLESS", "ghp_0123456789abcdefghijklmnopqrstuvwxyz01"],
    ]) {
      const err = errorOf({ env: [{ name, value }] });
      expect(err.problems[0].prop).toBe(`env.${name}`);
      expect(err.message).not.toContain("ghp_");
    }
    const short = errorOf({
      env: [{ name: "OPENAI_API_KEY", value: "x" }],
      allowedSecretEnv: [{ name: "OPENAI_API_KEY", reason: "needed" }],
    });
    expect(short.problems[0].prop).toBe("allowedSecretEnv.OPENAI_API_KEY.reason");
  });

  test("an opted-in secret is accepted; a literal one is recorded as a suppression in the policy report", () => {
    const stack = newStack();
    const key = new TerraformVariable(stack, "openai_key", { type: "string", sensitive: true });
    new SandboxRunner(stack, "ref", {
      ...BASE,
      env: [
        { name: "OPENAI_API_KEY", value: key.value },
        { name: "LOG_LEVEL", value: "debug" },
      ],
      allowedSecretEnv: [{ name: "OPENAI_API_KEY", reason: "the eval harness calls the hosted model under test" }],
    });
    new SandboxRunner(stack, "literal", {
      ...BASE,
      env: [{ name: "TEST_DB_PASSWORD", value: "throwaway-test-db" }],
      allowedSecretEnv: [{ name: "TEST_DB_PASSWORD", reason: "throwaway database inside the sandbox test fixture" }],
    });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    Aspects.of(stack).add(policy);
    Testing.synth(stack);
    expect(policy.results[0].findings).toEqual([
      expect.objectContaining({
        ruleId: "ZTA-CTR-012",
        path: "stack/literal/Default/container",
        suppression: expect.objectContaining({ reason: expect.stringContaining("throwaway database") }),
      }),
    ]);
  });

  test("unpinned image, root user, bad limits: every problem at once", () => {
    const err = errorOf({ image: "python:3.12-slim", user: "0:0", memoryMb: 0, cpuLimit: 0 });
    expect(err.problems.map((p) => p.prop).sort()).toEqual(["cpuLimit", "image", "memoryMb", "user"]);
  });

  test("an escape-hatch override that undoes the box fails synth validation", () => {
    const stack = newStack();
    const runner = new SandboxRunner(stack, "agent", BASE);
    runner.container.addOverride("privileged", true);
    runner.container.addOverride("network_mode", "host");
    expect(() => Testing.synth(stack, true)).toThrow(/privileged[\s\S]*network_mode = "host"/);
  });
});

describe("SandboxRunner re-checks its synthesized container with the policy's container rules", () => {
  /** The override that breaks one invariant, and the rule the refusal must name (overrides append to lists, so lists are removed). */
  const BROKEN: [string, [string, unknown][], string][] = [
    ["a port on every interface", [["ports", [{ internal: 8080, external: 8080 }]]], "ZTA-CTR-001"],
    ["privileged", [["privileged", true]], "ZTA-CTR-002"],
    ["a capability added", [["capabilities.add", ["SYS_ADMIN"]]], "ZTA-CTR-003"],
    ["capabilities no longer dropped", [["capabilities.drop", undefined]], "ZTA-CTR-003"],
    ["no-new-privileges removed", [["security_opts", undefined]], "ZTA-CTR-004"],
    ["a writable rootfs", [["read_only", false]], "ZTA-CTR-005"],
    [
      "no memory limit",
      [
        ["memory", undefined],
        ["memory_swap", undefined],
      ],
      "ZTA-CTR-006",
    ],
    ["swap allowed", [["memory_swap", -1]], "ZTA-CTR-006"],
    [
      "no CPU limit",
      [
        ["cpu_shares", undefined],
        ["cpu_quota", undefined],
        ["cpu_period", undefined],
      ],
      "ZTA-CTR-007",
    ],
    ["the host network", [["network_mode", "host"]], "ZTA-CTR-008"],
    ["host PID", [["pid_mode", "host"]], "ZTA-CTR-008"],
    ["host IPC", [["ipc_mode", "host"]], "ZTA-CTR-008"],
    ["the host user namespace", [["userns_mode", "host"]], "ZTA-CTR-008"],
    [
      "docker.sock mounted",
      [["mounts", [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }]]],
      "ZTA-CTR-009",
    ],
    [
      "~/.ssh mounted",
      [["mounts", [{ type: "bind", source: "/home/dev/.ssh", target: "/workspace", read_only: true }]]],
      "ZTA-CTR-010",
    ],
    ["root", [["user", "0:0"]], "ZTA-CTR-011"],
    [
      "a literal secret in env",
      [["env", ["HOME=/tmp", "OPENAI_API_KEY=sk-0123456789abcdefghijklmnop"]]],
      "ZTA-CTR-012",
    ],
    ["an unbounded restart", [["restart", "always"]], "ZTA-CTR-014"],
    ["no log rotation", [["log_opts", undefined]], "ZTA-CTR-015"],
  ];

  function synthWithOverrides(overrides: [string, unknown][], setup?: (runner: SandboxRunner) => void): void {
    const stack = newStack();
    const runner = new SandboxRunner(stack, "agent", BASE);
    for (const [path, value] of overrides) runner.container.addOverride(path, value);
    setup?.(runner);
    Testing.synth(stack, true);
  }

  test("the box as built passes every container rule (validations run)", () => {
    expect(() => synthWithOverrides([])).not.toThrow();
  });

  test.each(BROKEN)("%s is refused, naming the rule and its fix", (_what, overrides, ruleId) => {
    let message = "";
    try {
      synthWithOverrides(overrides);
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(
      new RegExp(`SandboxRunner "stack/agent": ${ruleId} [^\\n]*\\(an override\\?\\)\\. Fix: \\S`),
    );
    // Only the broken invariant is named.
    expect([...message.matchAll(/ZTA-[A-Z]+-\d{3}/g)].map((m) => m[0])).toEqual([ruleId]);
  });

  test("read_only turned into a Terraform expression is refused (the rule cannot judge it; the box must be provable)", () => {
    expect(() => synthWithOverrides([["read_only", "${var.ro}"]])).toThrow(/read_only is a Terraform expression/);
  });

  test("suppressions count as in the aspect: allowedSecretEnv's literal opt-in, or one the user adds with a reason", () => {
    const stack = newStack();
    new SandboxRunner(stack, "agent", {
      ...BASE,
      env: [{ name: "TEST_DB_PASSWORD", value: "throwaway-test-db" }],
      allowedSecretEnv: [{ name: "TEST_DB_PASSWORD", reason: "throwaway database inside the sandbox test fixture" }],
    });
    expect(() => Testing.synth(stack, true)).not.toThrow();
    expect(() =>
      synthWithOverrides([["user", "0:0"]], (runner) =>
        SecurityPolicy.suppress(runner, "ZTA-CTR-011", "the legacy test image needs uid 0; ticket SEC-42"),
      ),
    ).not.toThrow();
  });
});
