/**
 * What the runbooks know about a stack, read from its synthesized Terraform JSON (cdk.tf.json) and the
 * trust graph's labels in it: containers (Docker name, role, Terraform address, volumes), volumes,
 * outputs, variables, and which resources hold which secret. Reading the JSON, not the constructs, means
 * every name a runbook prints is one Terraform will be asked to create, for any stack file.
 */
import { ROLE_LABEL, ServiceRole } from "./identities";
import { isExpression, list, record, str } from "./policy/docker";
import { CALLERS_LABEL, CallerEntry } from "./trust-diagram";

type Attrs = Record<string, unknown>;

export interface ModelResource {
  readonly type: string;
  readonly logicalId: string;
  /** `type.logicalId`, with `[0]` when the resource has a `count` (Lockdown's tailnet nodes). */
  readonly address: string;
  /** The construct path below the stack, e.g. "inference/vllm-api-key" (cdktf metadata, else read from the logical id). */
  readonly path: string;
  readonly config: Attrs;
  /** Addresses (`type.id`, `data.type.id`, `var.x`) its attributes refer to. */
  readonly refs: Set<string>;
}

export interface ModelVolumeMount {
  /** Docker name of the volume, or the host path of a bind mount. */
  readonly source: string;
  readonly containerPath: string;
  readonly readOnly: boolean;
  /** The docker_volume's address; undefined for host paths. */
  readonly volumeAddress?: string;
}

export interface ModelContainer extends ModelResource {
  readonly name: string;
  /** The ServiceRole label, if any. */
  readonly role?: string;
  readonly mounts: ModelVolumeMount[];
  /** Docker networks by name (literal or resolved from the docker_network). */
  readonly networks: string[];
  /** `container:<address>` owner's Docker name, for a container in another's namespace. */
  readonly namespaceOf?: string;
  readonly callers: CallerEntry[];
  readonly started: boolean;
  /** `count` expression (Lockdown) or undefined. */
  readonly count?: string;
}

export interface ModelOutput {
  readonly name: string;
  readonly sensitive: boolean;
  readonly description: string;
  readonly refs: Set<string>;
}

export interface StackModel {
  readonly stackId: string;
  readonly resources: ModelResource[];
  readonly containers: ModelContainer[];
  readonly volumes: { address: string; name: string }[];
  readonly outputs: ModelOutput[];
  readonly variables: { name: string; sensitive: boolean; type?: string }[];
  /** The stack has Lockdown's `lockdown` variable. */
  readonly hasLockdown: boolean;
  byAddress(address: string): ModelResource | undefined;
  /** Services of a role (never the config loaders). */
  withRole(role: string): ModelContainer[];
  /** The container with this Docker name. */
  named(name: string): ModelContainer | undefined;
}

