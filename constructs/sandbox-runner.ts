import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Fn, TerraformStack, Token } from "cdktf";
import { Construct } from "constructs";
import { RECORD_JOB_SCRIPT } from "../lib/audit-events";
import { Problems, addStackCheck, isUnresolved, whereIs } from "../lib/errors";
import { ServiceRole } from "../lib/identities";
import { IMAGES, checkImagePinned } from "../lib/images";
import {
  engineSocketIn,
  isRootUser,
  looksLikeSecretName,
  normalizeHostPath,
  secretValueKind,
  secretsInCommand,
  sensitiveHostPath,
} from "../lib/sensitive";
import { isExpression } from "../lib/policy/docker";
import { containerFindings } from "../lib/policy/hardened";
import { SecurityPolicy } from "../lib/policy/security-policy";
import {
  checkNoCredentialLiterals,
  checkRenamedProps,
  readBoolean,
  readList,
  readNumber,
  readObject,
  readString,
  readStrings,
} from "../lib/shape";
import { isDockerName, isPositiveInt } from "../lib/validate";
import { HardenedJob } from "./hardened-service";

/** The directory the agent works on, bind-mounted from the Docker host. */
export interface SandboxWorkspace {
  /** Absolute path on the Docker host, e.g. `/srv/agent/repo`. Credentials and system directories are refused. */
  readonly hostPath: string;
  /** Where it appears inside the sandbox. @default "/workspace" */
  readonly containerPath?: string;
  /** Let the sandbox write to it. @default false (mounted read-only) */
  readonly writable?: boolean;
}

/** One environment variable. */
export interface SandboxEnvVar {
  readonly name: string;
  /** A literal or a Terraform reference (e.g. a sensitive variable's value). */
  readonly value: string;
}

/** An explicit opt-in for one secret-looking environment variable. */
export interface SandboxSecretEnvOptIn {
  /** The variable's exact name, e.g. `OPENAI_API_KEY`. */
  readonly name: string;
  /** Why the sandboxed code needs it (at least 10 characters); recorded in the policy report. */
  readonly reason: string;
}

export interface SandboxRunnerProps {
  /**
   * The image, pinned by digest, e.g.
   * `python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f`.
   * There is no default: you choose what runs the agent's code.
   */
  readonly image: string;
  /** The command (exec form, never parsed by a shell), e.g. `["python", "/workspace/run_tests.py"]`. */
  readonly command: string[];
  /** @default no workspace */
  readonly workspace?: SandboxWorkspace;
  /** Docker name of the container. @default derived from the construct path (unique in the app), e.g. `stack-agent` */
  readonly name?: string;
  /**
   * Name of a Docker network with outbound access to attach to (e.g. a `docker_network`'s `name`).
   * `host` is refused.
   * @default none: `network_mode = "none"`, the sandbox has no network at all
   */
  readonly egressNetwork?: string;
  /** Environment variables. Secret-looking names or values are refused unless listed in `allowedSecretEnv`. @default none */
  readonly env?: SandboxEnvVar[];
  /** Secret-looking variables allowed on purpose, each with a reason. @default none */
  readonly allowedSecretEnv?: SandboxSecretEnvOptIn[];
  /**
   * Non-root `uid:gid` to run as. Pick ids no other workload on the host uses: the process limit
   * (`ulimit nproc`) counts every process of that uid on the host, not only this container's.
   * @default "61000:61000"
   */
  readonly user?: string;
  /** Memory limit in MB (no swap). @default 1024 */
  readonly memoryMb?: number;
  /** Hard CPU cap in CPUs (cpu_period + cpu_quota). @default 1 */
  readonly cpuLimit?: number;
  /** Relative CPU weight under contention. @default 512 */
  readonly cpuShares?: number;
  /** Size of the writable scratch tmpfs at /tmp (noexec, nosuid, nodev), MB. @default 256 */
  readonly scratchMb?: number;
  /** Process limit (`ulimit nproc`; the provider has no pids_limit). @default 256 */
  readonly maxProcesses?: number;
  /** Open file limit (`ulimit nofile`). @default 1024 */
  readonly maxOpenFiles?: number;
  /** OCI runtime, e.g. `runsc` (gVisor) for a kernel boundary between the agent and the host. @default the daemon's default (runc) */
  readonly runtime?: string;
  /** A separate Docker provider, e.g. one pointing at a rootless daemon. @default the stack's default docker provider */
  readonly dockerProvider?: DockerProvider;
  /** Accept an image that is not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** Refused when true; present so a setting ported from `docker run --privileged` gets a clear answer. @default false */
  readonly privileged?: boolean;
  /** Refused when "host" or "container:..."; present for the same reason. @default a private PID namespace */
  readonly pidMode?: string;
  /** Only "private" or "none" are accepted; "host" is refused. @default "private" */
  readonly ipcMode?: string;
  /**
   * Record each run as a `tool.run` audit event (docs/audit.md): a one-shot job prints one JSON line with
   * the image, command, workspace, exit code and the SHA-256 of the run's output, which an AuditLog in the
   * stack collects like every container's output. @default true
   */
  readonly recordRuns?: boolean;
}

