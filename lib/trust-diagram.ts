import * as fs from "fs";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { Problems } from "./errors";
import { isExpression, list, parseReference, publishedPorts, record, str, strings } from "./policy/docker";
import { JSON_REPORT_FILE } from "./policy/report";
import { isAllInterfaces, parseIp } from "./validate";

/**
 * The trust-zone diagram: Graphviz DOT drawn from a synthesized stack (its parsed cdk.tf.json) and
 * the policy's security-report.json next to it. It reads only what Terraform will be asked to create
 * plus the trust graph's labels, so it shows the stack as deployed, not as the constructs meant it:
 *
 * - zones are clusters: the host's interfaces (published ports), the tailnet, Cloudflare, and each
 *   Docker network (a container on several networks sits between their clusters, a dashed line to each);
 * - containers sharing a network namespace (`network_mode = "container:..."`) are boxed together;
 * - config loaders (`zta.role = config-loader`, created but never started) are not drawn on their own:
 *   the service whose config hash label names a loader lists it on one line;
 * - a flow is drawn only where the callee's `zta.callers` label declares it (never guessed from
 *   shared networks), labelled with its authentication, port and client identity;
 * - open (unsuppressed) policy findings are marked in red on the container they concern.
 */

/** On a callee: JSON array of CallerEntry, the flows the trust graph allows into it. */
export const CALLERS_LABEL = "zta.callers";
/** On a container: its client certificate CN. */
export const IDENTITY_LABEL = "zta.identity";
/** On a Docker network the trust graph created: "<caller group> -> <callee group>". */
export const TRUST_LABEL = "zta.trust";
/** Callers that are zones, not containers. */
export const ZONE_CALLERS = ["host", "tailnet", "cloudflare"] as const;
/** How a flow authenticates, weakest last. */
// The values TrustGraph writes (constructs/trust-graph.ts Authentication), plus the ones a hand-written label may use.
export const FLOW_AUTHS = ["mtls+oidc", "mtls", "access-jwt", "tailnet", "loopback", "network-only", "none"] as const;

/** One entry of a `zta.callers` label. */
export interface CallerEntry {
  /** A Docker container name (or a `${docker_container.x.name}` reference), or host | tailnet | cloudflare. */
  readonly caller: string;
  readonly port: number;
  readonly auth: string;
  /** The client certificate CN the caller presents. */
  readonly identity?: string;
}

/** The part of security-report.json the diagram reads. */
export interface TrustDiagramReport {
  readonly findings?: ReadonlyArray<{
    readonly ruleId: string;
    readonly title: string;
    readonly level: string;
    readonly status: string;
    readonly resource: string;
  }>;
}

/** Edge colours per authentication: green for mTLS, blue for the tailnet, orange for Access, red for none. */
const AUTH_COLOR: Record<string, string> = {
  "mtls+oidc": "#1b5e20",
  mtls: "#2e7d32",
  "access-jwt": "#e65100",
  tailnet: "#1565c0",
  loopback: "#616161",
  // Only the relationship's own network stands in front (the edge asking the OIDC gate): amber, not green.
  "network-only": "#ef6c00",
  none: "#c62828",
};
const RED = "#c62828";
const AMBER = "#ef6c00";
const ROLE_LOADER = "config-loader";

interface Container {
  readonly id: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly labels: Record<string, string>;
  /** Set for `container:` network mode: the logical id of the namespace's owner. */
  namespaceOf?: string;
  /** Network keys (logical id, or "external:<name>" / "bridge" / "none" / "host"). */
  networks: string[];
  loaders: string[];
}

interface Network {
  readonly key: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
}

interface Mark {
  readonly text: string;
  readonly color: string;
}

