import { ROLE_LABEL, ServiceRole } from "../identities";
import { ResourceView, StackView } from "./types";

/**
 * Readers over a synthesized `docker_container` (kreuzwerker/docker 3.6.2 attribute names, read
 * from the provider schema the cdktf bindings were generated from). Values may be Terraform
 * references (`${docker_network.x.name}`) or expressions; readers never throw on them.
 */

const REFERENCE = /^\$\{([a-zA-Z0-9_]+)\.([^.}\s]+)\.([a-zA-Z0-9_]+)\}$/;

/** `{ type, logicalId, attribute }` of a plain `${type.id.attr}` reference, else undefined. */
export function parseReference(value: unknown): { type: string; logicalId: string; attribute: string } | undefined {
  if (typeof value !== "string") return undefined;
  const m = REFERENCE.exec(value);
  return m ? { type: m[1], logicalId: m[2], attribute: m[3] } : undefined;
}

/** True for any value Terraform computes (a reference or an expression): rules cannot judge it. */
export function isExpression(value: unknown): boolean {
  return typeof value === "string" && value.includes("${");
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function list(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

export function record(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) return record(value[0]);
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

export function strings(value: unknown): string[] {
  return list(value).filter((v): v is string => typeof v === "string");
}

/**
 * The container's published ports: the `ports` blocks, and the content of a `dynamic "ports"` block
 * (Lockdown's: published unless `-var lockdown=true`), so rules and the diagram judge the port it may publish.
 */
export function publishedPorts(config: Record<string, unknown>): unknown[] {
  const dynamic = record(record(config.dynamic).ports);
  return [...list(config.ports), ...(dynamic.content !== undefined ? list(dynamic.content) : [])];
}

/** Labels as a map (the provider models them as a set of `{label, value}` blocks). */
export function labels(c: ResourceView): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list(c.config.labels)) {
    const r = record(l);
    if (typeof r.label === "string") out[r.label] = String(r.value ?? "");
  }
  return out;
}

/** The library's role label (ROLE_LABEL, a ServiceRole), if any. */
export function roleOf(c: ResourceView): string | undefined {
  return labels(c)[ROLE_LABEL];
}

/**
 * Created but never started (`start = false`): the library's config loaders. Runtime rules
 * (limits, healthcheck, restart, read-only, user, logs) have nothing to act on.
 */
export function isNeverStarted(c: ResourceView): boolean {
  return c.config.start === false;
}

/**
 * A one-shot job: started, but Terraform does not insist it keeps running (`must_run = false`;
 * the provider's default is true, and every long-running service of the library sets it). The
 * library's model fetch (retried on failure, not attached) and SandboxRunner (attached) are jobs.
 * The service-only rule (healthcheck) does not apply to them.
 */
export function isJob(c: ResourceView): boolean {
  return c.config.must_run === false && c.config.start !== false;
}

/** The image reference a container runs: the `docker_image`'s name when it is referenced. */
export function imageNameOf(c: ResourceView, stack: StackView): string | undefined {
  const image = c.config.image;
  const target = stack.referenced(image);
  if (target && target.type === "docker_image") return str(target.config.name);
  return str(image);
}

/** vLLM by label, or (for containers users declared themselves) by image name. */
export function isInferenceContainer(c: ResourceView, stack: StackView): boolean {
  const role = roleOf(c);
  if (role !== undefined) return role === ServiceRole.INFERENCE;
  const image = imageNameOf(c, stack) ?? "";
  return /vllm/i.test(image);
}

/** Host paths bind-mounted into the container, from `volumes` and `mounts` (type bind). */
export function hostPathsOf(c: ResourceView): string[] {
  const out: string[] = [];
  for (const v of list(c.config.volumes)) {
    const hostPath = str(record(v).host_path);
    if (hostPath) out.push(hostPath);
  }
  for (const m of list(c.config.mounts)) {
    const r = record(m);
    if (r.type === "bind" && typeof r.source === "string") out.push(r.source);
  }
  return out;
}

/** `NAME=value` environment entries split at the first `=`. */
export function envOf(c: ResourceView): { name: string; value: string }[] {
  return strings(c.config.env).map((e) => {
    const i = e.indexOf("=");
    return i < 0 ? { name: e, value: "" } : { name: e.slice(0, i), value: e.slice(i + 1) };
  });
}

/** Names of volumes (resolved to the volume resource when referenced) the container mounts. */
function volumeKeys(c: ResourceView, stack: StackView): { key: string; containerPath: string }[] {
  return list(c.config.volumes)
    .map((v) => record(v))
    .filter((v) => typeof v.volume_name === "string")
    .map((v) => {
      const target = stack.referenced(v.volume_name);
      return {
        key: target ? `${target.type}.${target.logicalId}` : String(v.volume_name),
        containerPath: String(v.container_path ?? ""),
      };
    });
}

/**
 * Files another container uploaded into a volume this container mounts (the library's
 * ConfigVolume pattern): file name relative to the mount, and content.
 */
export function filesInMountedVolumes(c: ResourceView, stack: StackView): { name: string; content: string }[] {
  const mine = new Set(volumeKeys(c, stack).map((v) => v.key));
  const out: { name: string; content: string }[] = [];
  for (const other of stack.ofType("docker_container")) {
    if (other === c) continue;
    for (const mount of volumeKeys(other, stack)) {
      if (!mine.has(mount.key)) continue;
      for (const u of list(other.config.upload)) {
        const r = record(u);
        const file = str(r.file);
        if (!file || !file.startsWith(`${mount.containerPath}/`)) continue;
        out.push({ name: file.slice(mount.containerPath.length + 1), content: String(r.content ?? "") });
      }
    }
  }
  return out;
}

/** Networks a container is attached to: the `docker_network` resource, or the literal name. */
export function networksOf(c: ResourceView, stack: StackView): { name: string; resource?: ResourceView }[] {
  return list(c.config.networks_advanced).map((n) => {
    const name = record(n).name;
    const target = stack.referenced(name);
    if (target && target.type === "docker_network")
      return { name: String(target.config.name ?? name), resource: target };
    const byName = stack.ofType("docker_network").find((net) => net.config.name === name);
    return { name: String(name), resource: byName };
  });
}

/** DNS names other containers can use for this one: its name and its network aliases. */
export function hostnamesOf(c: ResourceView): string[] {
  const names = [str(c.config.name), str(c.config.hostname)].filter((n): n is string => n !== undefined);
  for (const n of list(c.config.networks_advanced)) names.push(...strings(record(n).aliases));
  return names;
}
