/**
 * A test-only applier: takes a synthesized cdk.tf.json and creates its docker_network, docker_volume,
 * docker_image and docker_container resources on the suite's engine, in dependency order, the way the
 * kreuzwerker/docker provider 3.6.2 does. It is not Terraform: no plan, no state file, no diff. It is
 * what a first `terraform apply` asks of the engine, so the containers the library describes really run.
 *
 * The container steps follow internal/provider/resource_docker_container_funcs.go at tag v3.6.2:
 * - L49-L420 resourceDockerContainerCreate builds container.Config + HostConfig from the attributes
 *   (env L74, command L78, entrypoint L87, user L91, ports L98 via portSetToDockerPorts, ulimit L112,
 *   volumes L116 via volumeSetToDockerVolumes: `volume_name:container_path:ro|rw` binds, labels L130,
 *   healthcheck L134, mounts L163-L239, restart/max_retry_count L247, read_only L254, log_driver L256,
 *   tmpfs L261, capabilities L281, security_opts L306, memory (MB) L310, memory_swap L314, shm_size L322,
 *   cpu_period/cpu_quota L338-L344, cpu_shares L347, log_opts L355, network_mode L360, gpus L380, init L410-L411);
 * - L420 ContainerCreate, then with networks_advanced (L427): L428 NetworkDisconnect("bridge"), L431-L453
 *   NetworkConnect for each with its aliases;
 * - L456-L533 every upload as its own tar (one file, header Name = file, Mode = permissions) copied
 *   to "/" with CopyToContainer;
 * - L535 ContainerStart unless start = false; L542 wait polls health until healthy (wait_timeout);
 * - L634-L690 the Read after create: a container that is not running although must_run = true is
 *   deleted and the apply fails ("failed to be in running state").
 * - L929-L976 delete: ContainerStop with destroy_grace_seconds, then ContainerRemove(force).
 * Networks follow resource_docker_network_funcs.go L24-L78 (driver, options, internal, attachable,
 * ipv6, ipam_config). `gpus` is skipped (no GPU here) and reported in `notes`.
 *
 * `${...}` references are resolved from the values of the other resources (terraform-values.ts for
 * tls_*, random_password, variables and placeholder provider resources). Bool variables (Lockdown's
 * `lockdown`) are evaluated, with `cond ? a : b`, list/object literals, concat and toset; `count` 0 or 1
 * and `dynamic` blocks with literal content are expanded the way Terraform plans them. Everything it creates carries
 * the label zta.engine-test=<run>; `destroy` removes it, `removeLeftovers` removes a crashed run's.
 */
import { createHash } from "crypto";
import { call, groupFilter, inspectContainer, request, sleep, suiteLabels, TEST_LABEL } from "./docker-api";
import { placeholder, randomPassword, tlsCertRequest, tlsLocallySignedCert, tlsPrivateKey, tlsSelfSignedCert } from "./terraform-values";

export { TEST_LABEL };

type Attrs = Record<string, any>;

export interface StackJson {
  resource: Record<string, Record<string, Attrs>>;
  data?: Record<string, Record<string, Attrs>>;
  variable?: Record<string, Attrs>;
}

export interface ApplyOptions {
  /** Catalog reference (`repo:tag@sha256:...`) -> local stand-in tag. */
  readonly standins: Map<string, string>;
  /** Test values for Terraform variables. @default "engine-test-<name>" */
  readonly variables?: Record<string, string>;
  /** Values to reuse (e.g. the certificates of a previous apply) by address `type.name`. */
  readonly reuse?: Map<string, Attrs>;
}

export interface AppliedContainer {
  readonly address: string;
  readonly id: string;
  readonly name: string;
  readonly config: Attrs;
  /** Attributes the provider computes (`exit_code`, `container_logs` of an attached run). */
  readonly computed?: Attrs;
}

export interface Deployment {
  /** Resolved attributes by address, e.g. "tls_private_key.x" -> { private_key_pem }. */
  readonly values: Map<string, Attrs>;
  readonly containers: AppliedContainer[];
  readonly networks: { address: string; id: string; name: string }[];
  readonly volumes: { address: string; name: string }[];
  /** Attributes the engine cannot honour here (gpus), one line each. */
  readonly notes: string[];
  readonly json: StackJson;
}

