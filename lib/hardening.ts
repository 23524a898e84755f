import type { ContainerConfig } from "@cdktf/provider-docker/lib/container";

/**
 * The hardening every long-running container of the library gets. One place, so the
 * constructs cannot drift apart and the policy rules can point here as the fix.
 *
 * Provider facts (kreuzwerker/docker 3.6.2) that shaped it:
 * - there is no `pids_limit` attribute in any release, so process limits use `ulimit nproc`;
 * - `cpus` panics in 3.6.2, so CPU is limited with `cpu_shares` (relative weight) and,
 *   when a hard cap is asked for, `cpu_period` + `cpu_quota`;
 * - `memory` is in MB; setting `memory_swap` to the same value forbids swap.
 */

export interface HardeningOptions {
  /** Memory limit in MB (also the memory+swap limit: no swap). */
  readonly memoryMb: number;
  /** Relative CPU weight (Docker's default is 1024). */
  readonly cpuShares: number;
  /** Hard CPU cap in whole or fractional CPUs, via cpu_period/cpu_quota. @default no hard cap */
  readonly cpuLimit?: number;
  /** `uid:gid` to run as. @default the image's own user */
  readonly user?: string;
  /** Writable paths as tmpfs mounts: path -> size in MB. @default { "/tmp": 64 } */
  readonly tmpfsMb?: Record<string, number>;
  /** The healthcheck command (exec form, without the leading "CMD"). */
  readonly healthcheck: string[];
  /** Grace period before failed healthchecks count, e.g. "30s". @default "20s" */
  readonly healthStartPeriod?: string;
  /** Seconds between SIGTERM and SIGKILL when the container is replaced or destroyed. @default 10 */
  readonly stopGraceSeconds?: number;
}

/** Restart on failure, a bounded number of times: a crash loop stops instead of spinning forever. */
export const RESTART_POLICY = "on-failure";
export const RESTART_MAX_RETRIES = 5;

/** json-file with rotation: the default driver keeps logs forever. */
export const LOG_OPTIONS: Record<string, string> = { "max-size": "10m", "max-file": "5" };

export const CPU_PERIOD_US = 100000;

/**
 * Bridge driver options for every `internal = true` network. Docker (20.10 at least) still gives an
 * internal network a gateway address on the host's side of its bridge: forwarding off the network is
 * dropped, but the host itself answers there, so any host service bound to all interfaces is reachable
 * from inside. `inhibit_ipv4` makes libnetwork's bridge driver assign no IPv4 address to the bridge, so
 * nothing on the host holds that address (proved on the engine: test/engine/internal-gateway.engine.test.ts).
 */
export const INTERNAL_NETWORK_OPTIONS: Record<string, string> = { "com.docker.network.bridge.inhibit_ipv4": "true" };

/**
 * Options for a tmpfs mount: writable, but nothing on it may be executed or be setuid.
 * tmpfs mounts are root-owned: for a non-root `owner` ("uid:gid") the mount belongs to that user,
 * or the service cannot write it (Caddy's /config and /data autosave, measured on the engine).
 */
export function tmpfsOptions(sizeMb: number, owner?: string): string {
  const base = `rw,noexec,nosuid,nodev,size=${sizeMb}m`;
  const ids = owner === undefined ? undefined : /^(\d+):(\d+)$/.exec(owner);
  // An explicit "0:0" (a root job) still gets a private mount: mode 0700 instead of Docker's 1777.
  if (!ids) return base;
  return `${base},uid=${ids[1]},gid=${ids[2]},mode=0700`;
}

/** The hardened part of a container's config; callers add image, name, networks, mounts. */
export function hardenedContainer(options: HardeningOptions): Partial<ContainerConfig> {
  const tmpfs: Record<string, string> = {};
  for (const [path, size] of Object.entries(options.tmpfsMb ?? { "/tmp": 64 })) {
    tmpfs[path] = tmpfsOptions(size, options.user);
  }
  const cpuCap =
    options.cpuLimit === undefined
      ? {}
      : { cpuPeriod: CPU_PERIOD_US, cpuQuota: Math.round(options.cpuLimit * CPU_PERIOD_US) };
  return {
    readOnly: true,
    // Every capability dropped; a construct that needs one adds it at the line that needs it.
    capabilities: { drop: ["ALL"] },
    securityOpts: ["no-new-privileges:true"],
    memory: options.memoryMb,
    memorySwap: options.memoryMb,
    cpuShares: options.cpuShares,
    ...cpuCap,
    ...(options.user === undefined ? {} : { user: options.user }),
    restart: RESTART_POLICY,
    maxRetryCount: RESTART_MAX_RETRIES,
    logDriver: "json-file",
    logOpts: { ...LOG_OPTIONS },
    tmpfs,
    healthcheck: {
      test: ["CMD", ...options.healthcheck],
      // Docker 20.10 runs the first check one interval after start (no start_interval before API 1.44):
      // 5 s lets `wait = true` and depends-on-healthy proceed soon after a service is ready.
      interval: "5s",
      timeout: "5s",
      retries: 3,
      startPeriod: options.healthStartPeriod ?? "20s",
    },
    // Never detach from a container that failed to start; Terraform reports it.
    mustRun: true,
    // Without it the provider kills the container at once on destroy or replace.
    destroyGraceSeconds: options.stopGraceSeconds ?? 10,
  };
}