/** The `zta.role` of the job that writes a run's `tool.run` record. */
export const TOOL_RUN_RECORD_ROLE = "tool-run-record";

const MIN_REASON = 10;

/** A Docker name from the construct path: readable, unique in the app, at most 63 characters. */
function defaultName(path: string, addr: string): string {
  const readable = path
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "");
  return readable.length <= 63 ? readable : `${readable.slice(0, 54)}-${addr.slice(0, 8)}`;
}

/**
 * Runs an agent's code (tests, generated scripts) once, in a locked box: no network unless an
 * egress network is named, read-only root filesystem and (by default) read-only workspace, a
 * small noexec scratch tmpfs, every capability dropped, no-new-privileges, a non-root uid, memory
 * and CPU limits, process and open-file ulimits, optionally gVisor and a rootless daemon.
 *
 * It is a one-shot job: Terraform creates and starts it, waits for it to exit (`attach`) and keeps
 * its output in `container_logs` (`logs`); `must_run = false` and `restart = "no"` keep a finished
 * run from being restarted or recreated while nothing changed. (Provider behaviour read in
 * kreuzwerker/docker's resource_docker_container_funcs.go, not run here: no Docker engine.)
 * Limits of attaching, as ModelFetch's note records: the run must end within the provider's
 * create timeout (20 minutes), and a non-zero exit does not fail the apply — read `exitCode`.
 */
export class SandboxRunner extends Construct {
  public readonly job: HardenedJob;
  public readonly container: Container;
  /** The job that prints each run's `tool.run` audit record (none with `recordRuns: false`). */
  public readonly recordJob?: HardenedJob;
  /** The container's Docker name. */
  public readonly containerName: string;