// ------------------------------------------------------------------------------------------------
// Expressions: the subset of HCL our stacks synthesize: references, string/number literals and
// jsonencode, sha256, sensitive, element, split, join, concat, toset, urlencode, timeadd, formatdate,
// `cond ? a : b` and list/object literals.
// ------------------------------------------------------------------------------------------------

type Lookup = (ref: string) => unknown;

function parseExpression(src: string, lookup: Lookup): unknown {
  let i = 0;
  const ws = () => {
    while (/\s/.test(src[i] ?? "")) i++;
  };
  // `cond ? a : b` (Lockdown's `var.lockdown ? ... : ...`): both branches are parsed, one is taken.
  const expr = (): unknown => {
    const value = primary();
    ws();
    if (src[i] !== "?") return value;
    i++;
    const whenTrue = expr();
    ws();
    if (src[i] !== ":") throw new Error(`expected ':' at ${i}: ${src}`);
    i++;
    const whenFalse = expr();
    if (typeof value !== "boolean") throw new Error(`condition is not a bool: ${JSON.stringify(value)} in ${src}`);
    return value ? whenTrue : whenFalse;
  };
  // `[a, b]` and `{"k" = v}` literals.
  const sequence = (close: string, item: () => void) => {
    i++;
    ws();
    while (src[i] !== close) {
      item();
      ws();
      if (src[i] === ",") i++;
      ws();
    }
    i++;
  };
  const primary = (): unknown => {
    ws();
    if (src[i] === "[") {
      const items: unknown[] = [];
      sequence("]", () => items.push(expr()));
      return items;
    }
    if (src[i] === "{") {
      const obj: Attrs = {};
      sequence("}", () => {
        const key = primary();
        ws();
        if (src[i] !== "=" && src[i] !== ":") throw new Error(`expected '=' at ${i}: ${src}`);
        i++;
        obj[String(key)] = expr();
      });
      return obj;
    }
    const literal = /^(true|false|null)\b/.exec(src.slice(i));
    if (literal) {
      i += literal[0].length;
      return { true: true, false: false, null: null }[literal[1]];
    }
    if (src[i] === '"') {
      i++;
      let s = "";
      while (src[i] !== '"') {
        if (src[i] === "\\") {
          i++;
          s += { n: "\n", t: "\t", '"': '"', "\\": "\\" }[src[i]] ?? src[i];
        } else s += src[i];
        i++;
      }
      i++;
      return s;
    }
    if (src[i] === "[") {
      // A tuple literal: [a, b, ...].
      i++;
      const items: unknown[] = [];
      ws();
      while (src[i] !== "]") {
        items.push(expr());
        ws();
        if (src[i] === ",") i++;
        ws();
      }
      i++;
      return items;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    const id = /^[A-Za-z_][\w\-.]*/.exec(src.slice(i));
    if (!id) throw new Error(`cannot parse expression at ${i}: ${src}`);
    i += id[0].length;
    ws();
    if (src[i] === "(") {
      i++;
      const args: unknown[] = [];
      ws();
      while (src[i] !== ")") {
        args.push(expr());
        ws();
        if (src[i] === ",") i++;
        ws();
      }
      i++;
      return callFunction(id[0], args);
    }
    return lookup(id[0]);
  };
  const value = expr();
  ws();
  if (i !== src.length) throw new Error(`unparsed rest of expression: ${src.slice(i)}`);
  return value;
}

function callFunction(name: string, args: unknown[]): unknown {
  switch (name) {
    case "jsonencode":
      return JSON.stringify(args[0]);
    case "sha256":
      return createHash("sha256").update(String(args[0])).digest("hex");
    case "sensitive":
      return args[0];
    case "split":
      return String(args[1]).split(String(args[0]));
    case "element":
      return (args[0] as unknown[])[Number(args[1])];
    case "join":
      return (args[1] as unknown[]).join(String(args[0]));
    case "urlencode":
      return encodeURIComponent(String(args[0]));
    case "timeadd": {
      // A Go duration of h/m/s parts ("-240h", "1h30m").
      const d = String(args[1]);
      const sign = d.startsWith("-") ? -1 : 1;
      let ms = 0;
      for (const m of d.replace(/^[-+]/, "").matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)) ms += Number(m[1]) * { h: 3600e3, m: 60e3, s: 1e3 }[m[2] as "h"];
      return new Date(Date.parse(String(args[0])) + sign * ms).toISOString().replace(/\.\d{3}Z$/, "Z");
    }
    case "formatdate": {
      const t = new Date(Date.parse(String(args[1])));
      const two = (n: number) => String(n).padStart(2, "0");
      const tokens: Record<string, string> = { YYYY: String(t.getUTCFullYear()), MM: two(t.getUTCMonth() + 1), DD: two(t.getUTCDate()), hh: two(t.getUTCHours()), mm: two(t.getUTCMinutes()), ss: two(t.getUTCSeconds()) };
      return String(args[0]).replace(/YYYY|MM|DD|hh|mm|ss/g, (k) => tokens[k]);
    }
    case "concat":
      return (args as unknown[][]).flat(1);
    case "toset":
      return [...new Set(args[0] as unknown[])];
    default:
      throw new Error(`function ${name}() is not supported by the test applier`);
  }
}

