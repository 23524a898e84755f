/**
 * Incident runbooks rendered from a synthesized stack: one Markdown file per incident, written next to
 * cdk.tf.json (`runbooks/`). Every command names this stack's Terraform addresses, Docker containers,
 * volumes and outputs, read from the JSON and the trust graph's `zta.callers` labels (lib/runbooks-model.ts);
 * a step for a component the stack lacks is left out, and the rotation commands come from `secretHoldings`.
 */
import * as fs from "fs";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { AUDIT_DATA_DIR } from "./audit";
import { GRAFANA_LOKI_DATASOURCE_NAME, GRAFANA_LOKI_DATASOURCE_UID } from "./grafana";
import { CONFIG_DIR, ServiceRole } from "./identities";
import { AUDIT_LOGQL_QUERIES, auditLogql } from "./loki";
import { list, record, str } from "./policy/docker";
import {
  AUDIT_COLLECTOR,
  GATEWAY_ROLES,
  ModelContainer,
  SecretHolding,
  SecretKind,
  StackModel,
  rotationCommand,
  secretHoldings,
  shellWord,
  stackModel,
  uploadedFile,
} from "./runbooks-model";

export const RUNBOOK_DIR = "runbooks";

export interface Runbook {
  /** File name inside RUNBOOK_DIR, e.g. "05-host-compromise.md". */
  readonly file: string;
  readonly title: string;
  readonly markdown: string;
}

/** OWASP Top 10 for LLM Applications 2025. */
const OWASP: Record<string, string> = {
  LLM01: "Prompt Injection",
  LLM02: "Sensitive Information Disclosure",
  LLM03: "Supply Chain",
  LLM04: "Data and Model Poisoning",
  LLM06: "Excessive Agency",
  LLM08: "Vector and Embedding Weaknesses",
  LLM10: "Unbounded Consumption",
};