  constructor(scope: Construct, id: string, rawProps: SandboxRunnerProps) {
    super(scope, id);
    const problems = new Problems(whereIs("SandboxRunner", this.node.path), this);
    checkRenamedProps(problems, rawProps, { allowUnpinnedImage: "allowUnpinnedImages" });
    // Shapes first (stacks may be plain JavaScript); what follows builds from safe values.
    const envExample = '[{ name: "LOG_LEVEL", value: "debug" }]';
    const rawEnv = readList<SandboxEnvVar>(problems, "env", rawProps.env, false, envExample);
    const envEntries: SandboxEnvVar[] = [];
    rawEnv.forEach((e, i) => {
      const entry = readObject<SandboxEnvVar>(
        problems,
        `env[${i}]`,
        e,
        true,
        '{ name: "LOG_LEVEL", value: "debug" }',
      ) as SandboxEnvVar;
      const n = readString(problems, `env[${i}].name`, entry.name, true, '"LOG_LEVEL"');
      const v = readString(problems, `env[${i}].value`, entry.value, false, '"debug"') ?? "";
      if (n) envEntries.push({ name: n, value: v });
    });
    const rawWorkspace = readObject<SandboxWorkspace>(
      problems,
      "workspace",
      rawProps.workspace,
      false,
      '{ hostPath: "/srv/agent/repo" }',
    );
    const props: SandboxRunnerProps = {
      ...rawProps,
      image: readString(problems, "image", rawProps.image, true, "a digest-pinned reference") as string,
      command: readStrings(problems, "command", rawProps.command, true, '["python", "/workspace/run_tests.py"]'),
      name: readString(problems, "name", rawProps.name, false, '"agent-tests"'),
      env: envEntries,
      allowedSecretEnv: readList<unknown>(
        problems,
        "allowedSecretEnv",
        rawProps.allowedSecretEnv,
        false,
        '[{ name: "OPENAI_API_KEY", reason: "..." }]',
      ).flatMap((raw, i) => {
        const o = readObject<SandboxSecretEnvOptIn>(
          problems,
          `allowedSecretEnv[${i}]`,
          raw,
          true,
          '{ name: "OPENAI_API_KEY", reason: "..." }',
        );
        const n = o && readString(problems, `allowedSecretEnv[${i}].name`, o.name, true, '"OPENAI_API_KEY"');
        // The reason's length is checked below, with its own fix.
        return o && n
          ? [{ name: n, reason: typeof o.reason === "string" ? o.reason : (undefined as unknown as string) }]
          : [];
      }),
      workspace: rawWorkspace && {
        ...rawWorkspace,
        hostPath: readString(
          problems,
          "workspace.hostPath",
          rawWorkspace.hostPath,
          true,
          '"/srv/agent/repo"',
        ) as string,
        containerPath: readString(
          problems,
          "workspace.containerPath",
          rawWorkspace.containerPath,
          false,
          '"/workspace"',
        ),
        writable: readBoolean(problems, "workspace.writable", rawWorkspace.writable, false),
      },
      egressNetwork: readString(problems, "egressNetwork", rawProps.egressNetwork, false, "a docker_network's name"),
      user: readString(problems, "user", rawProps.user, false, '"61000:61000"'),
      runtime: readString(problems, "runtime", rawProps.runtime, false, '"runsc"'),
      allowUnpinnedImages: readBoolean(problems, "allowUnpinnedImages", rawProps.allowUnpinnedImages, false),
      privileged: readBoolean(problems, "privileged", rawProps.privileged, false),
      pidMode: readString(problems, "pidMode", rawProps.pidMode, false, '"private"'),
      ipcMode: readString(problems, "ipcMode", rawProps.ipcMode, false, '"private"'),
      recordRuns: readBoolean(problems, "recordRuns", rawProps.recordRuns, true),
    };
    const recordRuns = props.recordRuns ?? true;
    const name = props.name ?? defaultName(this.node.path, this.node.addr);
    this.containerName = name;
    const user = props.user ?? "61000:61000";
    const memoryMb = readNumber(problems, "memoryMb", props.memoryMb, 1024, { min: 6, max: 4194304, unit: "MB" });
    const cpuLimit = readNumber(problems, "cpuLimit", props.cpuLimit, 1, {
      min: 0.01,
      max: 256,
      integer: false,
      unit: "CPUs",
    });
    const cpuShares = readNumber(problems, "cpuShares", props.cpuShares, 512, { min: 2, max: 262144 });
    const scratchMb = readNumber(problems, "scratchMb", props.scratchMb, 256, { min: 1, max: 65536, unit: "MB" });
    const maxProcesses = readNumber(problems, "maxProcesses", props.maxProcesses, 256, { min: 1, max: 1048576 });
    const maxOpenFiles = readNumber(problems, "maxOpenFiles", props.maxOpenFiles, 1024, { min: 1, max: 1048576 });
    const env = props.env ?? [];
    const optIns = props.allowedSecretEnv ?? [];
    const workspacePath = props.workspace?.containerPath ?? "/workspace";

    if (!props.dockerProvider) {
      addStackCheck(this, "sandbox-docker-provider", (stack) =>
        stack.node.findAll().some((c) => c instanceof DockerProvider)
          ? []
          : [
              {
                prop: "dockerProvider",
                received: "no DockerProvider in the stack",
                fix: 'SandboxRunner needs one: add new DockerProvider(stack, "docker", {}) (import from "@cdktf/provider-docker/lib/provider"), or pass dockerProvider.',
                where: whereIs("SandboxRunner", this.node.path),
              },
            ],
      );
    }
    checkImagePinned(problems, "image", props.image, props.allowUnpinnedImages ?? false);
    if (Array.isArray(rawProps.command)) {
      problems.check(
        props.command.length > 0,
        "command",
        props.command,
        'Give the command in exec form, e.g. ["python", "/workspace/run_tests.py"].',
      );
    }
    for (const finding of secretsInCommand(props.command)) {
      problems.addDescribed(
        "command",
        finding,
        "Agent code can read its own command line, and the literal lands in the synthesized JSON and the state. " +
          "Pass the credential as an env entry from a sensitive variable, allowed with allowedSecretEnv, or leave it out.",
      );
    }
    problems.check(
      isDockerName(name),
      "name",
      name,
      "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
    );
    problems.check(
      props.privileged !== true,
      "privileged",
      props.privileged,
      "A privileged container is root on the host. Remove it; add a single capability or device only if the workload really needs it.",
    );
    if (props.pidMode !== undefined) {
      problems.add(
        "pidMode",
        props.pidMode,
        "Sharing the host's (or another container's) PID namespace lets the sandbox see and signal those processes. Remove pidMode.",
      );
    }
    if (props.ipcMode !== undefined) {
      problems.check(
        ["private", "none"].includes(props.ipcMode),
        "ipcMode",
        props.ipcMode,
        'Use "private" (the default) or "none"; sharing host IPC exposes host shared memory.',
      );
    }
    if (props.egressNetwork !== undefined && !isUnresolved(props.egressNetwork)) {
      problems.check(
        props.egressNetwork !== "host" && !props.egressNetwork.startsWith("container:"),
        "egressNetwork",
        props.egressNetwork,
        "The host's network (or another container's) gives the sandbox every loopback service of the host. Name a docker_network created for the sandbox's egress.",
      );
      problems.check(
        isDockerName(props.egressNetwork),
        "egressNetwork",
        props.egressNetwork,
        "Use the name of a Docker network.",
      );
    }
    if (!isUnresolved(user)) {
      problems.check(
        /^\d+:\d+$/.test(user) && !isRootUser(user),
        "user",
        user,
        'Use a numeric non-root "uid:gid", e.g. "61000:61000".',
      );
    }
    for (const [prop, value] of [
      ["memoryMb", memoryMb],
      ["cpuShares", cpuShares],
      ["scratchMb", scratchMb],
      ["maxProcesses", maxProcesses],
      ["maxOpenFiles", maxOpenFiles],
    ] as const) {
      problems.check(isPositiveInt(value), prop, value, "Use a whole number above 0.");
    }
    problems.check(
      cpuLimit > 0 && cpuLimit <= 256,
      "cpuLimit",
      cpuLimit,
      "Use a number of CPUs above 0, e.g. 1 or 0.5.",
    );

    const mounts: { hostPath: string; containerPath: string; writable: boolean; prop: string }[] = [];
    if (props.workspace) {
      mounts.push({
        hostPath: props.workspace.hostPath,
        containerPath: workspacePath,
        writable: props.workspace.writable ?? false,
        prop: "workspace.hostPath",
      });
      problems.check(
        normalizeHostPath(workspacePath) !== undefined && normalizeHostPath(workspacePath) !== "/",
        "workspace.containerPath",
        workspacePath,
        'Use an absolute directory other than "/", e.g. "/workspace".',
      );
    }
    for (const m of mounts) {
      if (isUnresolved(m.hostPath)) continue;
      const socket = engineSocketIn(m.hostPath);
      const why = sensitiveHostPath(m.hostPath);
      if (socket !== undefined) {
        problems.add(
          m.prop,
          m.hostPath,
          `It is or contains the container engine socket (${socket}): whoever holds it is root on the host. Mount a project directory instead.`,
        );
      } else if (why !== undefined) {
        problems.add(
          m.prop,
          m.hostPath,
          `Refused because ${why}. Mount a dedicated project directory such as /srv/agent/repo; pass credentials as files, never by mounting them.`,
        );
      }
    }

    for (const e of env) {
      const literal = !isUnresolved(e.value);
      const kind = literal ? secretValueKind(e.value) : undefined;
      const secretName = looksLikeSecretName(e.name);
      if (!kind && !secretName) continue;
      const optIn = optIns.find((o) => o.name === e.name);
      if (!optIn) {
        problems.add(
          `env.${e.name}`,
          kind ? `a value that looks like ${kind}` : "a secret-looking name",
          "Agent code can read and exfiltrate every variable it is given. Leave it out, or allow it by name with a reason: " +
            `allowedSecretEnv: [{ name: "${e.name}", reason: "..." }].`,
        );
      }
    }
    for (const o of optIns) {
      problems.check(
        typeof o.reason === "string" && o.reason.trim().length >= MIN_REASON,
        `allowedSecretEnv.${o.name}.reason`,
        o.reason,
        `Say why the sandboxed code needs this secret (at least ${MIN_REASON} characters); it goes into the policy report.`,
      );
      problems.check(
        env.some((e) => e.name === o.name),
        "allowedSecretEnv",
        o.name,
        "Remove the opt-in: no env entry has this name.",
      );
    }
    checkNoCredentialLiterals(problems, rawProps, ["env[].value", "command", "allowedSecretEnv"]);
    problems.report();

    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    this.job = new HardenedJob(this, "Default", {
      name,
      role: ServiceRole.SANDBOX,
      // The user's image, pin-checked above (allowUnpinnedImages is the sandbox's own opt-out).
      catalogImage: { reference: props.image, user },
      allowUnpinnedImages: true,
      dockerProvider: props.dockerProvider,
      hardening: { memoryMb, cpuShares, cpuLimit, tmpfsMb: { "/tmp": scratchMb } },
      awaitExit: true,
      command: props.command,
      // No pids_limit exists in the provider (any release): nproc and nofile ulimits are what it offers.
      ulimits: [
        { name: "nproc", soft: maxProcesses, hard: maxProcesses },
        { name: "nofile", soft: maxOpenFiles, hard: maxOpenFiles },
      ],
      ...(props.egressNetwork === undefined ? { networkMode: "none" } : { networks: [{ name: props.egressNetwork }] }),
      ipcMode: props.ipcMode ?? "private",
      runtime: props.runtime,
      mounts: mounts.map((m) => ({ type: "bind", source: m.hostPath, target: m.containerPath, readOnly: !m.writable })),
      env: ["HOME=/tmp", ...env.map((e) => `${e.name}=${e.value}`)],
      workingDir: props.workspace ? workspacePath : undefined,
    });
    this.container = this.job.container;

    // The run's audit record, written from Terraform's view of the finished run (its exit_code and
    // container_logs attributes), not by the sandboxed code, which can only shape the output being hashed.
    // The values are unknown until the run is applied, so every new run replaces the record job: one
    // record per run. Its image is the sidecars' nginx (Alpine: sh, date, cut), already on the host.
    if (recordRuns) {
      const record = {
        event: "tool.run",
        run: name,
        image: props.image,
        command: props.command,
        workspace: props.workspace?.hostPath ?? "",
        exit_code: this.container.exitCode,
        output_sha256: Fn.sha256(this.container.containerLogs),
      };
      this.recordJob = new HardenedJob(this, "record", {
        name: `${name}-record`,
        role: TOOL_RUN_RECORD_ROLE,
        catalogImage: IMAGES.nginx,
        dockerProvider: props.dockerProvider,
        hardening: { memoryMb: 32, cpuShares: 64, tmpfsMb: { "/tmp": 1 } },
        awaitExit: true,
        networkMode: "none",
        entrypoint: ["/bin/sh", "-c", RECORD_JOB_SCRIPT],
        command: [Token.asString(Fn.jsonencode(record))],
      });
    }

    const literalOptIns = optIns.filter((o) => env.some((e) => e.name === o.name && !isUnresolved(e.value)));
    if (literalOptIns.length > 0) {
      SecurityPolicy.suppress(
        this.container,
        "ZTA-CTR-012",
        `allowed by SandboxRunner.allowedSecretEnv: ${literalOptIns.map((o) => `${o.name} (${o.reason.trim()})`).join("; ")}`,
      );
    }
    // Escape hatches (addOverride) can undo any of the above; re-check what will be synthesized.
    this.node.addValidation({ validate: () => this.validateSynthesized() });
  }