/** Graphviz DOT of one synthesized stack. Pure and synchronous; render it with `renderTrustZoneSvg`. */
export function trustZoneDot(stackJson: unknown, report?: TrustDiagramReport, title?: string): string {
  const resources = record(record(stackJson).resource) as Record<string, Record<string, Record<string, unknown>>>;
  const problems = new Problems("trust-zone diagram");
  const sorted = <T>(o: Record<string, T> | undefined) =>
    Object.entries(o ?? {}).sort(([a], [b]) => a.localeCompare(b));

  const networks = new Map<string, Network>();
  for (const [id, config] of sorted(resources.docker_network))
    networks.set(id, { key: id, name: plainOr(config.name, id), config });

  const containers = new Map<string, Container>();
  for (const [id, config] of sorted(resources.docker_container)) {
    containers.set(id, {
      id,
      name: plainOr(config.name, id),
      config,
      labels: labelMap(config.labels),
      networks: [],
      loaders: [],
    });
  }
  const byName = new Map([...containers.values()].map((c) => [c.name, c]));
  /** A container from a reference to any of its attributes, or from its literal name. */
  const containerOf = (value: string): Container | undefined => {
    const ref = parseReference(value);
    if (ref) return ref.type === "docker_container" ? containers.get(ref.logicalId) : undefined;
    return byName.get(value);
  };

  for (const c of containers.values()) {
    const mode = str(c.config.network_mode);
    if (mode?.startsWith("container:")) {
      const owner = containerOf(mode.slice("container:".length));
      if (owner && owner !== c) c.namespaceOf = owner.id;
      else c.networks = [`external:${mode}`];
    } else if (mode === "none" || mode === "host") {
      c.networks = [mode];
    } else {
      for (const n of list(c.config.networks_advanced).map(record)) {
        const name = str(n.name) ?? "";
        const ref = parseReference(name);
        const known =
          ref?.type === "docker_network"
            ? networks.get(ref.logicalId)
            : [...networks.values()].find((x) => x.name === name);
        c.networks.push(known ? known.key : `external:${name}`);
      }
      // No networks_advanced: Docker attaches the default bridge (or the named network_mode).
      if (c.networks.length === 0)
        c.networks = [mode && mode !== "bridge" && mode !== "default" ? `external:${mode}` : "bridge"];
    }
  }
  // Loaders are folded into the service whose config hash label references them.
  const loaderIds = new Set(
    [...containers.values()].filter((c) => c.labels["zta.role"] === ROLE_LOADER).map((c) => c.id),
  );
  const folded = new Set<string>();
  for (const c of containers.values()) {
    if (loaderIds.has(c.id)) continue;
    for (const value of Object.values(c.labels)) {
      for (const m of value.matchAll(/docker_container\.([A-Za-z0-9_-]+)\.upload/g)) {
        if (loaderIds.has(m[1]) && !folded.has(m[1])) {
          folded.add(m[1]);
          c.loaders.push(m[1]);
        }
      }
    }
  }
  /** The node a container is drawn in: itself, or the service it is folded into. */
  const drawnAs = new Map<string, string>();
  for (const c of containers.values()) for (const l of c.loaders) drawnAs.set(l, c.id);
  const nodeOf = (id: string) => `c:${containers.get(drawnAs.get(id) ?? id)!.name}`;
  const rootOf = (c: Container): Container => {
    const seen = new Set<string>();
    let at = c;
    while (at.namespaceOf && !seen.has(at.id)) {
      seen.add(at.id);
      at = containers.get(at.namespaceOf)!;
    }
    return at;
  };

  // Open findings, on the node of the resource they concern.
  const marks = new Map<string, Mark[]>();
  const mark = (node: string, m: Mark) => marks.set(node, [...(marks.get(node) ?? []), m]);
  const hasTypePrefix = (prefix: string) => Object.keys(resources).some((t) => t.startsWith(prefix));
  const elsewhere: Mark[] = [];
  for (const f of report?.findings ?? []) {
    if (f.status !== "open") continue;
    const [type, logicalId] = [
      f.resource.slice(0, f.resource.indexOf(".")),
      f.resource.slice(f.resource.indexOf(".") + 1),
    ];
    const text = `open finding ${f.ruleId} (${f.level}): ${f.title}`;
    const m: Mark = { text, color: f.level === "error" ? RED : AMBER };
    if (type === "docker_container" && containers.has(logicalId)) {
      mark(nodeOf(logicalId), {
        ...m,
        text: drawnAs.has(logicalId) ? `${text} [${containers.get(logicalId)!.name}]` : text,
      });
    } else if (type === "docker_image") {
      const users = [...containers.values()].filter((c) => {
        const ref = parseReference(c.config.image);
        return ref?.type === "docker_image" && ref.logicalId === logicalId;
      });
      for (const u of users) mark(nodeOf(u.id), m);
      if (users.length === 0) elsewhere.push({ ...m, text: `${text} [${f.resource}]` });
    } else if (type === "docker_network" && networks.has(logicalId)) {
      mark(`n:${networks.get(logicalId)!.name}`, m);
    } else if (type.startsWith("cloudflare_")) {
      mark("z:cloudflare", m);
    } else if (type.startsWith("tailscale_")) {
      mark("z:tailnet", m);
    } else {
      elsewhere.push({ ...m, text: `${text} [${f.resource}]` });
    }
  }

  // Flows, from the callee's zta.callers label.
  const flows: string[] = [];
  const outsiders = new Set<string>();
  const zonesCalled = new Set<string>();
  for (const c of containers.values()) {
    const raw = c.labels[CALLERS_LABEL];
    if (raw === undefined) continue;
    const where = `docker_container.${c.id} ("${c.name}") label ${CALLERS_LABEL}`;
    const fix = `Give ${CALLERS_LABEL} a JSON array of {"caller": "<container name or ${ZONE_CALLERS.join("|")}>", "port": <1-65535>, "auth": "<${FLOW_AUTHS.join("|")}>", "identity": "<CN, optional>"}.`;
    let entries: unknown;
    try {
      entries = JSON.parse(raw);
    } catch {
      if (isExpression(raw)) {
        mark(nodeOf(c.id), {
          text: `${CALLERS_LABEL} is computed by Terraform: its flows are not drawn`,
          color: AMBER,
        });
      } else problems.add(where, raw, fix);
      continue;
    }
    if (!Array.isArray(entries)) {
      problems.add(where, raw, fix);
      continue;
    }
    entries.forEach((e: unknown, i: number) => {
      const entry = record(e) as Partial<CallerEntry>;
      const prop = `${where}[${i}]`;
      const ok =
        typeof entry.caller === "string" &&
        entry.caller !== "" &&
        Number.isInteger(entry.port) &&
        (entry.port as number) >= 1 &&
        (entry.port as number) <= 65535 &&
        (FLOW_AUTHS as readonly string[]).includes(entry.auth as string) &&
        (entry.identity === undefined || typeof entry.identity === "string");
      if (!ok) return problems.add(prop, e, fix);
      const { caller, port, auth, identity } = entry as CallerEntry;
      let from: string;
      if ((ZONE_CALLERS as readonly string[]).includes(caller)) {
        from = `z:${caller}`;
        zonesCalled.add(caller);
      } else {
        const known = containerOf(caller);
        from = known ? nodeOf(known.id) : `u:${caller}`;
        if (!known) outsiders.add(caller);
      }
      const label = `${auth} :${port}${identity ? `\n${identity}` : ""}`;
      const color = AUTH_COLOR[auth];
      flows.push(
        `  ${q(from)} -> ${q(nodeOf(c.id))} [label=${q(label)}, color=${q(color)}, fontcolor=${q(color)}, penwidth=${auth === "none" ? 2.5 : 1.5}];`,
      );
    });
  }
  problems.throwIfAny();

  const out: string[] = [];
  out.push(`digraph ${q(title ?? "trust zones")} {`);
  out.push('  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.9, newrank=true];');
  // The margin leaves room for viewers whose sans-serif is wider than Graphviz's Helvetica metrics.
  out.push(
    '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="white", margin="0.2,0.06"];',
  );
  out.push('  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];');

  const containerNode = (c: Container, indent: string): string => {
    const rows = [`<B>${h(c.name)}</B>`];
    const role = c.labels["zta.role"];
    const kind =
      c.config.start === false
        ? "created, never started"
        : c.config.must_run === false
          ? "job (runs to completion)"
          : undefined;
    if (role || kind) rows.push(`<FONT POINT-SIZE="9">${h([role, kind].filter(Boolean).join(" · "))}</FONT>`);
    const identity = c.labels[IDENTITY_LABEL];
    if (identity) rows.push(`<FONT POINT-SIZE="9">identity CN=${h(identity)}</FONT>`);
    for (const l of c.loaders)
      rows.push(`<FONT POINT-SIZE="8" COLOR="#757575">config via ${h(containers.get(l)!.name)} (loader)</FONT>`);
    const own = marks.get(`c:${c.name}`) ?? [];
    for (const m of own) rows.push(`<FONT POINT-SIZE="9" COLOR="${m.color}">⚠ ${h(m.text)}</FONT>`);
    const loose = loaderIds.has(c.id);
    const attrs = [
      `label=<${table(rows)}>`,
      ...(own.length ? [`color=${q(own.some((m) => m.color === RED) ? RED : AMBER)}`, "penwidth=2.5"] : []),
      ...(loose ? ['style="rounded,dotted"', 'fontcolor="#757575"'] : []),
      ...(c.config.network_mode === "host" ? [`color=${q(RED)}`, "penwidth=2.5"] : []),
    ];
    return `${indent}${q(`c:${c.name}`)} [${attrs.join(", ")}];`;
  };
  /** A namespace owner with the containers sharing its namespace, boxed together. */
  const group = (root: Container, indent: string): string[] => {
    const members = [...containers.values()].filter((c) => c !== root && !drawnAs.has(c.id) && rootOf(c) === root);
    if (members.length === 0) return [containerNode(root, indent)];
    return [
      `${indent}subgraph ${q(`cluster_ns_${root.name}`)} {`,
      `${indent}  label=${q(`shared network namespace of ${root.name}`)}; style="dashed,rounded"; color="#9e9e9e"; fontsize=9;`,
      containerNode(root, `${indent}  `),
      ...members.map((m) => containerNode(m, `${indent}  `)),
      `${indent}}`,
    ];
  };
  const roots = [...containers.values()].filter((c) => !drawnAs.has(c.id) && rootOf(c) === c);

  // Host interfaces: published ports, host processes.
  const published: string[] = [];
  out.push('  subgraph "cluster_host" {');
  out.push('    label="host interfaces"; style="rounded,filled"; fillcolor="#fafafa"; color="#9e9e9e";');
  for (const c of containers.values()) {
    for (const p of publishedPorts(c.config).map(record)) {
      const ip = p.ip;
      const computed = isExpression(ip);
      const address = typeof ip === "string" ? ip : "0.0.0.0";
      const exposed = !computed && !isLoopback(address);
      const bind = `${address.includes(":") && !address.startsWith("[") ? `[${address}]` : address}:${p.external ?? "random"}/${str(p.protocol) ?? "tcp"}`;
      const note = computed
        ? "address computed by Terraform"
        : isAllInterfaces(address)
          ? "EVERY interface"
          : exposed
            ? "beyond loopback"
            : "loopback only";
      const color = computed ? AMBER : exposed ? RED : "#424242";
      const id = `p:${c.name}:${bind}`;
      out.push(
        `    ${q(id)} [label=${q(`${bind}\n${note}${typeof ip === "string" ? "" : " (ip unset)"}`)}, shape=cds, color=${q(color)}, fontcolor=${q(color)}${exposed ? ", penwidth=2.5" : ""}];`,
      );
      published.push(
        `  ${q(id)} -> ${q(`c:${rootOf(c).name}`)} [label=${q(`publish → :${p.internal}`)}, color=${q(color)}, fontcolor=${q(color)}${exposed ? ", penwidth=2.5" : ""}];`,
      );
    }
  }
  if (published.length === 0)
    out.push('    "p:none" [label="no published port", shape=plaintext, fontcolor="#757575", style=""];');
  if (zonesCalled.has("host")) out.push('    "z:host" [label="host processes", shape=box3d];');
  for (const root of roots.filter((r) => r.networks.includes("host"))) out.push(...group(root, "    "));
  out.push("  }");

  // Tailnet and Cloudflare, when the stack uses them.
  const tailscaled = [...containers.values()].filter((c) => c.labels["zta.role"] === "tailscale");
  // Outbound lines are written zone -> container (no arrowheads) so that zones rank left of the stack.
  const joins: string[] = [];
  if (hasTypePrefix("tailscale_") || tailscaled.length > 0 || zonesCalled.has("tailnet") || marks.has("z:tailnet")) {
    const names = tailscaled.flatMap((c) =>
      strings(c.config.env)
        .filter((e) => e.startsWith("TS_HOSTNAME="))
        .map((e) => e.slice(12)),
    );
    const rows = [
      "<B>tailnet</B>",
      ...names.map((n) => `node ${h(n)}`),
      ...(marks.get("z:tailnet") ?? []).map((m) => `<FONT COLOR="${m.color}">⚠ ${h(m.text)}</FONT>`),
    ];
    out.push('  subgraph "cluster_tailnet" {');
    out.push('    label="tailnet"; style="rounded,filled"; fillcolor="#e3f2fd"; color="#1565c0";');
    out.push(`    "z:tailnet" [label=<${table(rows)}>, shape=box3d];`);
    out.push("  }");
    for (const c of tailscaled)
      joins.push(
        `  "z:tailnet" -> ${q(`c:${c.name}`)} [label="joins the tailnet", style=dotted, color="#1565c0", fontcolor="#1565c0", arrowhead=none];`,
      );
  }
  const tunnels = [...containers.values()].filter((c) => c.labels["zta.role"] === "cloudflared");
  if (
    hasTypePrefix("cloudflare_") ||
    tunnels.length > 0 ||
    zonesCalled.has("cloudflare") ||
    marks.has("z:cloudflare")
  ) {
    const hostnames = sorted(resources.cloudflare_dns_record)
      .map(([, r]) => str(r.name))
      .filter((n): n is string => !!n && !isExpression(n));
    const access = sorted(resources.cloudflare_zero_trust_access_policy).flatMap(([, r]) =>
      list(r.include)
        .map(record)
        .map((inc) => {
          const [kind, v] = Object.entries(inc)[0] ?? ["?", {}];
          const value = Object.values(record(v))[0];
          return `${kind} ${typeof value === "string" && !isExpression(value) ? value : "(computed)"}`;
        }),
    );
    const rows = [
      "<B>Cloudflare</B>",
      ...hostnames.map((n) => h(n)),
      ...(access.length ? [`<FONT POINT-SIZE="9">Access allows: ${h(access.join(", "))}</FONT>`] : []),
      ...(marks.get("z:cloudflare") ?? []).map((m) => `<FONT COLOR="${m.color}">⚠ ${h(m.text)}</FONT>`),
    ];
    out.push('  subgraph "cluster_cloudflare" {');
    out.push('    label="Cloudflare"; style="rounded,filled"; fillcolor="#fff3e0"; color="#e65100";');
    out.push(`    "z:cloudflare" [label=<${table(rows)}>, shape=box3d];`);
    out.push("  }");
    for (const c of tunnels)
      joins.push(
        `  "z:cloudflare" -> ${q(`c:${c.name}`)} [label="outbound tunnel", style=dotted, color="#e65100", fontcolor="#e65100", arrowhead=none];`,
      );
  }

  // Docker networks (and the pseudo-networks containers end up on). A container on one network is
  // drawn inside it; one on several sits outside, a dashed line to each network it joins.
  const netKeys = new Set<string>([...networks.keys()]);
  for (const r of roots) for (const n of r.networks) if (n !== "host") netKeys.add(n);
  const attach: string[] = [];
  let index = 0;
  for (const key of [...netKeys].sort((a, b) => a.localeCompare(b))) {
    const net = networks.get(key);
    const name = net ? net.name : key === "bridge" ? "bridge" : key === "none" ? "none" : key.slice("external:".length);
    const anchor = `n:${name}`;
    let label: string;
    let fill = "#f1f8e9";
    if (net) {
      const internal = net.config.internal === true;
      const trust = labelMap(net.config.labels)[TRUST_LABEL];
      label = `${name}\n${internal ? "internal: no route out" : "has a route out of the host"}${trust ? `\ntrust: ${trust}` : ""}`;
      if (!internal) fill = "#fffde7";
    } else if (key === "bridge") {
      label = "bridge (Docker's default network)";
      fill = "#fffde7";
    } else if (key === "none") {
      label = "no network (network_mode none)";
      fill = "#f5f5f5";
    } else {
      label = `${name}\n(not created by this stack)`;
      fill = "#fffde7";
    }
    const single = roots.filter((r) => r.networks.length === 1 && r.networks[0] === key);
    const multi = roots.filter((r) => r.networks.length > 1 && r.networks.includes(key));
    out.push(`  subgraph ${q(`cluster_net_${index++}`)} {`);
    out.push(`    label=${q(label)}; style="rounded,filled"; fillcolor=${q(fill)}; color="#558b2f";`);
    const netMarks = marks.get(anchor) ?? [];
    if (multi.length > 0 || netMarks.length > 0 || single.length === 0) {
      const rows = [`network ${h(name)}`, ...netMarks.map((m) => `<FONT COLOR="${m.color}">⚠ ${h(m.text)}</FONT>`)];
      out.push(
        `    ${q(anchor)} [label=<${table(rows)}>, shape=box, style="rounded,dashed", fontsize=9${netMarks.length ? `, color=${q(RED)}` : ""}];`,
      );
    }
    for (const r of single) out.push(...group(r, "    "));
    out.push("  }");
    for (const r of multi)
      attach.push(`  ${q(`c:${r.name}`)} -> ${q(anchor)} [style=dashed, color="#9e9e9e", arrowhead=none, weight=2];`);
  }
  for (const r of roots.filter((x) => x.networks.length > 1)) out.push(...group(r, "  "));

  for (const name of [...outsiders].sort()) {
    out.push(
      `  ${q(`u:${name}`)} [label=${q(`${name}\n(not in this stack)`)}, style="rounded,dashed", color=${q(AMBER)}];`,
    );
  }
  if (elsewhere.length > 0) {
    out.push(
      `  "findings" [label=<${table(["<B>open findings on other resources</B>", ...elsewhere.map((m) => `<FONT COLOR="${m.color}">⚠ ${h(m.text)}</FONT>`)])}>, color=${q(RED)}];`,
    );
  }
  out.push(...published, ...attach, ...joins, ...flows);
  // Last, so the clusters do not inherit labelloc. The key is in neutral grey: a stack with nothing red draws nothing red.
  const key = [
    "arrows: allowed flows, labelled auth :port and client CN",
    "green mTLS (darker: mTLS + OIDC) · blue tailnet · orange Cloudflare Access JWT · amber network only · grey loopback · red no authentication",
    "red port: published beyond loopback · red box: open policy finding",
    "dashed line: attached to a Docker network · dotted line: outbound connection to a zone",
  ];
  out.push(
    `  label=<${title ? `<B>${h(title)}</B><BR/>` : ""}${key.map((k) => `<FONT POINT-SIZE="9" COLOR="#616161">${h(k)}</FONT>`).join("<BR/>")}>; labelloc=b;`,
  );
  out.push("}");
  return `${out.join("\n")}\n`;
}