/** Markdown with shell blocks. */
class Doc {
  private readonly lines: string[] = [];
  public h(level: number, text: string): this {
    this.lines.push("", `${"#".repeat(level)} ${text}`, "");
    return this;
  }
  public p(text: string): this {
    this.lines.push(text, "");
    return this;
  }
  public items(items: string[]): this {
    if (items.length > 0) this.lines.push(...items.map((i) => `- ${i}`), "");
    return this;
  }
  public checklist(items: string[]): this {
    this.lines.push(...items.map((i) => `- [ ] ${i}`), "");
    return this;
  }
  public sh(commands: string[]): this {
    if (commands.length > 0) this.lines.push("```sh", ...commands, "```", "");
    return this;
  }
  /** A fenced block of another language (never run as shell by the runbook checks). */
  public block(lang: string, lines: string[]): this {
    if (lines.length > 0) this.lines.push(`\`\`\`${lang}`, ...lines, "```", "");
    return this;
  }
  public toString(): string {
    return `${this.lines.join("\n").replace(/^\n+/, "").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
  }
}

const code = (s: string) => `\`${s}\``;

/** What every runbook reads from the stack, computed once. */
interface Context {
  readonly m: StackModel;
  readonly secrets: SecretHolding[];
  readonly sidecars: ModelContainer[];
  readonly edges: ModelContainer[];
  /** Long-running services (started, not jobs), loaders excluded. */
  readonly services: ModelContainer[];
  readonly gateways: Gateway[];
}

/** One ApiGateway: LiteLLM, the containers around it, and its apps' keys, bundles and limits. */
interface Gateway {
  readonly litellm: ModelContainer;
  readonly proxy?: ModelContainer;
  readonly job?: ModelContainer;
  readonly db?: ModelContainer;
  readonly dbPassword?: SecretHolding;
  /** The spend exporter's grants job (it logs in with the Postgres password too). */
  readonly grants?: ModelContainer;
  readonly apps: GatewayApp[];
}

interface GatewayApp {
  readonly name: string;
  readonly key: SecretHolding;
  readonly bundle?: SecretHolding;
  /** From the reconcile job's keys.json: what LiteLLM enforces for the key. */
  readonly limits?: { rpmLimit: number | null; tpmLimit: number | null; maxBudget: number | null; budgetDuration: string | null; models: string[] };
}

function contextOf(m: StackModel): Context {
  const running = m.containers.filter((c) => c.role !== ServiceRole.CONFIG_LOADER && c.started);
  const secrets = secretHoldings(m);
  return {
    m,
    secrets,
    sidecars: m.withRole(ServiceRole.SIDECAR),
    edges: m.withRole(ServiceRole.EDGE),
    services: running.filter((c) => c.config.must_run !== false),
    gateways: gatewaysOf(m, secrets),
  };
}

/** The stack's ApiGateways, read from their roles, namespaces and the secrets they hold. */
function gatewaysOf(m: StackModel, secrets: SecretHolding[]): Gateway[] {
  const dirOf = (address: string, up: number) => (m.byAddress(address)?.path ?? "").split("/").slice(0, -up).join("/");
  return m.withRole(GATEWAY_ROLES.GATEWAY).map((litellm) => {
    const inNamespace = (role: string) => m.containers.find((x) => x.role === role && x.namespaceOf === litellm.name);
    const job = inNamespace(GATEWAY_ROLES.KEYS);
    const dbPassword = secrets.find((h) => h.kind === SecretKind.PASSWORD && /Postgres password/.test(h.title) && h.containers.includes(litellm.name));
    const db = m.withRole(GATEWAY_ROLES.DATABASE).find((x) => dbPassword?.containers.includes(x.name));
    const loader = job && m.containers.find((l) => l.role === ServiceRole.CONFIG_LOADER && l.mounts.some((x) => job.mounts.some((y) => y.containerPath === CONFIG_DIR && y.source === x.source)));
    let declared: { alias: string; rpmLimit: number | null; tpmLimit: number | null; maxBudget: number | null; budgetDuration: string | null; models: string[] }[] = [];
    try {
      declared = (JSON.parse((loader && uploadedFile(loader, "keys.json")) ?? "{}") as { keys?: typeof declared }).keys ?? [];
    } catch {
      declared = [];
    }
    const apps = secrets
      .filter((h) => h.kind === SecretKind.APP_KEY && h.app !== undefined && job !== undefined && h.containers.includes(job.name))
      .map((key) => ({
        name: key.app!,
        key,
        bundle: secrets.find((b) => b.kind === SecretKind.APP_CLIENT_KEY && b.app === key.app && dirOf(b.source, 2) === dirOf(key.source, 1)),
        limits: declared.find((d) => d.alias === key.app),
      }));
    return { litellm, proxy: inNamespace(GATEWAY_ROLES.PROXY), job, grants: inNamespace(GATEWAY_ROLES.SPEND_GRANTS), db, dbPassword, apps };
  });
}

// ------------------------------------------------------------------------------------------------
// Shared steps
// ------------------------------------------------------------------------------------------------

function evidenceDir(m: StackModel): string {
  return `E="evidence/${m.stackId}-$(date -u +%Y%m%dT%H%M%SZ)"; mkdir -p "$E" && chmod 700 "$E"`;
}

/** `docker logs` and `docker inspect` of the named containers into $E. */
function saveLogs(names: string[]): string[] {
  if (names.length === 0) return [];
  return [
    `for c in ${names.join(" ")}; do`,
    `  docker logs --timestamps "$c" > "$E/$c.log" 2>&1; docker inspect "$c" > "$E/$c.inspect.json"`,
    "done",
  ];
}

/** The audit trail: the sidecars' JSON access lines (stdout), filtered with jq. */
function auditQuery(c: Context, jqFilter: string, tail = "", raw = false): string[] {
  if (c.sidecars.length === 0) return [];
  return [`for c in ${c.sidecars.map((s) => s.name).join(" ")}; do docker logs "$c" 2>/dev/null | grep '^{'; done | jq ${raw ? "-r" : "-c"} '${jqFilter}'${tail}`];
}

/** The name the sidecars log as `caller` for a container that calls them (its identity's CN without "zta-"). */
function auditCaller(c: Context, container: string): string | undefined {
  const flow = c.sidecars.flatMap((s) => s.callers).find((f) => f.caller === container && f.identity);
  return flow?.identity?.replace(/^zta-/, "");
}

/** The AuditLog's collector and the volume of its day files, when the stack has one. */
function auditCollector(c: Context): { collector: ModelContainer; volume: string } | undefined {
  const collector = c.m.withRole(AUDIT_COLLECTOR)[0];
  const data = collector?.mounts.find((x) => x.containerPath === AUDIT_DATA_DIR);
  return collector && data ? { collector, volume: data.source } : undefined;
}

/**
 * Records of the last 24 h from the copied day files. `received` is the collector's UTC receive time
 * ("2026-01-01T10:00:00.123+00:00"), so a string comparison with a UTC time of the same layout orders them.
 */
const LAST_24H =
  `last24h() { cat "$A/$(date -u -d yesterday +%F).jsonl" "$A/$(date -u +%F).jsonl" 2>/dev/null | ` +
  `jq -c --arg since "$(date -u -d '24 hours ago' +%FT%T)" 'select(.received >= $since)'; }`;

interface AuditQueries {
  /** Everything one identity (e-mail, app, certificate CN) did in the last 24 h. */
  readonly identity?: boolean;
  /** Every call answered with a 4xx or 5xx. */
  readonly refused?: boolean;
  /** Containers whose calls to the inference sidecars are wanted. */
  readonly callsOf?: ModelContainer[];
  /** Containers whose own lines are wanted. */
  readonly linesOf?: ModelContainer[];
  /** Tool runs that did not exit 0 (LogQL only: the jq lines select them by container). */
  readonly toolRuns?: boolean;
}

/** Whether a Grafana of the stack is provisioned with the trail's Loki datasource (Observability beside an AuditLog with Loki). */
function grafanaReadsLoki(c: Context): boolean {
  return c.m.containers.some(
    (x) => x.role === ServiceRole.CONFIG_LOADER && (uploadedFile(x, "loki.yaml") ?? "").includes(JSON.stringify(GRAFANA_LOKI_DATASOURCE_UID)),
  );
}

/** The LogQL equivalents of the jq lines, for Grafana's Explore (the saved queries of lib/loki.ts). */
function auditLogqlSteps(d: Doc, c: Context, q: AuditQueries): void {
  if (!grafanaReadsLoki(c)) return;
  const ids = [...(q.identity ? ["identity"] : []), ...(q.refused ? ["refused"] : []), ...(q.toolRuns ? ["tool-failures"] : []), "config-changes", "trail-reads"];
  d.p(
    `The same trail is in Loki: in Grafana, Explore → datasource ${code(GRAFANA_LOKI_DATASOURCE_NAME)} (or the dashboard "Audit trail", whose panels are these queries). ` +
      "Set the time range (the last 24 h for the first one), then run:",
  );
  for (const id of ids) {
    const query = AUDIT_LOGQL_QUERIES.find((x) => x.id === id)!;
    d.p(`${query.title}: ${query.question}`);
    d.block("logql", [auditLogql(id, "<an e-mail, an app name or a certificate CN>")]);
  }
  d.p("Each query is recorded in the trail too: an `audit.read` line with Grafana's certificate and the query; Grafana's proxy logs which user asked.");
}

/**
 * The AuditLog's day files: copied out of the collector, then queried with jq. A record is
 * `{received, container, host, stream, event | message}`: `event` is the container's JSON line (the sidecars'
 * `zta_audit` access log: identity, caller, client_cert, route, status...; the gateway proxy's: app, uri, status),
 * `message` a line that is not JSON. syslog-ng 3.x stores numbers as strings, 4.x as numbers: `tonumber` both.
 */
function auditTrail(d: Doc, c: Context, q: AuditQueries): void {
  const a = auditCollector(c);
  if (!a) return;
  d.p(
    `The audit trail (AuditLog): ${code(a.collector.name)} keeps every container's log lines, one JSON record per line ` +
      "(`received`, `container`, `host`, `stream`, and the line parsed as `event` or kept as `message`), " +
      `in a file per UTC day, ${code(`${AUDIT_DATA_DIR}/YYYY-MM-DD.jsonl`)} on the volume ${code(a.volume)}. Copy it, then query the copy:`,
  );
  const lines = [`A="$E/audit-$(date -u +%F)"; docker cp ${a.collector.name}:${AUDIT_DATA_DIR} "$A"   # volume ${a.volume}`];
  if (q.identity) {
    lines.push(
      LAST_24H,
      "ID='<an e-mail, an app name or a certificate CN>'",
      `last24h | jq -c --arg id "$ID" 'select([(.event | .. | strings), (.message // empty)] | any(contains($id)))' > "$E/audit-identity-24h.jsonl"   # everything it did in the last 24 h`,
    );
  }
  if (q.refused) lines.push(`cat "$A"/*.jsonl | jq -c 'select(((.event.status // 0 | tonumber?) // 0) >= 400)' > "$E/audit-refused.jsonl"   # every failed or refused call (HTTP 4xx, 5xx)`);
  for (const x of q.callsOf ?? []) {
    const caller = auditCaller(c, x.name);
    if (caller) lines.push(`cat "$A"/*.jsonl | jq -c --arg caller ${caller} 'select(.event.caller == $caller)' > "$E/audit-calls-${x.name}.jsonl"   # every call of ${x.name} to the inference sidecars`);
  }
  for (const x of q.linesOf ?? []) lines.push(`cat "$A"/*.jsonl | jq -c --arg c ${x.name} 'select(.container == $c)' > "$E/audit-lines-${x.name}.jsonl"   # every line ${x.name} wrote`);
  d.sh(lines);
  auditLogqlSteps(d, c, q);
}

function stateSnapshot(): string[] {
  return ['terraform state pull > "$E/terraform.tfstate" && chmod 600 "$E/terraform.tfstate"   # holds every private key: keep it encrypted'];
}

/** Containers whose removal or replacement under lockdown takes their `docker logs` with them. */
function replacedByLockdown(c: Context): ModelContainer[] {
  return c.m.containers.filter(
    (x) => x.count !== undefined || record(x.config.dynamic).ports !== undefined || JSON.stringify(x.config.command ?? "").includes("var.lockdown"),
  );
}

/** What `-var lockdown=true` withdraws in this stack, read from the resources Lockdown adjusted. */
function lockdownEffects(c: Context): string[] {
  const out: string[] = [];
  for (const e of c.edges) {
    const dyn = record(record(record(e.config.dynamic).ports).content);
    if (dyn.internal !== undefined) out.push(`the host port ${code(`${String(dyn.ip)}:${String(dyn.external)}`)} of ${code(e.name)} (${code(e.address)} is replaced without it)`);
    if (JSON.stringify(e.config.command ?? "").includes("var.lockdown")) {
      const loader = loaderOf(c, e);
      const full = caddySites(loader && uploadedFile(loader, "Caddyfile"));
      const locked = caddySites(loader && uploadedFile(loader, "Caddyfile.locked"));
      const sites = full.filter((x) => !locked.includes(x));
      out.push(`the edge sites ${sites.map(code).join(", ")} of ${code(e.name)}: it serves ${code(`${CONFIG_DIR}/Caddyfile.locked`)}, the API site only`);
    }
  }
  for (const t of c.m.containers.filter((x) => x.role === ServiceRole.TAILSCALE && x.count !== undefined)) {
    out.push(`the tailnet node ${code(t.name)} (${code(t.address)}, count 0; its state volume stays)`);
  }
  for (const t of c.m.resources.filter((r) => r.type === "cloudflare_zero_trust_tunnel_cloudflared_config" && JSON.stringify(r.config).includes("var.lockdown"))) {
    out.push(`every ingress rule of ${code(t.address)} but the catch-all ${code("http_status:404")}`);
  }
  return out;
}

/** The config loader whose volume the container mounts at CONFIG_DIR. */
function loaderOf(c: Context, container: ModelContainer): ModelContainer | undefined {
  const config = container.mounts.find((m) => m.containerPath === CONFIG_DIR);
  return config && c.m.containers.find((l) => l.role === ServiceRole.CONFIG_LOADER && l.mounts.some((m) => m.source === config.source));
}

/** The site addresses of a Caddyfile (top-level blocks), e.g. "https://chat.example.com:8443". */
export function caddySites(caddyfile: string | undefined): string[] {
  return (caddyfile ?? "")
    .split("\n")
    .filter((l) => /^\S.*\{\s*$/.test(l) && !l.startsWith("{"))
    .flatMap((l) => l.replace(/\{\s*$/, "").split(",").map((a) => a.trim()))
    .filter((a) => a.startsWith("https://"));
}

/** The exposures of a stack without Lockdown: the containers to stop by hand. */
function exposureContainers(c: Context): ModelContainer[] {
  return c.m.containers.filter((x) => x.role === ServiceRole.EDGE || x.role === ServiceRole.TAILSCALE || x.role === ServiceRole.CLOUDFLARED);
}

function lockdownStep(d: Doc, c: Context, heading: string): void {
  d.h(3, heading);
  if (c.m.hasLockdown) {
    const replaced = replacedByLockdown(c);
    d.p("One apply withdraws every exposure and keeps every volume, key and certificate:").items(lockdownEffects(c));
    d.sh([
      evidenceDir(c.m),
      ...(replaced.length ? ["# these containers are replaced or removed by the lockdown: their logs go with them, save them first", ...saveLogs(replaced.map((x) => x.name))] : []),
      "terraform apply -var lockdown=true",
      ...(c.edges.some((e) => record(record(e.config.dynamic).ports).content !== undefined) ? ["ss -ltn | grep -E ':(" + portsOf(c).join("|") + ")\\b' || echo 'no host port published'"] : []),
    ]);
  } else {
    const names = exposureContainers(c).map((x) => x.name);
    d.p(
      "This stack has no `lockdown` variable (add `new Lockdown(stack, \"lockdown\")` to the stack file). " +
        "Until then, stop the containers that expose it (the next `terraform apply` starts them again):",
    );
    d.sh([evidenceDir(c.m), ...saveLogs(names), ...(names.length ? [`docker stop ${names.join(" ")}`] : [])]);
  }
}

function portsOf(c: Context): string[] {
  return c.edges.map((e) => String(record(record(record(e.config.dynamic).ports).content).external ?? record(list(e.config.ports)[0]).external)).filter((p) => p !== "undefined");
}

function unlockStep(d: Doc, c: Context): void {
  if (!c.m.hasLockdown) return;
  d.p("When the cause is removed, restore every exposure in one apply:");
  d.sh(["terraform apply -var lockdown=false", `docker ps --filter label=zta.role --format '{{.Names}}\\t{{.Status}}'`]);
}

function rotate(d: Doc, holdings: SecretHolding[], intro: string): void {
  const cmd = rotationCommand(holdings.filter((h) => h.kind !== SecretKind.BACKUP_PASSWORD));
  if (!cmd) return;
  d.p(intro).sh([cmd]);
}

function restoreSteps(d: Doc, c: Context): void {
  const jobs = c.m.withRole(ServiceRole.BACKUP);
  if (jobs.length === 0) {
    d.p("This stack has no EncryptedBackup: data volumes can only be kept, not restored. Add one before the next incident.");
    return;
  }
  const copier = c.m.resources.find((r) => r.type === "docker_image" && /alpine/.test(str(r.config.name) ?? ""));
  for (const job of jobs) {
    const password = c.secrets.find((s) => s.kind === SecretKind.BACKUP_PASSWORD && s.containers.includes(job.name));
    const repoMount = job.mounts.find((x) => x.containerPath === "/repo");
    const loader = loaderOf(c, job);
    const repoFile = loader ? uploadedFile(loader, "repository")?.trim() : undefined;
    const repository = repoMount ? repoMount.source : repoFile && !repoFile.includes("${") ? repoFile : undefined;
    const target = `/srv/restore/${job.name}`;
    const sources = job.mounts.filter((x) => x.containerPath.startsWith("/backup/sources/"));
    d.p(`Restore from ${code(job.name)} (restic; the password is the output ${code(password?.outputs[0] ?? "?")}):`);
    const lines = [
      ...(password?.outputs[0] ? [`terraform output -raw ${password.outputs[0]} > /root/restic-password-${job.name} && chmod 600 /root/restic-password-${job.name}`] : []),
      repository
        ? `export RESTIC_REPOSITORY=${shellWord(repository)} RESTIC_PASSWORD_FILE=/root/restic-password-${job.name}`
        : `export RESTIC_REPOSITORY_FILE=/root/repository-${job.name} RESTIC_PASSWORD_FILE=/root/restic-password-${job.name}   # the URL is the file 'repository' in ${loader?.mounts[0]?.source ?? "its config volume"}`,
      `restic snapshots --host ${job.name} --tag zta-backup`,
      `restic restore latest --host ${job.name} --tag zta-backup --target ${target}   # or a snapshot id from before the incident`,
      `(cd ${target}/backup && sha256sum -c dumps/manifest.sha256)`,
    ];
    for (const s of sources) {
      const sourceName = s.containerPath.slice("/backup/sources/".length);
      const users = c.m.containers.filter((x) => x.name !== job.name && x.role !== ServiceRole.CONFIG_LOADER && x.mounts.some((y) => y.source === s.source));
      if (!copier) continue;
      lines.push(
        ...(users.length ? [`docker stop ${users.map((u) => u.name).join(" ")}`] : []),
        `docker run --rm --network none --user 0:0 -v ${s.source}:/data -v ${target}/backup/sources/${sourceName}:/r:ro --entrypoint sh ${str(copier.config.name)} -c 'cp -a /r/. /data/'`,
        ...(users.length ? [`docker start ${users.map((u) => u.name).join(" ")}`] : []),
      );
    }
    d.sh(lines);
    d.p("SQLite and Postgres sources are restored from their consistent dumps in `dumps/` (docs/backup.md, \"Restore procedure\").");
  }
}

function owasp(d: Doc, ids: string[]): void {
  d.h(2, "OWASP Top 10 for LLM Applications (2025)").items(ids.map((id) => `${id} ${OWASP[id]}`));
}

function postIncident(d: Doc, extra: string[]): void {
  d.h(2, "Post-incident checklist").checklist([
    "Timeline written from the evidence folder (first sign, detection, containment, recovery), times in UTC",
    "Evidence folder (state snapshot included) encrypted and stored off this host",
    ...extra,
    "Every rotated credential redistributed and the old ones confirmed dead",
    "The runbook regenerated (`cdktf synth`) if the stack file changed, and the change reviewed",
    "Retrospective held: what would have detected it sooner; one alert or test added",
  ]);
}

function header(d: Doc, c: Context, title: string, trigger: string, severity: string): void {
  d.h(1, title);
  d.p(
    `Stack ${code(c.m.stackId)}. Generated by \`cdktf synth\` from this stack's cdk.tf.json: run the commands from ${code(`cdktf.out/stacks/${c.m.stackId}`)} ` +
      "(terraform) on the Docker host (docker). Regenerate after every change of the stack file.",
  );
  d.h(2, "Trigger and severity").p(trigger).p(`Severity: ${severity}`);
}

function holdersLine(h: SecretHolding): string {
  const where = [
    h.containers.length ? `containers ${h.containers.map(code).join(", ")}` : "",
    h.volumes.length ? `volumes ${h.volumes.map(code).join(", ")}` : "",
    h.outputs.length ? `outputs ${h.outputs.map(code).join(", ")}` : "",
  ].filter((x) => x !== "");
  return `${h.title}: ${code(h.source)}; held by ${where.length ? where.join("; ") : "Terraform state only"}${h.note ? `. ${h.note}` : ""}`;
}

// ------------------------------------------------------------------------------------------------
// The six runbooks
// ------------------------------------------------------------------------------------------------

function agentSecretLeak(c: Context): Runbook | undefined {
  const sandboxes = c.m.withRole(ServiceRole.SANDBOX);
  if (sandboxes.length === 0) return undefined;
  const d = new Doc();
  header(d, c, "Agent leaked secrets via a tool call", "Agent code run by a SandboxRunner printed, wrote or sent a secret (found in its output, a tool-call transcript, a workspace diff or egress logs).", "high; critical if the secret is a credential of this stack or the agent had egress.");
  owasp(d, ["LLM06", "LLM02", "LLM01"]);
  d.h(2, "Containment");
  for (const s of sandboxes) {
    d.p(`${code(s.name)} (${code(s.address)}), network ${code(str(s.config.network_mode) ?? (s.networks.join(", ") || "bridge"))}:`);
    d.sh([evidenceDir(c.m), ...saveLogs([s.name]), `docker kill ${s.name} 2>/dev/null || true`, ...s.networks.map((n) => `docker network disconnect -f ${n} ${s.name}`)]);
  }
  d.h(2, "Evidence to preserve");
  const workspaces = sandboxes.flatMap((s) => s.mounts.filter((x) => x.source.startsWith("/")).map((x) => ({ s, x })));
  d.sh([
    ...workspaces.map(({ s, x }) => `tar -C ${shellWord(x.source)} -czf "$E/${s.name}-workspace.tgz" .   # ${x.containerPath}${x.readOnly ? " (read-only)" : " (writable: the agent may have changed it)"}`),
    ...stateSnapshot(),
    ...sandboxes.flatMap((s) => {
      const caller = auditCaller(c, s.name);
      return caller ? auditQuery(c, `select(.caller == "${caller}")`, ` > "$E/audit-${s.name}.jsonl"`) : [];
    }),
  ]);
  auditTrail(d, c, { callsOf: sandboxes, linesOf: sandboxes, toolRuns: true });
  d.h(2, "What it could leak");
  for (const s of sandboxes) {
    const held = c.secrets.filter((h) => h.containers.includes(s.name));
    d.p(
      held.length
        ? `${code(s.name)} received these secrets of the stack:`
        : `${code(s.name)} received no secret of this stack (no env entry, file or mount of it refers to one): what it could leak is its workspace and what its tool calls returned.`,
    ).items(held.map(holdersLine));
  }
  d.h(2, "Eradication and recovery");
  const held = c.secrets.filter((h) => sandboxes.some((s) => h.containers.includes(s.name)));
  rotate(d, held, "Rotate every secret the sandbox held:");
  d.items([
    "Rotate outside credentials the agent saw (API keys in its task, tokens in the workspace) at their issuer.",
    "Review the tool definitions that let the model reach the secret; remove the tool or the secret from its reach (`allowedSecretEnv`).",
    "Re-run the job only from a reviewed workspace (`terraform apply` re-creates it).",
  ]);
  postIncident(d, ["Each leaked secret listed with where it went (output, file, network) and confirmed rotated"]);
  return { file: "01-agent-secret-leak.md", title: "Agent leaked secrets via a tool call", markdown: d.toString() };
}

function ragExtraction(c: Context): Runbook | undefined {
  const uis = c.m.withRole(ServiceRole.CHAT_UI);
  if (uis.length === 0) return undefined;
  const proxies = c.m.withRole(ServiceRole.CHAT_PROXY);
  const tunnels = c.m.withRole(ServiceRole.CLOUDFLARED);
  const d = new Doc();
  header(d, c, "Prompt injection extracted a RAG document", "A chat answer quoted a knowledge-base document (or part of one) to a user who should not read it, or a document/prompt steered the model into revealing one.", "high; critical for regulated or secret documents.");
  owasp(d, ["LLM01", "LLM08", "LLM02"]);
  d.h(2, "Containment");
  d.p("Take the chat UI away from users; the inference API keeps serving:");
  d.sh([evidenceDir(c.m), ...saveLogs([...uis, ...proxies, ...tunnels].map((x) => x.name)), `docker stop ${uis.map((u) => u.name).join(" ")}`]);
  if (c.m.hasLockdown) d.p("If the injection came through the tunnel or the edge site and may recur, also run the lockdown of `05-host-compromise.md` (it withdraws the chat site and the tunnel's ingress).");
  d.h(2, "Evidence to preserve");
  const lines: string[] = [];
  for (const u of uis) {
    for (const v of u.mounts.filter((x) => !x.readOnly && x.volumeAddress)) {
      lines.push(`docker cp ${u.name}:${v.containerPath} "$E/${v.source}"   # volume ${v.source}: chats, uploaded files, the vector store`);
      lines.push(`sqlite3 "$E/${v.source}/webui.db" "select id, user_id, title, datetime(updated_at, 'unixepoch') from chat order by updated_at desc limit 50;"`);
      lines.push(`sqlite3 "$E/${v.source}/webui.db" "select id, user_id, filename, datetime(created_at, 'unixepoch') from file order by created_at desc;"`);
    }
  }
  for (const p of proxies) {
    const caller = auditCaller(c, p.name);
    if (caller) lines.push(...auditQuery(c, `select(.caller == "${caller}")`, ` > "$E/audit-${p.name}.jsonl"`));
  }
  d.sh(lines);
  auditTrail(d, c, { callsOf: proxies, linesOf: [...uis, ...proxies] });
  d.p("The audit lines give who asked (identity), when, and the size of each answer; the chat table gives the conversation with the extracting prompt.");
  d.h(2, "Eradication and recovery");
  d.items([
    "Remove or re-scope the document in its knowledge collection (Workspace → Knowledge): only the groups that may read it.",
    "Find the injected text (a document, a web page, a prior message) and remove it; search the other collections for the same text.",
    "Rotate anything the document contained (credentials, personal data notifications as required).",
  ]);
  rotate(d, c.secrets.filter((h) => h.kind === SecretKind.PASSWORD && uis.some((u) => h.containers.includes(u.name))), "End every chat session (users sign in again):");
  restoreSteps(d, c);
  d.sh([`docker start ${uis.map((u) => u.name).join(" ")}`]);
  unlockStep(d, c);
  postIncident(d, ["Who read the document, and which collections share the injected text", "Knowledge access reviewed for every collection"]);
  return { file: "02-rag-document-extraction.md", title: "Prompt injection extracted a RAG document", markdown: d.toString() };
}

/** Runbook 3's steps for an ApiGateway's apps: revoke, rotate, re-issue the bundle. */
function gatewayAppRevocation(d: Doc, g: Gateway): void {
  if (g.apps.length === 0 || !g.job) return;
  const job = g.job.name;
  d.h(3, `An app's virtual key or client bundle (ApiGateway ${g.litellm.name})`);
  d.p(
    `An app reaches the gateway with its client certificate and its virtual key. The edge keeps no revocation list for the certificate; ` +
      `LiteLLM checks the key on every call. So the key is what shuts an app out: on every apply the reconcile job ${code(job)} ` +
      "registers the keys of `apps` in the stack file (and their limits) and revokes every key no longer declared.",
  );
  for (const app of g.apps) {
    const keyOut = app.key.outputs[0];
    d.p(`**${app.name}** (key ${code(app.key.source)}, output ${code(keyOut ?? "?")}):`);
    d.items([
      `For good: remove the app ${code(app.name)} from \`apps\` of the ApiGateway in the stack file and run \`terraform apply\`. ` +
        `The job is replaced, runs again and revokes the key (its log: \`reconcile: revoked ${app.name}\`); the app's key, certificate and outputs are destroyed in the same apply.`,
      "Now, keeping the app: give its key a new value. The job revokes the old key before it registers the new one; hand the app the new key:",
    ]);
    d.sh([
      `terraform apply -replace=${shellWord(app.key.source)}`,
      `docker logs ${job} 2>&1 | grep -E 'reconcile: (revoked previous key of ${app.name}|done)'   # it runs after the apply: wait for 'done'`,
      ...(keyOut ? [`terraform output -raw ${keyOut} > ${keyOut}.key && chmod 600 ${keyOut}.key   # to the app's owner over a private channel, then shred -u`] : []),
    ]);
    if (app.bundle) {
      const out = app.bundle.outputs[0];
      d.p(`A leaked client bundle: re-issue its key and certificate (rotate the virtual key too: the old certificate still passes the edge until it expires):`);
      d.sh([
        rotationCommand([app.bundle])!,
        ...(out ? [`terraform output -json ${out} | jq -r .certificate_pem,.private_key_pem,.ca_certificate_pem > ${out}.pem && chmod 600 ${out}.pem`] : []),
      ]);
    }
  }
}

/** Runbook 6's levers at an ApiGateway: the limits in force per app, and how to change them. */
function gatewayLimits(g: Gateway): string[] {
  return g.apps.map((a) => {
    const l = a.limits;
    const parts = [
      l?.rpmLimit != null ? `${l.rpmLimit} requests per minute` : "no request limit",
      l?.tpmLimit != null ? `${l.tpmLimit} tokens per minute` : "no token limit",
      l?.maxBudget != null ? `budget ${l.maxBudget} USD per ${l.budgetDuration ?? "?"}` : "no budget",
    ];
    return `app ${code(a.name)} at ${code(g.litellm.name)}: ${parts.join(", ")} (\`requestsPerMinute\`, \`tokensPerMinute\`, \`monthlyBudgetUsd\` of its entry in \`apps\`); above them LiteLLM refuses the call`;
  });
}

function credentialLeak(c: Context): Runbook {
  const d = new Doc();
  header(d, c, "Leaked operator or app credential", "An operator's client bundle, a service's client key, or an identity-provider session (cookie, bearer token) is in the wrong hands: a lost laptop, a key in a repository, a session token in a log.", "high.");
  owasp(d, ["LLM02", "LLM10"]);
  const operators = c.secrets.filter((h) => h.kind === SecretKind.OPERATOR_KEY);
  const clients = c.secrets.filter((h) => h.kind === SecretKind.LEAF_KEY && /client key/.test(h.title));
  const ca = c.secrets.filter((h) => h.kind === SecretKind.CA_KEY);
  const gate = c.m.withRole(ServiceRole.GATE);
  const sessions = c.secrets.filter((h) => h.kind === SecretKind.PASSWORD && /session/.test(h.title));
  d.h(2, "Containment");
  if (gate.length) {
    d.p("An IdP identity or session: disable the user (or the client) at the identity provider first, then end every session signed by this stack:");
    rotate(d, sessions, "");
    d.p("Bearer JWTs the gate accepts stay valid until their `exp`: revoke them at the identity provider (or shorten their lifetime).");
  }
  if (operators.length || clients.length) {
    d.p(
      "A client certificate: the edge and the sidecars check the chain and the subject, and keep no revocation list, so a leaked certificate works until it expires " +
        "(`validity_period_hours` of its `tls_locally_signed_cert`). Re-issuing the leaf alone does not stop the old one: remove the operator from `operators` in the stack file, then rotate the CA, which re-signs everything it signed:",
    );
    rotate(d, ca, "");
    if (operators.length) d.p("The operators' bundles:").items(operators.map(holdersLine));
    if (clients.length) d.p("Service client identities (usable only from inside their trust network):").items(clients.map(holdersLine));
  }
  for (const g of c.gateways) gatewayAppRevocation(d, g);
  d.h(2, "Evidence to preserve");
  const gatewayParts = c.gateways.flatMap((g) => [g.litellm, ...(g.proxy ? [g.proxy] : []), ...(g.job ? [g.job] : [])]);
  const names = [...c.edges, ...gate, ...c.sidecars, ...gatewayParts].map((x) => x.name);
  d.sh([
    evidenceDir(c.m),
    ...saveLogs(names),
    ...stateSnapshot(),
    ...auditQuery(c, `select((.identity + " " + .client_cert + " " + .edge_client_cert) | test("<name or CN>"))`, ` > "$E/audit-identity.jsonl"`),
  ]);
  auditTrail(d, c, { identity: true, refused: true });
  d.h(2, "Eradication and recovery");
  if (operators.length) {
    d.p("Hand every remaining operator the new bundle (one per operator):");
    d.sh(operators.flatMap((o) => o.outputs.map((out) => `terraform output -json ${out} | jq -r .certificate_pem,.private_key_pem,.ca_certificate_pem > ${out}.pem`)));
  }
  d.items(["Find how it leaked (the device, the repository, the log) and close it.", "Check the audit lines above for requests after the leak: what was asked, by whom, from where."]);
  postIncident(d, ["The leaked identity's requests after the leak listed and assessed"]);
  return { file: "03-credential-leak.md", title: "Leaked operator or app credential", markdown: d.toString() };
}

function internalSecretLeak(c: Context): Runbook {
  const d = new Doc();
  header(d, c, "Leaked internal secret", "A secret that never leaves the stack was seen outside it: the vLLM API key, a cookie or session secret, a tunnel token, a tailnet key, a service's private key, or the CA key (a state file copied, a config volume read, a backup of the host leaked).", "critical for the CA key or the state file; high otherwise.");
  owasp(d, ["LLM02", "LLM03"]);
  d.h(2, "Containment");
  d.p("Every secret of this stack, where it lives, and the command that rotates it:");
  for (const h of c.secrets) {
    d.p(`**${h.title}** — ${code(h.source)}`).items([
      h.containers.length ? `held by ${h.containers.map(code).join(", ")}` : "held by Terraform state only",
      ...(h.volumes.length ? [`written to ${h.volumes.map(code).join(", ")}`] : []),
      ...(h.outputs.length ? [`handed out by ${h.outputs.map(code).join(", ")}`] : []),
      ...(h.note ? [h.note] : []),
    ]);
    if (h.kind !== SecretKind.BACKUP_PASSWORD) d.sh(rotationCommand([h]) ? [rotationCommand([h])!] : []);
  }
  for (const g of c.gateways) gatewaySecrets(d, c, g);
  const everything = c.secrets.filter((h) => h.kind !== SecretKind.BACKUP_PASSWORD && h.replace.length > 0);
  d.h(3, "Rotate every secret at once");
  d.p("When it is unclear what leaked (a state file, a host backup), rotate everything Terraform generates in one apply; then the variables at their issuers:");
  d.sh([rotationCommand(everything) ?? "# nothing generated"]);
  if (c.gateways.some((g) => g.db && g.dbPassword)) {
    d.p("Then set the gateway's new Postgres password in the database: the `docker exec` and the restarts under \"The gateway's secrets\" above.");
  }
  const vars = c.secrets.filter((h) => h.kind === SecretKind.VARIABLE);
  if (vars.length) d.items(vars.map((v) => `${code(v.source)}: ${v.note}`));
  backupPasswordRotation(d, c);
  d.h(2, "Evidence to preserve");
  d.sh([evidenceDir(c.m), ...stateSnapshot(), ...saveLogs(c.services.map((s) => s.name))]);
  d.h(2, "Eradication and recovery");
  d.items([
    "Find the copy: who could read the state backend, the config volumes (`docker volume inspect`), the host's backups.",
    "Move state to an encrypted remote backend if it was local (README, \"Protect the state\").",
  ]);
  postIncident(d, ["Where the copy went, and every secret it contained, rotated"]);
  return { file: "04-internal-secret-leak.md", title: "Leaked internal secret", markdown: d.toString() };
}

/** The value of `NAME=` in a container's env. */
function envOf(container: ModelContainer, name: string): string | undefined {
  const entry = list(container.config.env)
    .map((e) => String(e))
    .find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/** Runbook 4's gateway steps: the Postgres password (two places), the master key (one), the salt key (never). */
function gatewaySecrets(d: Doc, c: Context, g: Gateway): void {
  const held = (re: RegExp) => c.secrets.find((h) => re.test(h.title) && h.containers.includes(g.litellm.name));
  const master = held(/LiteLLM master key/);
  const salt = held(/LiteLLM salt key/);
  d.h(3, `The gateway's secrets (${g.litellm.name})`);
  if (g.db && g.dbPassword) {
    const db = g.db;
    const user = envOf(db, "POSTGRES_USER") ?? "postgres";
    const database = envOf(db, "POSTGRES_DB") ?? user;
    const file = envOf(db, "POSTGRES_PASSWORD_FILE") ?? `${CONFIG_DIR}/db-password`;
    const data = db.mounts.find((x) => !x.readOnly && x.volumeAddress);
    const restart = [g.litellm, ...(g.proxy ? [g.proxy] : [])].map((x) => x.name);
    d.p(
      `**The Postgres password** (${code(g.dbPassword.source)}). Postgres keeps the role's password in its cluster${data ? ` on ${code(data.source)}` : ""}: ` +
        `the image reads ${code(file)} (POSTGRES_PASSWORD_FILE) only when it creates the cluster in an empty data directory. ` +
        "So the apply alone gives LiteLLM a password Postgres refuses, and the leaked one still opens the database. In this order: " +
        `the apply writes the new password and replaces ${code(db.name)} and LiteLLM; then set it in the database from the file the new container mounts ` +
        `(local socket, trusted inside the container; the password is letters and digits only); then restart LiteLLM${g.proxy ? " and the proxy in its namespace" : ""}` +
        `${g.job ? " and run the key job again" : ""}${g.grants ? " and the spend grants job (it logs in with the same password)" : ""}:`,
    );
    d.sh([
      `terraform apply -replace=${shellWord(g.dbPassword.source)}`,
      `docker exec ${db.name} sh -c 'echo "ALTER ROLE ${user} WITH PASSWORD '\\''$(cat ${file})'\\'';" | psql -v ON_ERROR_STOP=1 -U ${user} -d ${database}'`,
      `docker restart ${restart.join(" ")}${[g.job, g.grants].map((j) => (j ? ` && docker start ${j.name}` : "")).join("")}`,
      ...(g.job ? [`docker logs ${g.job.name} 2>&1 | tail -n 3   # ends with 'reconcile: done'`] : []),
    ]);
  }
  if (master) {
    d.p(`**The master key** (${code(master.source)}): a file of LiteLLM's and the key job's config volumes, nothing else keeps it; \`-replace\` is the whole rotation (both are replaced and read the new one; the app keys stay valid):`);
    d.sh([`terraform apply -replace=${shellWord(master.source)}`]);
  }
  if (salt) {
    const rotateInstead = [g.dbPassword, master].filter((h): h is SecretHolding => h !== undefined);
    d.p(
      `**The salt key** (${code(salt.source)}): never rotate it. LiteLLM encrypts the credentials it stores in Postgres with it and cannot read them with another. ` +
        "It is worthless without the database: if it leaked, make sure the database cannot be read (the data volume, its backups and dumps), and rotate the database password and the master key (then the `docker exec` and the restarts above):",
    );
    const cmd = rotationCommand(rotateInstead);
    if (cmd) d.sh([cmd]);
  }
}

function backupPasswordRotation(d: Doc, c: Context): void {
  for (const h of c.secrets.filter((x) => x.kind === SecretKind.BACKUP_PASSWORD)) {
    const job = h.containers[0];
    const out = h.outputs[0];
    if (!job || !out) continue;
    d.h(3, `The restic password of ${job}`);
    d.p("restic keeps the repository's keys encrypted with it: add the new password as a key before the old one goes.");
    d.sh([
      `terraform output -raw ${out} > /root/restic-old && chmod 600 /root/restic-old`,
      `docker stop ${job}`,
      `terraform apply -replace=${shellWord(h.source)}`,
      `terraform output -raw ${out} > /root/restic-new && chmod 600 /root/restic-new`,
      `restic -r <repository> --password-file /root/restic-old key add --new-password-file /root/restic-new`,
      `restic -r <repository> --password-file /root/restic-new key list   # then: key remove <the old key id>`,
      `docker start ${job} && shred -u /root/restic-old /root/restic-new`,
    ]);
  }
}

function hostCompromise(c: Context): Runbook {
  const d = new Doc();
  header(d, c, "Suspected host compromise", "Signs that someone else runs code on the Docker host: unknown processes or containers, changed images, a config volume or state file modified, outbound traffic nobody explains.", "critical.");
  owasp(d, ["LLM03", "LLM04", "LLM02"]);
  d.h(2, "Containment");
  lockdownStep(d, c, "1. Withdraw every exposure");
  d.h(3, "2. Take the host off the network");
  d.p("Unplug it or disable its uplink at the switch or hypervisor (not from the host: a compromised host may lie). Keep it running: memory is evidence.");
  d.h(2, "Evidence to preserve");
  const dataVolumes = c.m.volumes.filter((v) => !/-config$|-secrets$/.test(v.name));
  const image = c.m.resources.find((r) => r.type === "docker_image" && /alpine/.test(str(r.config.name) ?? ""));
  d.sh([
    ...stateSnapshot(),
    ...saveLogs(c.m.containers.filter((x) => x.started && x.role !== ServiceRole.CONFIG_LOADER).map((x) => x.name)),
    `docker ps -a --no-trunc > "$E/containers.txt"; docker image ls --digests --no-trunc > "$E/images.txt"`,
    ...(image
      ? [
          `for v in ${dataVolumes.map((v) => v.name).join(" ")}; do`,
          `  docker run --rm --network none --user 0:0 -v "$v":/v:ro -v "$PWD/$E":/out --entrypoint tar ${str(image.config.name)} -C /v -czf "/out/volume-$v.tgz" .`,
          "done",
        ]
      : []),
    `sha256sum "$E"/* > "$E.sha256"`,
  ]);
  auditTrail(d, c, { refused: true });
  d.h(2, "Eradication and recovery");
  d.p("Rebuild on a clean host (reinstalled, not cleaned): the stack file from a reviewed commit, images pulled fresh by digest, every secret rotated (the old host held them all in its config volumes and state).");
  const images = c.m.resources.filter((r) => r.type === "docker_image");
  d.sh([
    `terraform init && terraform plan${c.m.hasLockdown ? " -var lockdown=true" : ""} -out rebuild.plan   # read the plan before applying`,
    "terraform apply rebuild.plan",
    ...(images.length ? [`terraform apply${c.m.hasLockdown ? " -var lockdown=true" : ""} ${images.map((i) => `-replace=${shellWord(i.address)}`).join(" ")}   # re-pull every pinned image`] : []),
  ]);
  rotate(d, c.secrets.filter((h) => h.replace.length > 0), "Rotate every generated secret, the CA included:");
  const vars = c.secrets.filter((h) => h.kind === SecretKind.VARIABLE);
  if (vars.length) d.p("And at their issuers:").items(vars.map((v) => code(v.source)));
  backupPasswordRotation(d, c);
  restoreSteps(d, c);
  unlockStep(d, c);
  postIncident(d, ["How the host was entered, and whether the backups predate it", "Old host wiped or kept sealed as evidence"]);
  return { file: "05-host-compromise.md", title: "Suspected host compromise", markdown: d.toString() };
}

function abuse(c: Context): Runbook {
  const d = new Doc();
  header(d, c, "Abuse and GPU denial of service", "The GPUs are saturated, queues grow, answers slow down or time out; or one identity sends far more than its share.", "medium; high when it starves every user.");
  owasp(d, ["LLM10"]);
  d.h(2, "The limits in force");
  const limits: string[] = [];
  for (const s of c.sidecars) {
    const loader = loaderOf(c, s);
    const conf = loader ? uploadedFile(loader, "nginx.conf") : undefined;
    if (!conf) continue;
    const rate = /rate=(\d+r\/m)/.exec(conf)?.[1];
    const burst = /limit_req zone=zta_rate burst=(\d+)/.exec(conf)?.[1];
    const conn = /limit_conn zta_conn (\d+)/.exec(conf)?.[1];
    const body = /client_max_body_size (\S+);/.exec(conf)?.[1];
    limits.push(`${code(s.name)}: ${rate ?? "?"} per identity (burst ${burst ?? "?"}), ${conn ?? "?"} concurrent per identity, body ${body ?? "?"}; above them it answers 429 / 413`);
  }
  d.items([...limits, ...c.gateways.flatMap(gatewayLimits)]);
  const prometheus = c.m.withRole(ServiceRole.PROMETHEUS);
  if (prometheus.length) {
    d.p(`${code(prometheus[0].name)} alerts on it: ${["VllmQueueBacklog", "VllmKvCacheSaturated", "VllmTimeToFirstTokenP95High", "RateLimitBurst"].map(code).join(", ")} (Grafana's alert list).`);
  }
  d.h(2, "Containment");
  d.p("Who is sending what (the audit trail):");
  d.sh([
    evidenceDir(c.m),
    ...auditQuery(c, `select(.time >= "<since, e.g. 2026-01-01T10:00>") | [.caller, .identity] | @tsv`, " | sort | uniq -c | sort -rn | head -20", true),
    ...auditQuery(c, `select(.status == 429) | .identity`, " | sort | uniq -c | sort -rn | head", true),
    ...c.gateways
      .filter((g) => g.proxy)
      .map((g) => `docker logs ${g.proxy!.name} 2>/dev/null | grep '^{' | jq -r 'select(.app != "") | [.app, .status] | @tsv' | sort | uniq -c | sort -rn | head -20   # calls per app and status at the gateway`),
    ...(c.m.withRole(ServiceRole.INFERENCE).length ? [`docker stats --no-stream ${c.m.withRole(ServiceRole.INFERENCE).map((v) => v.name).join(" ")}; nvidia-smi`] : []),
  ]);
  d.p("Block the identity:").items([
    ...(c.m.withRole(ServiceRole.GATE).length ? ["an IdP user or client: disable it at the identity provider; rotate the gate's cookie secret (`03-credential-leak.md`) to end its session now"] : []),
    "an operator certificate: remove the operator from `operators` and rotate the CA (`03-credential-leak.md`)",
    "lower `rateLimit` (requestsPerMinute, burst, maxConcurrent) in the stack file and apply: the sidecars are replaced with the new limits",
  ]);
  for (const g of c.gateways.filter((x) => x.job && x.apps.length > 0)) {
    const job = g.job!.name;
    d.p(
      `An app of the gateway ${code(g.litellm.name)}: lower its \`requestsPerMinute\`, \`tokensPerMinute\` or \`monthlyBudgetUsd\` in \`apps\` and apply. ` +
        `The reconcile job ${code(job)} is replaced and updates the key's limits (its log: \`reconcile: updated <app>\`); the key stays the same:`,
    );
    d.sh(["terraform apply", `docker logs ${job} 2>&1 | grep 'reconcile: updated'`]);
    d.p(`To block an app now, revoke its key (\`03-credential-leak.md\`, "An app's virtual key"): the job revokes the old key, and the app is refused until it gets the new one:`);
    d.sh(g.apps.map((a) => `terraform apply -replace=${shellWord(a.key.source)}   # ${a.name}`));
  }
  if (c.m.hasLockdown) d.p("If the service must stop serving outside callers now: `terraform apply -var lockdown=true` (`05-host-compromise.md`).");
  d.h(2, "Evidence to preserve");
  d.sh([...saveLogs([...c.sidecars, ...c.gateways.flatMap((g) => (g.proxy ? [g.proxy] : []))].map((s) => s.name)), ...auditQuery(c, ".", ` > "$E/audit.jsonl"`)]);
  auditTrail(d, c, { identity: true, refused: true });
  d.h(2, "Eradication and recovery");
  d.items(["Confirm the queues drain (`VllmQueueBacklog` resolved, time to first token back to normal).", "Re-admit the identity only with limits that fit its use."]);
  postIncident(d, ["Limits reviewed against real per-identity use"]);
  return { file: "06-abuse-gpu-dos.md", title: "Abuse and GPU denial of service", markdown: d.toString() };
}

/** Every runbook of the stack, from its parsed cdk.tf.json. */
export function renderRunbooks(json: unknown, stackId: string): Runbook[] {
  const c = contextOf(stackModel(json, stackId));
  const books = [agentSecretLeak(c), ragExtraction(c), credentialLeak(c), internalSecretLeak(c), hostCompromise(c), abuse(c)].filter((b): b is Runbook => b !== undefined);
  const index = new Doc()
    .h(1, `Incident runbooks: ${stackId}`)
    .p("Generated from this stack's cdk.tf.json at synth. Runbooks for components the stack lacks are left out.")
    .items(books.map((b) => `[${b.title}](${b.file})`));
  return [{ file: "README.md", title: `Incident runbooks: ${stackId}`, markdown: index.toString() }, ...books];
}

/** Writes `runbooks/*.md` into a synthesized stack's folder from its cdk.tf.json. Returns the files written. */
export function writeRunbooks(stackDir: string, stackId: string): string[] {
  const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as unknown;
  const dir = path.join(stackDir, RUNBOOK_DIR);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return renderRunbooks(json, stackId).map((b) => {
    const file = path.join(dir, b.file);
    fs.writeFileSync(file, b.markdown);
    return file;
  });
}

/** After `app.synth()`: the runbooks of every stack of the app, next to its cdk.tf.json. */
export function writeAppRunbooks(app: App): string[] {
  const stacks = app.node.children.filter((c): c is TerraformStack => TerraformStack.isStack(c));
  return stacks.flatMap((s) => writeRunbooks(path.join(app.outdir, "stacks", s.node.id), s.node.id));
}