/** `type.id` / `data.type.id` / `var.x` references inside `${...}` of any string in `value`. */
export function referencesIn(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    if (!value.includes("${")) return out;
    for (const m of value.matchAll(/(?<![\w".])((?:data\.)?[a-z][a-z0-9_]*\.[\w-]+)/g)) {
      const ref = m[1];
      // each.value, count.index and function-call fragments are not addresses.
      if (/^(each|count|self|path|terraform)\./.test(ref)) continue;
      out.add(ref);
    }
  } else if (Array.isArray(value)) value.forEach((v) => referencesIn(v, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) if (k !== "//") referencesIn(v, out);
  return out;
}

function labelMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list(value).map(record)) if (typeof l.label === "string") out[l.label] = String(l.value ?? "");
  return out;
}

/** The model of a synthesized stack (its parsed cdk.tf.json). */
export function stackModel(json: unknown, stackId: string): StackModel {
  const root = record(json);
  const resources: ModelResource[] = [];
  const add = (type: string, logicalId: string, config: Attrs, prefix = "") => {
    const meta = record(record(config["//"]).metadata);
    const hasCount = config.count !== undefined;
    resources.push({
      type: `${prefix}${type}`,
      logicalId,
      address: `${prefix}${type}.${logicalId}${hasCount ? "[0]" : ""}`,
      // Without metadata (Testing.synth), the logical id is the path joined by "_" plus a hash.
      path: str(meta.path)?.split("/").slice(1).join("/") ?? logicalId.replace(/_[0-9A-F]{8}$/, "").split("_").join("/"),
      config,
      refs: referencesIn(config),
    });
  };
  for (const [type, byId] of Object.entries(record(root.resource))) for (const [id, c] of Object.entries(record(byId))) add(type, id, record(c));
  for (const [type, byId] of Object.entries(record(root.data))) for (const [id, c] of Object.entries(record(byId))) add(type, id, record(c), "data.");
  const plain = (address: string) => address.replace(/\[0\]$/, "");
  const index = new Map(resources.map((r) => [plain(r.address), r]));
  const refTarget = (value: unknown): ModelResource | undefined => {
    const m = /^\$\{((?:data\.)?[a-z][a-z0-9_]*\.[\w-]+)(?:\[0\])?\.[a-z_]+\}$/.exec(str(value) ?? "");
    return m ? index.get(m[1]) : undefined;
  };
  const literalName = (value: unknown): string | undefined => {
    const s = str(value);
    if (s === undefined) return undefined;
    if (!isExpression(s)) return s;
    const target = refTarget(s);
    return target ? str(target.config.name) : undefined;
  };

  const volumes = resources.filter((r) => r.type === "docker_volume").map((r) => ({ address: r.address, name: str(r.config.name) ?? r.logicalId }));
  const containers: ModelContainer[] = resources
    .filter((r) => r.type === "docker_container")
    .map((r) => {
      const c = r.config;
      const labels = labelMap(c.labels);
      let callers: CallerEntry[] = [];
      try {
        callers = labels[CALLERS_LABEL] ? (JSON.parse(labels[CALLERS_LABEL]) as CallerEntry[]) : [];
      } catch {
        callers = [];
      }
      const mounts: ModelVolumeMount[] = list(c.volumes).map((v) => {
        const m = record(v);
        const target = refTarget(m.volume_name);
        return {
          source: literalName(m.volume_name) ?? str(m.host_path) ?? String(m.volume_name ?? m.host_path),
          containerPath: String(m.container_path ?? ""),
          readOnly: m.read_only === true,
          ...(target ? { volumeAddress: target.address } : {}),
        };
      });
      for (const m of list(c.mounts).map(record)) {
        if (m.type === "bind" && typeof m.source === "string") mounts.push({ source: m.source, containerPath: String(m.target ?? ""), readOnly: m.read_only === true });
      }
      const mode = str(c.network_mode) ?? "";
      const owner = mode.startsWith("container:") ? refTarget(mode.slice("container:".length)) : undefined;
      return {
        ...r,
        name: str(c.name) ?? r.logicalId,
        role: labels[ROLE_LABEL],
        mounts,
        networks: list(c.networks_advanced)
          .map((n) => literalName(record(n).name))
          .filter((n): n is string => n !== undefined),
        ...(owner ? { namespaceOf: str(owner.config.name) } : {}),
        callers,
        started: c.start !== false,
        ...(c.count !== undefined ? { count: String(c.count) } : {}),
      };
    });
  const outputs: ModelOutput[] = Object.entries(record(root.output)).map(([name, o]) => {
    const r = record(o);
    return { name, sensitive: r.sensitive === true, description: str(r.description) ?? "", refs: referencesIn(r.value) };
  });
  const variables = Object.entries(record(root.variable)).map(([name, v]) => ({ name, sensitive: record(v).sensitive === true, type: str(record(v).type) }));
  return {
    stackId,
    resources,
    containers,
    volumes,
    outputs,
    variables,
    hasLockdown: variables.some((v) => v.name === "lockdown" && v.type === "bool"),
    byAddress: (address) => index.get(plain(address)),
    withRole: (role) => containers.filter((c) => c.role === role && role !== ServiceRole.CONFIG_LOADER),
    named: (name) => containers.find((c) => c.name === name),
  };
}

// ------------------------------------------------------------------------------------------------
// Secrets: which resources hold which secret, and how each is rotated.
// ------------------------------------------------------------------------------------------------

export const SecretKind = {
  CA_KEY: "ca-key",
  LEAF_KEY: "leaf-key",
  OPERATOR_KEY: "operator-key",
  PASSWORD: "password",
  BACKUP_PASSWORD: "backup-password",
  TUNNEL_TOKEN: "tunnel-token",
  TAILNET_KEY: "tailnet-key",
  VARIABLE: "variable",
  /** An ApiGateway app's virtual key (the Bearer token at the gateway's site). */
  APP_KEY: "app-key",
  /** An ApiGateway app's client key (its bundle output): the certificate the edge asks for first. */
  APP_CLIENT_KEY: "app-client-key",
  /** The key of an app key's rotation clock: it signs nothing anyone trusts. */
  ROTATION_CLOCK: "rotation-clock",
} as const;

/**
 * `zta.role` values of the ApiGateway and the AuditLog (GatewayRole and AUDIT_COLLECTOR_ROLE in constructs/;
 * lib imports no construct, and test/lib/runbooks.test.ts checks they are equal).
 */
export const GATEWAY_ROLES = {
  GATEWAY: "api-gateway",
  PROXY: "api-gateway-proxy",
  DATABASE: "api-gateway-db",
  KEYS: "api-gateway-keys",
  SPEND: "api-gateway-spend",
  SPEND_GRANTS: "api-gateway-spend-grants",
} as const;
export const AUDIT_COLLECTOR = "audit-collector";

export interface SecretHolding {
  readonly kind: string;
  /** What it is, in a few words ("vLLM API key"). */
  readonly title: string;
  /** Where it is made: a Terraform address, or `var.<name>` for a secret given from outside. */
  readonly source: string;
  /** Addresses `terraform apply -replace` must name to rotate it; empty when it is rotated at its issuer. */
  readonly replace: string[];
  /** Docker names of the containers that hold it (through their config volume, env or a mount). */
  readonly containers: string[];
  /** Docker names of the config volumes it is written to. */
  readonly volumes: string[];
  /** Terraform outputs that hand it out. */
  readonly outputs: string[];
  /** How to rotate it when `-replace` alone is not the whole procedure. */
  readonly note?: string;
  /** The ApiGateway app it belongs to (APP_KEY, APP_CLIENT_KEY). */
  readonly app?: string;
}

/** Names the library gives its generated passwords (the construct id), and what they protect. */
const PASSWORD_TITLES: Record<string, string> = {
  "vllm-api-key": "vLLM API key (the sidecars inject it on the loopback hop)",
  "cookie-secret": "OIDC gate cookie secret (signs every oauth2-proxy session)",
  "secret-key": "Open WebUI secret key (signs its sessions)",
  "grafana-admin-password": "Grafana admin password",
  "grafana-api-password": "Grafana's password for Prometheus' API",
  "prometheus-self-password": "Prometheus' password for its own API",
  "repository-password": "restic repository password",
  "master-key": "LiteLLM master key (the gateway's admin key: it creates, updates and revokes every app key)",
  "salt-key": "LiteLLM salt key (encrypts the credentials LiteLLM stores in its database)",
  "db-password": "the gateway's Postgres password",
  "spend-reader-password": "the gateway spend exporter's database password (its read-only role)",
};

const PASSWORD_NOTES: Record<string, string> = {
  "grafana-admin-password":
    "Grafana reads the admin password file only when it creates the admin user: after the apply, also set it in the database " +
    "(`grafana cli admin reset-admin-password` in the Grafana container, with the new `admin-password` from its config volume).",
  "cookie-secret": "Every browser session of the gate ends: users sign in again at the identity provider.",
  "secret-key": "Every Open WebUI session ends: users sign in again.",
  "master-key": "LiteLLM and its reconcile job are replaced with the new key (both read it from their config volume); the app keys stay valid.",
  "db-password":
    "Postgres sets the password only when it creates its cluster: after the apply, set it in the database too (the exact command is in " +
    "`04-internal-secret-leak.md`), then restart LiteLLM.",
  "spend-reader-password":
    "The apply replaces the spend exporter and its grants job (both read it from their config volumes); the job sets the new " +
    "password in the database (ALTER ROLE) and the exporter logs in with it: no manual step.",
};

/** Only what the gateway's own containers hold is a gateway secret (a stack's own `db-password` is not). */
const GATEWAY_PASSWORDS = new Set(["master-key", "salt-key", "db-password", "spend-reader-password"]);

const code = (x: string) => `\`${x}\``;

function lastSegment(path: string): string {
  const parts = path.split("/");
  return parts[parts.length - 1];
}

/**
 * Every secret of the stack, with the resources that make it, the containers, volumes and outputs that
 * hold it, and what `terraform apply -replace=...` must name to rotate it. The runbooks print their
 * rotation commands from this list only.
 */
export function secretHoldings(model: StackModel): SecretHolding[] {
  const loaders = model.containers.filter((c) => c.role === ServiceRole.CONFIG_LOADER);
  // Who holds what a resource (or variable) makes: loaders that upload it (and the services mounting their
  // volume), containers that take it directly (env, labels), outputs that return it.
  const holdersOf = (sources: string[]) => {
    const refersTo = (refs: Set<string>) => sources.some((s) => refs.has(s.replace(/\[0\]$/, "")));
    const volumes = new Set<string>();
    const containers = new Set<string>();
    for (const loader of loaders.filter((l) => refersTo(referencesIn(l.config.upload)))) {
      for (const m of loader.mounts) volumes.add(m.source);
    }
    for (const c of model.containers.filter((x) => x.role !== ServiceRole.CONFIG_LOADER)) {
      const direct = refersTo(referencesIn({ env: c.config.env, command: c.config.command, upload: c.config.upload }));
      if (direct || c.mounts.some((m) => volumes.has(m.source))) containers.add(c.name);
    }
    const outputs = model.outputs.filter((o) => refersTo(o.refs)).map((o) => o.name);
    return { containers: [...containers].sort(), volumes: [...volumes].sort(), outputs };
  };
  const out: SecretHolding[] = [];
  const byType = (type: string) => model.resources.filter((r) => r.type === type);
  const plain = (r: ModelResource) => `${r.type}.${r.logicalId}`;

  // A CA is a self-signed certificate with is_ca_certificate; other self-signed ones are the gateway's rotation clocks.
  const rootCerts = byType("tls_self_signed_cert").filter((c) => c.config.is_ca_certificate === true);
  const clockKeys = new Set(
    byType("tls_self_signed_cert")
      .filter((c) => c.config.is_ca_certificate !== true)
      .flatMap((c) => [...c.refs].filter((x) => x.startsWith("tls_private_key."))),
  );
  const caKeys = new Set(rootCerts.flatMap((c) => [...c.refs].filter((x) => x.startsWith("tls_private_key."))));
  const leaves = byType("tls_locally_signed_cert");
  for (const keyAddress of caKeys) {
    const key = model.byAddress(keyAddress)!;
    const root = rootCerts.filter((c) => c.refs.has(keyAddress));
    const signed = leaves.filter((l) => l.refs.has(keyAddress));
    out.push({
      kind: SecretKind.CA_KEY,
      title: `internal CA private key (${key.path.split("/").slice(0, -2).join("/") || key.path})`,
      source: key.address,
      // The key, its root, and everything it signed: every leaf is re-signed, every service replaced.
      replace: [key.address, ...root.map((r) => r.address), ...signed.map((l) => l.address)],
      ...holdersOf([keyAddress]),
      note: "Only Terraform state holds the CA key. Rotating it re-issues every certificate it signed: every operator needs the new bundle.",
    });
  }
  for (const key of byType("tls_private_key").filter((k) => clockKeys.has(plain(k)) && !caKeys.has(plain(k)))) {
    const clocks = byType("tls_self_signed_cert").filter((c) => c.refs.has(plain(key)));
    out.push({
      kind: SecretKind.ROTATION_CLOCK,
      title: `rotation clock key (${key.path.split("/").slice(0, -1).join("/") || key.path})`,
      source: key.address,
      replace: [],
      ...holdersOf([plain(key)]),
      note:
        `Not a credential: it signs only ${clocks.map((c) => code(c.address)).join(", ")}, whose validity dates the rotation of an app key. ` +
        "Nothing to rotate; replacing an app key's `random_password` rotates the key itself.",
    });
  }
  const auditCollectors = model.containers.filter((c) => c.role === AUDIT_COLLECTOR);
  for (const key of byType("tls_private_key").filter((k) => !caKeys.has(plain(k)) && !clockKeys.has(plain(k)))) {
    const requests = byType("tls_cert_request").filter((r) => r.refs.has(plain(key)));
    const certs = leaves.filter((l) => requests.some((r) => l.refs.has(plain(r))));
    // The key is the secret; its certificate is public (Prometheus' expiry rules read every one).
    const holders = holdersOf([plain(key)]);
    const operatorOutputs = model.outputs.filter((o) => o.refs.has(plain(key)) && /_operator_/.test(o.name));
    const appOutputs = model.outputs.filter((o) => o.refs.has(plain(key)) && /_app_\w+_bundle$/.test(o.name));
    const isOperator = operatorOutputs.length > 0 && holders.containers.length === 0;
    const isApp = appOutputs.length > 0 && holders.containers.length === 0;
    // The AuditLog's daemon certificate: in a volume no container mounts (the Docker daemon reads its mountpoint).
    const isDaemon = auditCollectors.length > 0 && /daemon-client-cert$/.test(key.path.split("/").slice(0, -1).join("/"));
    const owner = holders.containers[0] ?? holders.outputs[0] ?? key.path;
    const role = /client-cert|metrics-scraper|operator-/.test(key.path)
      ? "client"
      : /metrics-server-cert/.test(key.path)
        ? "metrics listener's server"
        : "server";
    const base = { source: key.address, replace: [key.address, ...certs.map((c) => c.address)], ...holders };
    if (isOperator) out.push({ kind: SecretKind.OPERATOR_KEY, title: `operator client key (${operatorOutputs[0].name})`, ...base });
    else if (isApp) {
      // The certificate's construct is `app-<name>-cert` (ApiGateway).
      const app = /^app-(.+)-cert$/.exec(key.path.split("/").slice(-2)[0] ?? "")?.[1];
      out.push({
        kind: SecretKind.APP_CLIENT_KEY,
        title: `app client key (${appOutputs[0].name})`,
        ...base,
        ...(app ? { app } : {}),
        note: "The edge keeps no revocation list: a new certificate does not stop the old one (runbook 3 rotates the app's virtual key, which the gateway checks).",
      });
    } else if (isDaemon) {
      out.push({
        kind: SecretKind.LEAF_KEY,
        title: `Docker daemon's client key for the audit collector ${auditCollectors[0].name}`,
        ...base,
        note:
          `With it, anyone who reaches 127.0.0.1:${String(record(list(auditCollectors[0].config.ports)[0]).external ?? "?")} on this host can write lines into the audit trail. ` +
          "The daemon reads it when a container starts: after the apply, `docker restart` the audited containers so their logging drivers use the new one.",
      });
    } else {
      out.push({ kind: SecretKind.LEAF_KEY, title: `${role} key of ${owner}`, ...base });
    }
  }
  const gatewayContainers = new Set(model.containers.filter((c) => (Object.values(GATEWAY_ROLES) as string[]).includes(c.role ?? "")).map((c) => c.name));
  for (const password of byType("random_password")) {
    const id = lastSegment(password.path);
    const isBackup = id === "repository-password";
    const holders = holdersOf([plain(password)]);
    const ofGateway = holders.containers.length > 0 && holders.containers.every((c) => gatewayContainers.has(c));
    if (ofGateway && id.startsWith("key-") && holders.outputs.length > 0) {
      const app = id.slice("key-".length);
      const job = model.containers.find((c) => c.role === GATEWAY_ROLES.KEYS && holders.containers.includes(c.name));
      out.push({
        kind: SecretKind.APP_KEY,
        title: `virtual key of app ${app} (ApiGateway)`,
        source: password.address,
        replace: [password.address],
        ...holders,
        app,
        note:
          `The reconcile job ${code(job?.name ?? "?")} is replaced with the new value and runs again: it revokes the old key of ${app} and registers the new one ` +
          `(its log says \`reconcile: revoked previous key of ${app}\`). Hand the app the new key: \`terraform output -raw ${holders.outputs[0]}\`.`,
      });
      continue;
    }
    if (ofGateway && id === "salt-key") {
      out.push({
        kind: SecretKind.PASSWORD,
        title: PASSWORD_TITLES[id],
        source: password.address,
        // Never: see the note.
        replace: [],
        ...holders,
        note:
          "Never rotate it (no `-replace`, not even with every other secret): LiteLLM cannot decrypt what it stored with the old one. " +
          "It protects nothing without the database: if it leaked, rotate the gateway's Postgres password and master key and keep the database volume from being read.",
      });
      continue;
    }
    out.push({
      kind: isBackup ? SecretKind.BACKUP_PASSWORD : SecretKind.PASSWORD,
      title: (GATEWAY_PASSWORDS.has(id) && !ofGateway ? undefined : PASSWORD_TITLES[id]) ?? `generated password ${password.path}`,
      source: password.address,
      replace: [password.address],
      ...holders,
      ...(isBackup
        ? {
            note:
              "restic encrypts the repository's keys with this password: a new password needs `restic key add` with the old one first " +
              "(the recovery steps print it); never `-replace` it alone.",
          }
        : PASSWORD_NOTES[id] && (ofGateway || !GATEWAY_PASSWORDS.has(id))
          ? { note: PASSWORD_NOTES[id] }
          : {}),
    });
  }
  for (const token of byType("data.cloudflare_zero_trust_tunnel_cloudflared_token")) {
    const tunnels = [...token.refs].filter((x) => x.startsWith("cloudflare_zero_trust_tunnel_cloudflared."));
    out.push({
      kind: SecretKind.TUNNEL_TOKEN,
      title: `Cloudflare tunnel token (${token.path.split("/").slice(0, -1).join("/")})`,
      source: token.address,
      // The token is derived from the tunnel's secret: a new tunnel is a new token (its DNS record and config follow).
      replace: tunnels.map((t) => model.byAddress(t)!.address),
      ...holdersOf([plain(token)]),
      note: "A new tunnel gets a new id: its CNAME and ingress config are updated in the same apply.",
    });
  }
  for (const key of byType("tailscale_tailnet_key")) {
    out.push({
      kind: SecretKind.TAILNET_KEY,
      title: `tailnet auth key (${key.path.split("/").slice(0, -1).join("/")})`,
      source: key.address,
      replace: [key.address],
      ...holdersOf([plain(key)]),
      note: "The node already logged in keeps its node key in its state volume: also remove the node in the Tailscale admin console if it is suspect.",
    });
  }
  for (const v of model.variables.filter((x) => x.sensitive)) {
    const holders = holdersOf([`var.${v.name}`]);
    out.push({
      kind: SecretKind.VARIABLE,
      title: `sensitive variable ${v.name}`,
      source: `var.${v.name}`,
      replace: [],
      ...holders,
      note: `Given from outside: rotate it where it was issued, then apply with the new value (TF_VAR_${v.name}).`,
    });
  }
  return out;
}

/** One `terraform apply` that rotates the given secrets (their `replace` lists), or undefined if none has one. */
export function rotationCommand(holdings: SecretHolding[]): string | undefined {
  const addresses = [...new Set(holdings.flatMap((h) => h.replace))];
  if (addresses.length === 0) return undefined;
  return ["terraform apply", ...addresses.map((a) => `-replace=${shellWord(a)}`)].join(" \\\n  ");
}

/** An address as one shell word (`[0]` would be a glob). */
export function shellWord(s: string): string {
  return /^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Strings of a JSON value (the upload contents of a loader), for renderers that read a config file. */
export function uploadedFile(container: ModelResource, fileName: string): string | undefined {
  const u = list(container.config.upload)
    .map(record)
    .find((x) => str(x.file)?.endsWith(`/${fileName}`));
  return u ? str(u.content) : undefined;
}