  /** Output of the run (stdout and stderr), once Terraform has applied it. */
  public get logs(): string {
    return this.container.containerLogs;
  }

  /** Exit code of the run, once Terraform has applied it. */
  public get exitCode(): number {
    return this.container.exitCode;
  }

  /**
   * The container rules (ZTA-CTR-*) on what will be synthesized, through the policy engine: the
   * same definition of hardened as SecurityPolicy, with the same suppressions (allowedSecretEnv's
   * ZTA-CTR-012 one, or one the user adds with a reason). Every rule counts, whatever the profile:
   * the box is meant to pass them all.
   */
  private validateSynthesized(): string[] {
    const stack = TerraformStack.of(this);
    const json = stack.toTerraform() as { resource: { docker_container: Record<string, Record<string, unknown>> } };
    const where = `SandboxRunner "${this.node.path}"`;
    const path = this.container.node.path;
    const errors = containerFindings(json, { scope: stack, select: (r) => r.path === path }).map(
      (f) => `${where}: ${f.ruleId} ${f.title}: ${f.detail} (an override?). Fix: ${f.fix}`,
    );
    // Sandbox-specific: ZTA-CTR-005 cannot judge an expression (not applicable), but the box sets a
    // literal true, so an expression there can only be an override that makes it unprovable.
    if (isExpression(json.resource.docker_container[this.container.friendlyUniqueId].read_only)) {
      errors.push(`${where}: read_only is a Terraform expression (an override?). Keep read_only = true.`);
    }
    return errors;
  }
}