/** Splits a string into literal text and `${...}` interpolations (braces and strings inside counted). */
function interpolations(s: string): { text?: string; expr?: string }[] {
  const parts: { text?: string; expr?: string }[] = [];
  let i = 0;
  while (i < s.length) {
    const start = s.indexOf("${", i);
    if (start < 0) {
      parts.push({ text: s.slice(i) });
      break;
    }
    if (start > i) parts.push({ text: s.slice(i, start) });
    let depth = 1;
    let j = start + 2;
    let inString = false;
    while (j < s.length && depth > 0) {
      const c = s[j];
      if (inString) {
        if (c === "\\") j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{") depth++;
      else if (c === "}") depth--;
      j++;
    }
    parts.push({ expr: s.slice(start + 2, j - 1) });
    i = j;
  }
  return parts;
}

/** Every resource address a value refers to (`type.name` or `data.type.name`, `var.x`). */
function references(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    for (const p of interpolations(value)) {
      if (!p.expr) continue;
      for (const m of p.expr.matchAll(/(?<![\w"])((?:data\.)?[a-z][a-z0-9_]*\.[\w-]+)(?:\.[\w]+)?/g)) {
        if (!m[1].startsWith("var.")) out.add(m[1]);
      }
    }
  } else if (Array.isArray(value)) value.forEach((v) => references(v, out));
  else if (value && typeof value === "object") Object.entries(value).forEach(([k, v]) => k !== "//" && references(v, out));
  return out;
}

function resolve(value: unknown, lookup: Lookup): unknown {
  if (typeof value === "string") {
    const parts = interpolations(value);
    if (parts.length === 1 && parts[0].expr !== undefined) return parseExpression(parts[0].expr, lookup);
    return parts.map((p) => (p.expr !== undefined ? String(parseExpression(p.expr, lookup)) : p.text)).join("");
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, lookup));
  if (value && typeof value === "object") {
    const out: Attrs = {};
    for (const [k, v] of Object.entries(value)) if (k !== "//" && k !== "depends_on" && k !== "lifecycle") out[k] = resolve(v, lookup);
    return out;
  }
  return value;
}

/**
 * `count` and `dynamic` as Terraform plans them, in place; false when `count` is 0 (the resource is left out).
 * Only what the library synthesizes: count 0 or 1 (Lockdown's tailnet nodes), dynamic blocks with literal content (its ports).
 */
function expandMeta(address: string, a: Attrs): boolean {
  if (a.count !== undefined) {
    const count = Number(a.count);
    delete a.count;
    if (count === 0) return false;
    if (count !== 1) throw new Error(`${address}: count ${count} is not supported by the test applier`);
  }
  if (a.dynamic) {
    for (const [block, spec] of Object.entries(a.dynamic as Record<string, Attrs>)) {
      const blocks = (spec.for_each as unknown[]).map(() => spec.content);
      if (blocks.length > 0) a[block] = [...(a[block] ?? []), ...blocks];
    }
    delete a.dynamic;
  }
  return true;
}

/** A bool variable is a bool in expressions (unset: its default); others are test strings as before. */
function variableValue(json: StackJson, variables: Record<string, string> | undefined, name: string): unknown {
  const declared = json.variable?.[name];
  const given = variables?.[name];
  if (declared?.type === "bool") return given !== undefined ? given === "true" : (declared.default ?? false);
  return given ?? `engine-test-${name}`;
}

/**
 * What Terraform would plan for each resource with these variables, without applying anything:
 * expressions evaluated, count and dynamic expanded; references to other resources stay `${address.attr}`.
 * (The synth-level lockdown tests read it.)
 */
export function plannedResources(json: StackJson, variables: Record<string, string> = {}, select: (address: string) => boolean = () => true): Map<string, Attrs> {
  const lookup: Lookup = (ref) => (ref.startsWith("var.") ? variableValue(json, variables, ref.slice(4)) : `\${${ref}}`);
  const out = new Map<string, Attrs>();
  for (const [type, byName] of Object.entries(json.resource)) {
    for (const [name, raw] of Object.entries(byName)) {
      if (!select(`${type}.${name}`)) continue;
      const a = resolve(raw, lookup) as Attrs;
      if (expandMeta(`${type}.${name}`, a)) out.set(`${type}.${name}`, a);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Order
// ------------------------------------------------------------------------------------------------

interface Node {
  address: string;
  type: string;
  attrs: Attrs;
  deps: Set<string>;
}

function nodesOf(json: StackJson): Node[] {
  const nodes: Node[] = [];
  for (const [type, byName] of Object.entries(json.resource)) {
    for (const [name, attrs] of Object.entries(byName)) {
      const deps = references(attrs);
      for (const d of (attrs.depends_on ?? []) as string[]) deps.add(d);
      nodes.push({ address: `${type}.${name}`, type, attrs, deps });
    }
  }
  for (const [type, byName] of Object.entries(json.data ?? {})) {
    for (const [name, attrs] of Object.entries(byName)) {
      nodes.push({ address: `data.${type}.${name}`, type: `data.${type}`, attrs, deps: references(attrs) });
    }
  }
  return nodes;
}

/** Dependency order (Kahn); throws on a cycle. */
export function applyOrder(json: StackJson): string[] {
  const nodes = nodesOf(json);
  const known = new Set(nodes.map((n) => n.address));
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < nodes.length) {
    const ready = nodes.filter((n) => !done.has(n.address) && [...n.deps].every((d) => done.has(d) || !known.has(d)));
    if (ready.length === 0) throw new Error("dependency cycle among: " + nodes.filter((n) => !done.has(n.address)).map((n) => n.address).join(", "));
    for (const n of ready) {
      done.add(n.address);
      order.push(n.address);
    }
  }
  return order;
}

/** How many resources Terraform creates at once (its `-parallelism` default). */
export const PARALLELISM = 10;

/**
 * Visits every node once its dependencies are done, at most PARALLELISM at a time, as Terraform's
 * graph walk does. On the first failure it starts nothing new, waits for what is running, and throws.
 */
export async function walkGraph(json: StackJson, visit: (address: string) => Promise<void>): Promise<void> {
  applyOrder(json); // throws on a cycle, before anything is created
  const nodes = nodesOf(json);
  const known = new Set(nodes.map((n) => n.address));
  const done = new Set<string>();
  const started = new Set<string>();
  const running = new Set<Promise<void>>();
  let failure: unknown;
  while (done.size < nodes.length && failure === undefined) {
    const ready = nodes.filter((n) => !started.has(n.address) && [...n.deps].every((d) => done.has(d) || !known.has(d)));
    for (const n of ready.slice(0, PARALLELISM - running.size)) {
      started.add(n.address);
      const p: Promise<void> = visit(n.address).then(
        () => void done.add(n.address),
        (err) => void (failure ??= err),
      );
      running.add(p);
      void p.finally(() => running.delete(p));
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
}

// ------------------------------------------------------------------------------------------------
// Docker resources
// ------------------------------------------------------------------------------------------------

function durationNs(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) throw new Error(`unsupported duration ${s}`);
  return Math.round(Number(m[1]) * { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[m[2] as "s"]);
}

/** A one-file tar archive, as the provider writes it for each upload (Go's archive/tar, ustar header). */
export function tarOneFile(name: string, content: Buffer, mode: number): Buffer {
  const header = Buffer.alloc(512, 0);
  let file = name;
  let prefix = "";
  if (Buffer.byteLength(file) > 100) {
    const cut = name.lastIndexOf("/", 155);
    prefix = name.slice(0, cut);
    file = name.slice(cut + 1);
  }
  header.write(file, 0, 100, "utf8");
  header.write(mode.toString(8).padStart(7, "0") + "\0", 100, 8, "ascii");
  header.write("0000000\0", 108, 8, "ascii");
  header.write("0000000\0", 116, 8, "ascii");
  header.write(content.length.toString(8).padStart(11, "0") + "\0", 124, 12, "ascii");
  header.write(Math.floor(Date.now() / 1000).toString(8).padStart(11, "0") + "\0", 136, 12, "ascii");
  header.write("        ", 148, 8, "ascii");
  header.write("0", 156, 1, "ascii");
  header.write("ustar\u000000", 257, 8, "ascii");
  header.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024, 0)]);
}

function containerBody(a: Attrs, notes: string[], runLabel: string): Attrs {
  const config: Attrs = { Image: a.image, Labels: suiteLabels(runLabel), HostConfig: {} };
  const host = config.HostConfig;
  if (a.hostname) config.Hostname = a.hostname;
  if (a.env) config.Env = a.env;
  if (a.command) config.Cmd = a.command;
  if (a.entrypoint) config.Entrypoint = a.entrypoint;
  if (a.user) config.User = a.user;
  if (a.working_dir) config.WorkingDir = a.working_dir;
  if (a.stop_signal) config.StopSignal = a.stop_signal;
  if (a.stop_timeout) config.StopTimeout = a.stop_timeout;
  for (const l of a.labels ?? []) config.Labels[l.label] = l.value;
  if (a.ports) {
    config.ExposedPorts = {};
    host.PortBindings = {};
    for (const p of a.ports) {
      const key = `${p.internal}/${p.protocol ?? "tcp"}`;
      config.ExposedPorts[key] = {};
      // The provider's schema default for ip is 0.0.0.0 (portSetToDockerPorts takes what is set).
      (host.PortBindings[key] ??= []).push({ HostIp: p.ip ?? "0.0.0.0", HostPort: p.external === undefined ? "" : String(p.external) });
    }
  }
  if (a.healthcheck) {
    const h = a.healthcheck;
    config.Healthcheck = {
      Test: h.test,
      Interval: durationNs(h.interval),
      Timeout: durationNs(h.timeout),
      StartPeriod: durationNs(h.start_period),
      Retries: h.retries,
    };
  }
  const binds: string[] = [];
  config.Volumes = {};
  for (const v of a.volumes ?? []) {
    config.Volumes[v.container_path] = {};
    const source = v.volume_name ?? v.host_path;
    if (source) binds.push(`${source}:${v.container_path}:${v.read_only ? "ro" : "rw"}`);
  }
  if (binds.length) host.Binds = binds;
  if (a.mounts) {
    host.Mounts = a.mounts.map((m: Attrs) => ({
      Type: m.type,
      Target: m.target,
      Source: m.source,
      ReadOnly: m.read_only ?? false,
      ...(m.tmpfs_options ? { TmpfsOptions: { SizeBytes: m.tmpfs_options[0]?.size_bytes, Mode: m.tmpfs_options[0]?.mode } } : {}),
    }));
  }
  host.RestartPolicy = { Name: a.restart ?? "no", MaximumRetryCount: a.max_retry_count ?? 0 };
  host.ReadonlyRootfs = a.read_only ?? false;
  host.LogConfig = { Type: a.log_driver ?? "json-file", Config: a.log_opts ?? {} };
  if (a.tmpfs) host.Tmpfs = a.tmpfs;
  if (a.ulimit) host.Ulimits = a.ulimit.map((u: Attrs) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
  if (a.capabilities) {
    host.CapAdd = a.capabilities.add ?? [];
    host.CapDrop = a.capabilities.drop ?? [];
  }
  if (a.security_opts) host.SecurityOpt = a.security_opts;
  if (a.memory) host.Memory = a.memory * 1024 * 1024;
  if (a.memory_swap) host.MemorySwap = a.memory_swap > 0 ? a.memory_swap * 1024 * 1024 : a.memory_swap;
  if (a.shm_size) host.ShmSize = a.shm_size * 1024 * 1024;
  if (a.cpu_period) host.CpuPeriod = a.cpu_period;
  if (a.cpu_quota) host.CpuQuota = a.cpu_quota;
  if (a.cpu_shares) host.CpuShares = a.cpu_shares;
  if (a.cpu_set) host.CpusetCpus = a.cpu_set;
  if (a.network_mode) host.NetworkMode = a.network_mode;
  if (a.sysctls) host.Sysctls = a.sysctls;
  if (a.group_add) host.GroupAdd = a.group_add;
  if (a.dns) host.Dns = a.dns;
  if (a.gpus) notes.push(`${a.name}: gpus = "${a.gpus}" not requested (no GPU on this machine)`);
  host.Init = a.init ?? false;
  return config;
}

async function createContainer(address: string, a: Attrs, notes: string[], runLabel: string): Promise<AppliedContainer> {
  const created = await call("POST", `/containers/create?name=${encodeURIComponent(a.name)}`, containerBody(a, notes, runLabel));
  const id = created.json().Id as string;
  if (a.networks_advanced) {
    const res = await request("POST", `/networks/bridge/disconnect`, { Container: id, Force: false });
    if (res.status !== 200 && !/is not connected/.test(res.body.toString())) throw new Error(`disconnect bridge: ${res.body}`);
    for (const n of a.networks_advanced) {
      await call("POST", `/networks/${encodeURIComponent(n.name)}/connect`, {
        Container: id,
        EndpointConfig: { Aliases: n.aliases ?? [], IPAMConfig: { IPv4Address: n.ipv4_address ?? "", IPv6Address: n.ipv6_address ?? "" } },
      });
    }
  }
  for (const u of a.upload ?? []) {
    const content = u.content_base64 !== undefined ? Buffer.from(u.content_base64, "base64") : Buffer.from(u.content ?? "", "utf8");
    const mode = u.permissions ? parseInt(u.permissions, 8) : u.executable ? 0o744 : 0o644;
    await call("PUT", `/containers/${id}/archive?path=/`, tarOneFile(u.file, content, mode));
  }
  const computed: Attrs = {};
  if (a.start !== false) {
    await call("POST", `/containers/${id}/start`);
    if (a.attach) Object.assign(computed, await attached(id, a.logs === true));
    if (a.wait) await waitHealthy(id, a.wait_timeout ?? 60);
    if (a.must_run !== false) {
      // The provider's Read right after create (L634-L690): a must_run container that is not running fails the apply.
      await sleep(500);
      const state = (await inspectContainer(id)).State;
      if (!state.Running) {
        throw new Error(`${a.name} is not running after start (exit ${state.ExitCode}, error "${state.Error}")`);
      }
    }
  }
  return { address, id, name: a.name, config: a, computed };
}

/**
 * `attach = true` (L583-L627): the create waits until the container is not running, bounded by the
 * provider's 20-minute create timeout, and with `logs = true` keeps the log stream in `container_logs`.
 * The provider reads the raw stream of ContainerLogs with a line scanner and no demultiplexing, so the
 * attribute holds each line followed by "\n", the stream's 8-byte frame headers included; the Read after
 * it (L690-L692) sets `exit_code` for a container that is not running.
 */
async function attached(id: string, logs: boolean): Promise<Attrs> {
  await request("POST", `/containers/${id}/wait?condition=not-running`, undefined, 20 * 60 * 1000);
  const out: Attrs = { exit_code: (await inspectContainer(id)).State.ExitCode };
  if (logs) {
    const raw = (await call("GET", `/containers/${id}/logs?stdout=1&stderr=1`)).body.toString("utf8");
    const lines = raw.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    out.container_logs = lines.map((l) => l.replace(/\r$/, "") + "\n").join("");
  }
  return out;
}

async function waitHealthy(id: string, timeoutSeconds: number): Promise<void> {
  for (let i = 0; i < timeoutSeconds * 4; i++) {
    const health = (await inspectContainer(id)).State.Health;
    if (!health) throw new Error("wait = true but the container has no healthcheck");
    if (health.Status === "healthy") return;
    await sleep(250);
  }
  throw new Error(`container ${id} not healthy within ${timeoutSeconds} s`);
}

// ------------------------------------------------------------------------------------------------
// Apply / destroy
// ------------------------------------------------------------------------------------------------

/**
 * Applies `json`. With `previous` (a deployment of the same stack), it is a second apply: resources whose
 * resolved attributes are unchanged are kept; a docker_container whose attributes changed is replaced
 * (destroyed, then created), as every docker_container attribute our stacks set is ForceNew in the
 * provider's schema (labels and upload included, so a changed config hash label replaces the service);
 * containers no longer in the stack are destroyed. tls/random values come from `previous` unless their
 * address is in `reissue`.
 */
export async function apply(json: StackJson, options: ApplyOptions, runLabel = "1", previous?: Deployment, reissue: string[] = []): Promise<Deployment> {
  const values = new Map<string, Attrs>();
  const deployment: Deployment = { values, containers: [], networks: [], volumes: [], notes: [], json };
  const old = {
    containers: new Map((previous?.containers ?? []).map((c) => [c.address, c])),
    networks: new Map((previous?.networks ?? []).map((n) => [n.address, n])),
    volumes: new Map((previous?.volumes ?? []).map((v) => [v.address, v])),
  };
  const reuse = new Map(options.reuse ?? []);
  for (const [address, v] of previous?.values ?? []) {
    if (!address.startsWith("docker_") && !reissue.some((r) => address.startsWith(r))) reuse.set(address, v);
  }
  const lookup: Lookup = (ref) => {
    const parts = ref.split(".");
    if (parts[0] === "var") return variableValue(json, options.variables, parts[1]);
    const isData = parts[0] === "data";
    const address = parts.slice(0, isData ? 3 : 2).join(".");
    const attrPath = parts.slice(isData ? 3 : 2);
    let v: any = values.get(address);
    if (v === undefined) throw new Error(`reference to ${address} before it was applied`);
    for (const p of attrPath) v = v?.[p];
    if (v === undefined) throw new Error(`${ref} has no value`);
    return v;
  };
  const applyOne = async (address: string): Promise<void> => {
    const isData = address.startsWith("data.");
    const [type, name] = isData ? [`data.${address.split(".")[1]}`, address.split(".")[2]] : address.split(".");
    const raw = isData ? json.data![type.slice(5)][name] : json.resource[type][name];
    const a = resolve(raw, lookup) as Attrs;
    if (!expandMeta(address, a)) return;
    const reused = reuse.get(address);
    if (reused && !type.startsWith("docker_")) {
      values.set(address, reused);
      return;
    }
    switch (type) {
      case "tls_private_key":
        values.set(address, tlsPrivateKey(a));
        break;
      case "tls_self_signed_cert":
        values.set(address, tlsSelfSignedCert(a));
        break;
      case "tls_cert_request":
        values.set(address, tlsCertRequest(a));
        break;
      case "tls_locally_signed_cert": {
        const requestAddress = [...references(raw.cert_request_pem)][0];
        values.set(address, tlsLocallySignedCert(a, values.get(requestAddress)));
        break;
      }
      case "random_password":
        values.set(address, randomPassword(a));
        break;
      case "docker_image": {
        const tag = options.standins.get(a.name);
        if (!tag) throw new Error(`no stand-in image for ${a.name}`);
        const id = (await call("GET", `/images/${encodeURIComponent(tag)}/json`)).json().Id;
        values.set(address, { ...a, image_id: id, id });
        break;
      }
      case "docker_network": {
        const kept = old.networks.get(address);
        if (kept && JSON.stringify(previous!.values.get(address)) === JSON.stringify({ ...a, id: kept.id })) {
          old.networks.delete(address);
          deployment.networks.push(kept);
          values.set(address, { ...a, id: kept.id });
          break;
        }
        const body: Attrs = {
          Name: a.name,
          CheckDuplicate: true,
          Driver: a.driver ?? "bridge",
          Options: a.options ?? {},
          Internal: a.internal ?? false,
          Attachable: a.attachable ?? false,
          EnableIPv6: a.ipv6 ?? false,
          Labels: suiteLabels(runLabel),
        };
        if (a.ipam_config) {
          body.IPAM = { Driver: a.ipam_driver ?? "default", Config: a.ipam_config.map((c: Attrs) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range })) };
        }
        const id = (await call("POST", "/networks/create", body)).json().Id;
        deployment.networks.push({ address, id, name: a.name });
        values.set(address, { ...a, id });
        break;
      }
      case "docker_volume": {
        if (old.volumes.has(address)) {
          deployment.volumes.push(old.volumes.get(address)!);
          old.volumes.delete(address);
          values.set(address, { ...a, id: a.name, mountpoint: (await call("GET", `/volumes/${encodeURIComponent(a.name)}`)).json().Mountpoint });
          break;
        }
        // The provider's computed `mountpoint` (the daemon-side path AuditLog's driver options read certificates from).
        const volume = (await call("POST", "/volumes/create", { Name: a.name, Driver: a.driver ?? "local", Labels: suiteLabels(runLabel) })).json();
        deployment.volumes.push({ address, name: a.name });
        values.set(address, { ...a, id: a.name, mountpoint: volume.Mountpoint });
        break;
      }
      case "docker_container": {
        const kept = old.containers.get(address);
        if (kept) {
          old.containers.delete(address);
          if (JSON.stringify(kept.config) === JSON.stringify(a)) {
            deployment.containers.push(kept);
            values.set(address, { ...a, id: kept.id, ...kept.computed });
            break;
          }
          deployment.notes.push(`replaced ${a.name}`);
          await destroyContainer(kept);
        }
        const c = await createContainer(address, a, deployment.notes, runLabel);
        deployment.containers.push(c);
        values.set(address, { ...a, id: c.id, ...c.computed });
        break;
      }
      default:
        // Providers with an account behind them (cloudflare, tailscale): placeholders.
        values.set(address, { ...a, ...placeholder(type) });
    }
  };
  const order = applyOrder(json);
  try {
    await walkGraph(json, applyOne);
    // Whatever the new configuration no longer has.
    await Promise.all([...old.containers.values()].map(destroyContainer));
    await Promise.all([...old.networks.values()].map((n) => request("DELETE", `/networks/${n.id}`)));
    await Promise.all([...old.volumes.values()].map((v) => request("DELETE", `/volumes/${encodeURIComponent(v.name)}`)));
    // Resources finish in whatever order the walk gives; the deployment lists them in dependency order.
    const rank = (x: { address: string }) => order.indexOf(x.address);
    for (const list of [deployment.containers, deployment.networks, deployment.volumes] as { address: string }[][]) list.sort((x, y) => rank(x) - rank(y));
    deployment.notes.sort();
  } catch (err) {
    // Leave nothing half-made behind.
    await destroy(deployment).catch(() => undefined);
    throw err;
  }
  return deployment;
}

/** Removes one container the way the provider's delete does (stop with the grace period, then force-remove). */
export async function destroyContainer(c: AppliedContainer): Promise<void> {
  const t = c.config.destroy_grace_seconds ?? 0;
  await request("POST", `/containers/${c.id}/stop?t=${t}`, undefined, (t + 30) * 1000);
  await request("DELETE", `/containers/${c.id}?force=1`);
}

export async function destroy(d: Deployment): Promise<void> {
  // The suite's probe containers first (test/engine/probe.ts): a network with a live endpoint cannot be removed.
  await Promise.all((await call("GET", `/containers/json?all=1&filters=${groupFilter("probe-pool")}`)).json().map((c: any) => request("DELETE", `/containers/${c.Id}?force=1`)));
  // Terraform destroys independent resources in parallel; the namespace users (network_mode container:)
  // and the loaders first, then the rest.
  const dependents = d.containers.filter((c) => String(c.config.network_mode ?? "").startsWith("container:"));
  await Promise.all(dependents.map(destroyContainer));
  await Promise.all(d.containers.filter((c) => !dependents.includes(c)).map(destroyContainer));
  // Networks and volumes depend on nothing of each other once the containers are gone.
  await Promise.all(d.networks.map((n) => request("DELETE", `/networks/${n.id}`)));
  await Promise.all(d.volumes.map((v) => request("DELETE", `/volumes/${encodeURIComponent(v.name)}`)));
}

/** What is left on the engine with the suite's label (containers, networks, volumes). */
export async function leftovers(): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const filter = groupFilter();
  const containers = (await call("GET", `/containers/json?all=1&filters=${filter}`)).json().map((c: any) => c.Names[0]);
  const networks = (await call("GET", `/networks?filters=${filter}`)).json().map((n: any) => n.Name);
  const volumes = ((await call("GET", `/volumes?filters=${filter}`)).json().Volumes ?? []).map((v: any) => v.Name);
  return { containers, networks, volumes };
}

/**
 * Removes a crashed run's leftovers: anything with the suite's label in this group, or in every group
 * (before the groups start: scripts/engine-tests.sh).
 */
export async function removeLeftovers(everyGroup = false): Promise<void> {
  const filter = groupFilter(undefined, everyGroup);
  for (const c of (await call("GET", `/containers/json?all=1&filters=${filter}`)).json()) await request("DELETE", `/containers/${c.Id}?force=1&v=1`);
  for (const n of (await call("GET", `/networks?filters=${filter}`)).json()) await request("DELETE", `/networks/${n.Id}`);
  for (const v of (await call("GET", `/volumes?filters=${filter}`)).json().Volumes ?? []) await request("DELETE", `/volumes/${encodeURIComponent(v.Name)}`);
}

export function container(d: Deployment, name: string): AppliedContainer {
  const c = d.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}; have ${d.containers.map((x) => x.name).join(", ")}`);
  return c;
}