/** SVG of a DOT graph, with Graphviz compiled to WebAssembly (no system binary). */
export async function renderTrustZoneSvg(dot: string): Promise<string> {
  // Loaded on first use: the DOT function and the rest of the library never pay for the wasm module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const viz = await (require("@viz-js/viz") as typeof import("@viz-js/viz")).instance();
  const result = viz.render(dot, { format: "svg" });
  if (result.status !== "success" || result.output === undefined) {
    throw new Error(
      `Graphviz could not render the trust-zone diagram: ${result.errors.map((e) => e.message).join("; ")}`,
    );
  }
  return result.output;
}

export const DOT_FILE = "trust-zones.dot";
export const SVG_FILE = "trust-zones.svg";

/**
 * Writes trust-zones.dot and trust-zones.svg into a synthesized stack's folder, from its cdk.tf.json
 * and (when the policy wrote one) security-report.json. Returns the files written.
 */
export async function writeTrustZoneDiagram(stackDir: string, title?: string): Promise<string[]> {
  const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as unknown;
  const reportPath = path.join(stackDir, JSON_REPORT_FILE);
  const report = fs.existsSync(reportPath)
    ? (JSON.parse(fs.readFileSync(reportPath, "utf8")) as TrustDiagramReport)
    : undefined;
  const dot = trustZoneDot(json, report, title);
  const files = [path.join(stackDir, DOT_FILE), path.join(stackDir, SVG_FILE)];
  fs.writeFileSync(files[0], dot);
  fs.writeFileSync(files[1], await renderTrustZoneSvg(dot));
  return files;
}

/**
 * After `app.synth()`: the diagram of every stack of the app, in the folder the stack and the policy's
 * reports were written to (`<outdir>/stacks/<stack id>/`).
 */
export async function writeTrustZoneDiagrams(app: App): Promise<string[]> {
  const stacks = app.node.children.filter((c): c is TerraformStack => TerraformStack.isStack(c));
  const files: string[] = [];
  for (const stack of stacks)
    files.push(...(await writeTrustZoneDiagram(path.join(app.outdir, "stacks", stack.node.id), stack.node.id)));
  return files;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: reachable from the host itself only. */
export function isLoopback(address: string): boolean {
  const bytes = parseIp(address);
  if (!bytes) return address === "localhost";
  if (bytes.length === 4) return bytes[0] === 127;
  const v4Mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) || (v4Mapped && bytes[12] === 127);
}

function labelMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  // The provider models labels as a set of {label, value} blocks, on containers and networks alike.
  for (const l of list(value).map(record)) if (typeof l.label === "string") out[l.label] = String(l.value ?? "");
  return out;
}

/** A literal name, or the fallback when Terraform computes it. */
function plainOr(value: unknown, fallback: string): string {
  return typeof value === "string" && !isExpression(value) ? value : fallback;
}

/** A quoted DOT id or string. */
function q(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Text for an HTML-like label. */
function h(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function table(rows: string[]): string {
  return `<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1">${rows.map((r) => `<TR><TD>${r}</TD></TR>`).join("")}</TABLE>`;
}
