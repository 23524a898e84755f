import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Password } from "@cdktf/provider-random/lib/password";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { Lazy, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ClientCertMode } from "../lib/caddyfile";
import { Problems, addStackCheck, describeValue, isUnresolved, whereIs } from "../lib/errors";
import { CONFIG_DIR, OPERATOR_OU, ServiceIdentities, ServiceIdentity } from "../lib/identities";
import { IMAGES } from "../lib/images";
import { DesiredKey, LITELLM_PORT, LitellmModel, renderDesiredKeys, renderLitellmConfig, renderReconcileScript } from "../lib/litellm";
import { renderGatewayProxyNginxConfig } from "../lib/litellm-proxy";
import { checkNoCredentialLiterals, readBoolean, readList, readNumber, readString, readStrings } from "../lib/shape";
import {
  renderSpendExporterScript,
  renderSpendGrantsScript,
  renderSpendGrantsSql,
  renderSpendQuery,
  spendExporterHealthcheck,
} from "../lib/spend-exporter";
import { dnsNameFix, isDnsName, isDockerName } from "../lib/validate";
import { AuditLog } from "./audit-log";
import { HardenedJob, HardenedService } from "./hardened-service";
import { IssuedCertificate } from "./internal-ca";
import { SecureInference } from "./secure-inference";
import { Authentication } from "./trust-graph";

/** The gateway proxy's TLS port for the edge (client certificate required). */
export const GATEWAY_EDGE_PORT = 8443;
/** The proxy's loopback port LiteLLM calls for the models. */
export const GATEWAY_CLIENT_PORT = 8090;
/** The proxy's loopback healthcheck port. */
export const GATEWAY_HEALTH_PORT = 8082;
/** Postgres' port, on the gateway/database network only. */
export const GATEWAY_DB_PORT = 5432;
/** The SAN of the gateway proxy's server certificate (the edge verifies it). */
export const GATEWAY_SERVER_NAME = "gateway.zta.internal";
/** The gateway's client identity toward the inference sidecars (CN zta-gateway). */
export const GATEWAY_IDENTITY: ServiceIdentity = ServiceIdentities.custom("gateway");
/** Database and role LiteLLM uses. */
export const GATEWAY_DB_NAME = "litellm";
/** Where Postgres keeps its cluster (the named volume). */
export const POSTGRES_DATA_DIR = "/var/lib/postgresql/data";
/**
 * Where the spend exporter keeps its cursor (a volume). The postgres image's data directory: uid 70 owns it in
 * the image, so Docker gives a fresh volume mounted there that owner (any other path would be root's).
 */
export const SPEND_STATE_DIR = POSTGRES_DATA_DIR;

/** The `zta.role` values of the gateway's containers. */
export const GatewayRole = {
  GATEWAY: "api-gateway",
  PROXY: "api-gateway-proxy",
  DATABASE: "api-gateway-db",
  KEYS: "api-gateway-keys",
  SPEND: "api-gateway-spend",
  SPEND_GRANTS: "api-gateway-spend-grants",
} as const;

/** A model the gateway offers to apps. */
export interface GatewayModelProps {
  /** The name apps put in `model` (and in their allowlists), e.g. "qwen-0.5b". */
  readonly name: string;
  /** The name vLLM serves. @default the inference's servedModelName */
  readonly upstreamModel?: string;
  /** Price of a million input tokens in USD: what budgets count. @default 0 (no budget can be reached) */
  readonly inputCostPerMillionTokensUsd?: number;
  /** @default 0 */
  readonly outputCostPerMillionTokensUsd?: number;
}

/** One app (a script, a service) with its own virtual key. */
export interface GatewayAppProps {
  /** Lowercase name: the key's alias, the identity the sidecars see (`gateway:<name>`), the output names. */
  readonly name: string;
  /** Models the key may call (names of `models`). */
  readonly models: string[];
  /** Spend limit per 30 days, USD (needs priced models). @default no budget */
  readonly monthlyBudgetUsd?: number;
  /** @default no limit at the gateway (the sidecars' per-identity limit still applies) */
  readonly requestsPerMinute?: number;
  /** @default no limit */
  readonly tokensPerMinute?: number;
  /** Key lifetime: LiteLLM refuses it afterwards, and a plan in the last tenth of it issues a new value. @default no expiry */
  readonly rotateAfterDays?: number;
}

export interface ApiGatewayProps {
  /** The inference service the gateway calls (through its sidecars, with the gateway's own client certificate). */
  readonly inference: SecureInference;
  /** The hostname clients use (its own site on the inference's edge). */
  readonly hostname: string;
  /** The apps: the source of truth for the keys (created, updated, rotated, revoked on apply). */
  readonly apps: GatewayAppProps[];
  /** The models offered. @default one model named after the inference's servedModelName, unpriced */
  readonly models?: GatewayModelProps[];
  /** Docker name prefix. @default "<inference prefix>-<id>" */
  readonly name?: string;
  /** @default the catalog's pinned LiteLLM */
  readonly image?: string;
  /** @default the catalog's pinned nginx-unprivileged */
  readonly proxyImage?: string;
  /** @default the catalog's pinned postgres */
  readonly postgresImage?: string;
  /** Accept images that are not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** LiteLLM memory limit, MB. @default 2048 */
  readonly memoryMb?: number;
  /** Postgres memory limit, MB. @default 512 */
  readonly databaseMemoryMb?: number;
  /** Request body limit at the gateway, MB. @default 4 */
  readonly maxRequestBodyMb?: number;
  /** Longest generation, seconds. @default the inference stack's `generationTimeoutSeconds` (1800 unless set) */
  readonly generationTimeoutSeconds?: number;
  /**
   * Export LiteLLM's spend logs as one `gateway.call` JSON line per call (app, model, token counts, spend, status)
   * on a small exporter's stdout, which an AuditLog carries to the audit trail (docs/gateway.md). With true and no
   * AuditLog, the lines stay in the exporter's Docker log.
   * @default true when the stack has an AuditLog created before the gateway; false without one
   */
  readonly auditSpendLogs?: boolean;
  /** Seconds between the exporter's polls of the spend logs. @default 30 */
  readonly spendLogIntervalSeconds?: number;
  /**
   * The exporter reads a call only this many seconds after it ended: LiteLLM writes spend rows in batches (every
   * `proxy_batch_write_at` seconds, 10 in the versions read), and a row written after the exporter moved past its end time would be skipped. @default 60
   */
  readonly spendLogSettleSeconds?: number;
}

const APP_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

interface CheckedApp {
  readonly name: string;
  readonly models: string[];
  readonly monthlyBudgetUsd?: number;
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
  readonly rotateAfterDays?: number;
}

/**
 * An OpenAI-compatible API gateway with one virtual key per app: model allowlist, 30-day budget, RPM and
 * TPM caps, expiry and rotation, every call attributed to its app. LiteLLM does the key checks; the apps
 * list in the stack is the source of truth, registered by a one-shot reconcile job.
 *
 *   app --TLS + app certificate + Bearer key--> edge --mTLS (zta-edge)--> gateway proxy --loopback--> LiteLLM
 *   LiteLLM --loopback--> gateway proxy --mTLS (zta-gateway, X-ZTA-Identity gateway:<app>)--> sidecars --> vLLM
 *   LiteLLM --gateway/db network only, password--> Postgres (keys, budgets, spend logs)
 *
 * LiteLLM, its proxy (nginx, in LiteLLM's network namespace: the only way in and out) and the reconcile
 * job share one namespace; LiteLLM listens on 127.0.0.1 only. Postgres is on a network with LiteLLM alone.
 * The master key, the database URL and the salt key are files of read-only config volumes, never
 * environment literals; each app's key is a sensitive output, as is its client bundle.
 */
export class ApiGateway extends Construct {
  /** LiteLLM, owner of the shared namespace. */
  public readonly gatewayService!: HardenedService;
  /** The nginx in LiteLLM's namespace: what the edge and the sidecars talk to. */
  public readonly proxyService!: HardenedService;
  public readonly databaseService!: HardenedService;
  public readonly reconcileJob!: HardenedJob;
  /** The spend exporter (with `auditSpendLogs`): LiteLLM's spend logs as JSON lines on its stdout. */
  public readonly spendExporter?: HardenedService;
  /** The one-shot job that gives the exporter its read-only database role. */
  public readonly spendGrantsJob?: HardenedJob;
  /** The exporter's cursor, so a restart exports no call twice. */
  public readonly spendCursorVolume?: Volume;
  /** Whether the spend logs are exported (`auditSpendLogs`, or its default). */
  public readonly auditSpendLogs: boolean;
  public readonly databaseVolume!: Volume;
  public readonly name: string;
  public readonly hostname: string;
  /** Output names: app -> `terraform output -raw <name>` gives its key. */
  public readonly keyOutputs: Record<string, string> = {};
  /** Output names: app -> `terraform output -json <name>` gives certificate_pem, private_key_pem, ca_certificate_pem. */
  public readonly bundleOutputs: Record<string, string> = {};
  /** Each app's client certificate (CN `app-<name>`). */
  public readonly appCertificates: Record<string, IssuedCertificate> = {};
  private readonly apps: CheckedApp[] = [];
  private readonly models: LitellmModel[] = [];
  private readonly inference?: SecureInference;
  private readonly maxRequestBodyMb: number;
  private readonly timeoutSeconds: number;

  constructor(scope: Construct, id: string, rawProps: ApiGatewayProps) {
    super(scope, id);
    const problems = new Problems(whereIs("ApiGateway", this.node.path), this);
    const hostname = readString(problems, "hostname", rawProps.hostname, true, '"api.example.internal"') as string;
    const nameProp = readString(problems, "name", rawProps.name, false, '"ai-gateway"');
    this.maxRequestBodyMb = readNumber(problems, "maxRequestBodyMb", rawProps.maxRequestBodyMb, 4, { min: 1, max: 1024, unit: "MB" });
    // Waits as long as the sidecars allow unless told otherwise (one setting, passed through).
    const inferenceTimeout = (rawProps.inference as Partial<SecureInference> | undefined)?.generationTimeoutSeconds;
    this.timeoutSeconds = readNumber(problems, "generationTimeoutSeconds", rawProps.generationTimeoutSeconds, inferenceTimeout ?? 1800, { min: 10, max: 86400, unit: "s" });
    const memoryMb = readNumber(problems, "memoryMb", rawProps.memoryMb, 2048, { min: 512, max: 65536, unit: "MB" });
    const dbMemoryMb = readNumber(problems, "databaseMemoryMb", rawProps.databaseMemoryMb, 512, { min: 128, max: 65536, unit: "MB" });
    this.hostname = hostname;
    const spend = this.checkSpendLogs(problems, rawProps);
    this.auditSpendLogs = spend.enabled;
    const inference = rawProps.inference;
    if (!(inference instanceof SecureInference)) {
      problems.add("inference", inference, 'Pass the SecureInference the gateway calls (new ApiGateway(stack, "gateway", { inference: ai, ... })).');
      this.name = nameProp ?? id;
      problems.report();
      return;
    }
    this.inference = inference;
    this.name = nameProp ?? `${inference.prefix}-${id.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}`;
    problems.check(isDockerName(this.name), "name", this.name, "Use letters, digits, '_', '.' or '-', starting with a letter or digit.");
    if (hostname !== "" && !isUnresolved(hostname)) {
      problems.check(isDnsName(hostname), "hostname", hostname, dnsNameFix(hostname, "api.example.internal"));
      problems.check(
        !inference.edge.hostnames.includes(hostname),
        "hostname",
        hostname,
        'That hostname already has a site on the edge; give the gateway its own, e.g. "api.example.internal".',
      );
    }
    this.checkModels(problems, rawProps.models, inference.servedModelName);
    this.checkApps(problems, rawProps.apps);
    checkNoCredentialLiterals(problems, rawProps, ["inference"]);
    if (!problems.report()) return;

    const allowUnpinned = rawProps.allowUnpinnedImages ?? false;
    const ca = inference.ca;
    const outPrefix = id.replace(/[^A-Za-z0-9_]/g, "_");

    // Generated, never typed: LiteLLM requires the sk- prefix on the master key (docs/proxy/virtual_keys.md).
    const masterKey = `sk-${new Password(this, "master-key", { length: 48, special: false }).result}`;
    // Encrypts credentials LiteLLM stores in the database. NEVER change it after the first apply:
    // whatever it encrypted becomes unreadable (read in litellm/proxy/common_utils/encrypt_decrypt_utils.py).
    const saltKey = new Password(this, "salt-key", { length: 48, special: false }).result;
    // Letters and digits only: it goes into a URL unescaped.
    const dbPassword = new Password(this, "db-password", { length: 40, special: false }).result;
    const dbHost = `${this.name}-db`;

    // Postgres: uid 70 from the image, its own data volume, no host port, a network with LiteLLM alone.
    this.databaseVolume = new Volume(this, "db-data", { name: `${this.name}-db-data` });
    this.databaseService = new HardenedService(this, "db", {
      name: dbHost,
      role: GatewayRole.DATABASE,
      catalogImage: IMAGES.postgres,
      image: rawProps.postgresImage,
      imageProp: "postgresImage",
      allowUnpinnedImages: allowUnpinned,
      files: [{ name: "db-password", content: dbPassword }],
      env: [`POSTGRES_USER=${GATEWAY_DB_NAME}`, `POSTGRES_DB=${GATEWAY_DB_NAME}`, `POSTGRES_PASSWORD_FILE=${CONFIG_DIR}/db-password`],
      volumes: [{ volumeName: this.databaseVolume.name, containerPath: POSTGRES_DATA_DIR, readOnly: false }],
      hardening: {
        memoryMb: dbMemoryMb,
        cpuShares: 512,
        // The socket directory and temp files; the cluster lives on the volume.
        tmpfsMb: { "/tmp": 64, "/var/run/postgresql": 8 },
        healthcheck: ["pg_isready", "-h", "127.0.0.1", "-p", String(GATEWAY_DB_PORT), "-U", GATEWAY_DB_NAME, "-d", GATEWAY_DB_NAME],
        healthStartPeriod: "60s",
        // A fast shutdown writes a checkpoint; SIGKILL would leave recovery to the next start.
        stopGraceSeconds: 60,
      },
    });

    const databaseUrl = `postgresql://${GATEWAY_DB_NAME}:${dbPassword}@${dbHost}:${GATEWAY_DB_PORT}/${GATEWAY_DB_NAME}`;
    this.gatewayService = new HardenedService(this, "gateway", {
      name: this.name,
      role: GatewayRole.GATEWAY,
      catalogImage: IMAGES.litellm,
      image: rawProps.image,
      imageProp: "image",
      allowUnpinnedImages: allowUnpinned,
      files: [
        {
          name: "config.yaml",
          content: Lazy.stringValue({
            produce: () =>
              renderLitellmConfig({
                models: this.models,
                upstreamBaseUrl: `http://127.0.0.1:${GATEWAY_CLIENT_PORT}/v1`,
                masterKey,
                databaseUrl,
                requestTimeoutSeconds: this.timeoutSeconds,
              }),
          }),
        },
        { name: "salt-key", content: saltKey },
      ],
      env: [
        "DISABLE_ADMIN_UI=True",
        "NO_DOCS=True",
        "NO_REDOC=True",
        // Read-only root: Prisma's migration files are copied here before `migrate deploy` runs at start.
        "LITELLM_MIGRATION_DIR=/tmp/litellm-migrations",
        "LITELLM_LOG=INFO",
      ],
      // The salt key from its file (LiteLLM reads it from the environment only); exec keeps LiteLLM PID 1.
      // 127.0.0.1: the proxy and the reconcile job in this namespace are its only clients.
      entrypoint: [
        "/bin/sh",
        "-c",
        `export LITELLM_SALT_KEY="$(cat ${CONFIG_DIR}/salt-key)"; exec litellm --config ${CONFIG_DIR}/config.yaml --host 127.0.0.1 --port ${LITELLM_PORT} --num_workers 1`,
      ],
      hardening: {
        memoryMb,
        cpuShares: 1024,
        tmpfsMb: { "/tmp": 256 },
        // No curl or wget in the image: python's urllib (liveliness answers without the database).
        healthcheck: ["python", "-c", `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${LITELLM_PORT}/health/liveliness', timeout=4)`],
        healthStartPeriod: "120s",
      },
      dependsOn: [this.databaseService.container],
    });
    this.databaseService.allowFrom(this.gatewayService, { port: GATEWAY_DB_PORT, authentication: Authentication.NETWORK_ONLY });

    this.proxyService = new HardenedService(this, "proxy", {
      name: `${this.name}-proxy`,
      role: GatewayRole.PROXY,
      catalogImage: IMAGES.nginx,
      image: rawProps.proxyImage,
      imageProp: "proxyImage",
      allowUnpinnedImages: allowUnpinned,
      ca,
      serverIdentity: { commonName: this.name, dnsNames: [GATEWAY_SERVER_NAME, this.name] },
      clientIdentity: GATEWAY_IDENTITY,
      files: [{ name: "nginx.conf", content: Lazy.stringValue({ produce: () => this.nginxConfig }) }],
      hardening: {
        memoryMb: 128,
        cpuShares: 512,
        tmpfsMb: { "/tmp": 64 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${GATEWAY_HEALTH_PORT}/healthz`],
      },
      namespaceOf: this.gatewayService,
      entrypoint: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`, "-g", "daemon off;"],
      // nginx resolves upstream names at start: the sidecars must exist first.
      dependsOn: inference.sidecars.map((s) => s.container),
    });
    // One more caller of every sidecar, with its own identity; it forwards the app LiteLLM verified.
    inference.addCaller(this.proxyService, { forwardsIdentity: true });
    this.proxyService.allowFrom(inference.edge.service, { port: GATEWAY_EDGE_PORT, authentication: Authentication.MTLS });
    inference.edge.addSite({
      hostnames: [hostname],
      paths: this.routes,
      upstreams: [`${this.name}:${GATEWAY_EDGE_PORT}`],
      upstreamServerName: GATEWAY_SERVER_NAME,
      browser: false,
      // An app certificate, then the virtual key in Authorization: no OIDC here (oauth2-proxy would take
      // the key for a JWT and refuse it), so the edge's gate is skipped for this site only.
      clientCertMode: ClientCertMode.REQUIRE_AND_VERIFY,
      certificateOnly: true,
    });

    // Keys: generated values (a rotation clock replaces one near the end of its lifetime), registered by the job.
    const desired: DesiredKey[] = [];
    let clockKey: PrivateKey | undefined;
    for (const app of this.apps) {
      let keepers: Record<string, string> | undefined;
      if (app.rotateAfterDays !== undefined) {
        clockKey ??= new PrivateKey(this, "rotation-clock-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        const hours = app.rotateAfterDays * 24;
        // Like the leaf certificates: a plan in the early-renewal window re-creates the clock, and with it the key.
        const clock = new SelfSignedCert(this, `rotation-clock-${app.name}`, {
          privateKeyPem: clockKey.privateKeyPem,
          subject: [{ commonName: `rotation-${app.name}` }],
          validityPeriodHours: hours,
          earlyRenewalHours: Math.max(24, Math.floor(hours / 10)),
          allowedUses: ["digital_signature"],
        });
        keepers = { rotation: clock.validityStartTime };
      }
      const key = `sk-${new Password(this, `key-${app.name}`, { length: 48, special: false, ...(keepers ? { keepers } : {}) }).result}`;
      desired.push({
        alias: app.name,
        key,
        models: app.models,
        maxBudget: app.monthlyBudgetUsd ?? null,
        budgetDuration: app.monthlyBudgetUsd === undefined ? null : "30d",
        rpmLimit: app.requestsPerMinute ?? null,
        tpmLimit: app.tokensPerMinute ?? null,
        duration: app.rotateAfterDays === undefined ? null : `${app.rotateAfterDays}d`,
      });
      const keyOutput = `${outPrefix}_key_${app.name.replace(/-/g, "_")}`;
      new TerraformOutput(this, `key-${app.name}-output`, {
        description: `Virtual key of app ${app.name} (Bearer token at https://${hostname}/v1)`,
        sensitive: true,
        value: key,
      }).overrideLogicalId(keyOutput);
      this.keyOutputs[app.name] = keyOutput;

      const cert = ca.issueClientCertificate(this, `app-${app.name}-cert`, { commonName: `app-${app.name}`, organizationalUnit: OPERATOR_OU });
      this.appCertificates[app.name] = cert;
      const bundleOutput = `${outPrefix}_app_${app.name.replace(/-/g, "_")}_bundle`;
      new TerraformOutput(this, `app-${app.name}-bundle`, {
        description: `mTLS client bundle of app ${app.name} (certificate, key, CA)`,
        sensitive: true,
        value: { certificate_pem: cert.certPem, private_key_pem: cert.privateKeyPem, ca_certificate_pem: ca.certPem },
      }).overrideLogicalId(bundleOutput);
      this.bundleOutputs[app.name] = bundleOutput;
    }

    // Runs in LiteLLM's namespace (127.0.0.1:4000, no network of its own) as an unnamed uid: python stdlib only.
    // Its config hash changes with any app, limit or key value, which replaces it and so runs it again.
    this.reconcileJob = new HardenedJob(this, "keys", {
      name: `${this.name}-keys`,
      role: GatewayRole.KEYS,
      catalogImage: IMAGES.litellm,
      image: rawProps.image,
      imageProp: "image",
      allowUnpinnedImages: allowUnpinned,
      user: "65534:65534",
      files: [
        { name: "reconcile.py", content: renderReconcileScript() },
        { name: "keys.json", content: renderDesiredKeys(desired) },
        { name: "master-key", content: masterKey },
      ],
      namespaceOf: this.gatewayService,
      entrypoint: ["python", `${CONFIG_DIR}/reconcile.py`],
      hardening: { memoryMb: 128, cpuShares: 256, tmpfsMb: { "/tmp": 16 } },
      dependsOn: [this.gatewayService.container],
    });

    if (spend.enabled) {
      const parts = this.createSpendExporter({ ...spend, dbHost, dbPassword, allowUnpinned, postgresImage: rawProps.postgresImage, litellmImage: rawProps.image ?? IMAGES.litellm.reference });
      this.spendExporter = parts.exporter;
      this.spendGrantsJob = parts.grants;
      this.spendCursorVolume = parts.cursor;
    }

    new TerraformOutput(this, "endpoint", {
      description: "OpenAI-compatible base URL of the API gateway (an app bundle + its key)",
      value: `https://${hostname}${inference.edge.hostPort === 443 ? "" : `:${inference.edge.hostPort}`}/v1`,
    }).overrideLogicalId(`${outPrefix}_endpoint`);
  }

  /** The paths the edge routes to the gateway: the inference's OpenAI routes. */
  public get routes(): string[] {
    return (this.inference?.routes ?? []).filter((r) => r.startsWith("/v1/"));
  }

  /** The app names, in declaration order. */
  public get appNames(): string[] {
    return this.apps.map((a) => a.name);
  }

  /** The rendered proxy config (no secrets: keys and certificates are files beside it). */
  public get nginxConfig(): string {
    const inference = this.inference!;
    return renderGatewayProxyNginxConfig({
      edgeListenPort: GATEWAY_EDGE_PORT,
      edgeSubjects: [inference.edge.clientSubjectDn],
      routes: this.routes,
      litellmUpstream: `127.0.0.1:${LITELLM_PORT}`,
      clientPort: GATEWAY_CLIENT_PORT,
      inferenceUpstreams: inference.upstreams,
      inferenceServerName: inference.upstreamServerName,
      apps: this.appNames,
      identityPrefix: GATEWAY_IDENTITY.name,
      healthPort: GATEWAY_HEALTH_PORT,
      configDir: CONFIG_DIR,
      runDir: "/tmp",
      accessLog: "/dev/stdout",
      errorLog: "/dev/stderr",
      maxRequestBodyMb: this.maxRequestBodyMb,
      generationTimeoutSeconds: this.timeoutSeconds,
    });
  }

  /**
   * The spend exporter's props. Its default follows the AuditLog: on when the stack has one when the gateway is
   * created. An AuditLog created later would silently miss the spend lines, so that is a ConfigError at synth.
   */
  private checkSpendLogs(problems: Problems, p: ApiGatewayProps): { enabled: boolean; intervalSeconds: number; settleSeconds: number } {
    const hasAudit = () => TerraformStack.of(this).node.findAll().some((c) => c instanceof AuditLog);
    const given = p.auditSpendLogs;
    const enabled = readBoolean(problems, "auditSpendLogs", given, given === undefined ? hasAudit() : false);
    const intervalSeconds = readNumber(problems, "spendLogIntervalSeconds", p.spendLogIntervalSeconds, 30, { min: 5, max: 3600, unit: "s" });
    const settleSeconds = readNumber(problems, "spendLogSettleSeconds", p.spendLogSettleSeconds, 60, { min: 0, max: 3600, unit: "s" });
    if (!enabled && given === false) {
      for (const prop of ["spendLogIntervalSeconds", "spendLogSettleSeconds"] as const) {
        problems.check(p[prop] === undefined, prop, p[prop], "It only applies to the spend exporter: leave it out, or set auditSpendLogs: true.");
      }
    }
    if (given === undefined && !enabled) {
      const where = whereIs("ApiGateway", this.node.path);
      addStackCheck(this, `api-gateway-spend:${this.node.path}`, () =>
        hasAudit()
          ? [
              {
                prop: "auditSpendLogs",
                received: describeValue(undefined),
                fix: "The stack's AuditLog is created after this gateway, so its spend lines would not reach the audit trail: create the AuditLog first, or set auditSpendLogs (true or false) explicitly.",
                where,
              },
            ]
          : [],
      );
    }
    return { enabled, intervalSeconds, settleSeconds };
  }

  /**
   * The spend exporter and its grants job. The exporter reaches Postgres on a network of its own (the trust graph's
   * pair network): the gateway's database network stays the gateway's alone. It logs in as a role that may SELECT
   * the spend log table and nothing else, with a password of its own (a file), granted by the job from LiteLLM's
   * namespace, where the owner's password already is.
   */
  private createSpendExporter(o: {
    intervalSeconds: number;
    settleSeconds: number;
    dbHost: string;
    dbPassword: string;
    allowUnpinned: boolean;
    postgresImage?: string;
    litellmImage: string;
  }): { exporter: HardenedService; grants: HardenedJob; cursor: Volume } {
    const readerPassword = new Password(this, "spend-reader-password", { length: 40, special: false }).result;
    const image = { catalogImage: IMAGES.postgres, image: o.postgresImage, imageProp: "postgresImage", allowUnpinnedImages: o.allowUnpinned };
    const grants = new HardenedJob(this, "spend-grants", {
      ...image,
      name: `${this.name}-spend-grants`,
      role: GatewayRole.SPEND_GRANTS,
      files: [
        {
          name: "grants.sh",
          content: renderSpendGrantsScript({
            host: o.dbHost,
            port: GATEWAY_DB_PORT,
            database: GATEWAY_DB_NAME,
            ownerUser: GATEWAY_DB_NAME,
            configDir: CONFIG_DIR,
            runDir: "/tmp",
            waitSeconds: 300,
            litellmImage: o.litellmImage,
          }),
        },
        { name: "grants.sql", content: renderSpendGrantsSql({ database: GATEWAY_DB_NAME, litellmImage: o.litellmImage }) },
        { name: "db-password", content: o.dbPassword },
        { name: "spend-reader-password", content: readerPassword },
      ],
      // LiteLLM's namespace: its database network, no network of its own.
      namespaceOf: this.gatewayService,
      entrypoint: ["/bin/sh", `${CONFIG_DIR}/grants.sh`],
      hardening: { memoryMb: 64, cpuShares: 128, tmpfsMb: { "/tmp": 1 } },
      dependsOn: [this.gatewayService.container],
    });
    const cursor = new Volume(this, "spend-cursor", { name: `${this.name}-spend-cursor` });
    const exporter = new HardenedService(this, "spend", {
      ...image,
      name: `${this.name}-spend`,
      role: GatewayRole.SPEND,
      files: [
        {
          name: "export.sh",
          content: renderSpendExporterScript({
            host: o.dbHost,
            port: GATEWAY_DB_PORT,
            database: GATEWAY_DB_NAME,
            intervalSeconds: o.intervalSeconds,
            settleSeconds: o.settleSeconds,
            configDir: CONFIG_DIR,
            stateDir: SPEND_STATE_DIR,
            runDir: "/tmp",
          }),
        },
        { name: "export.sql", content: renderSpendQuery() },
        { name: "spend-reader-password", content: readerPassword },
      ],
      entrypoint: ["/bin/sh", `${CONFIG_DIR}/export.sh`],
      volumes: [{ volumeName: cursor.name, containerPath: SPEND_STATE_DIR, readOnly: false }],
      hardening: {
        memoryMb: 64,
        cpuShares: 128,
        tmpfsMb: { "/tmp": 8 },
        healthcheck: spendExporterHealthcheck({ runDir: "/tmp", intervalSeconds: o.intervalSeconds }),
        // LiteLLM's start (migrations), then the grants job.
        healthStartPeriod: "180s",
      },
      dependsOn: [grants.container],
    });
    this.databaseService.allowFrom(exporter, { port: GATEWAY_DB_PORT, authentication: Authentication.NETWORK_ONLY });
    return { exporter, grants, cursor };
  }

  private checkModels(problems: Problems, raw: unknown, servedModelName: string): void {
    const given = raw === undefined ? [{ name: servedModelName }] : readList<GatewayModelProps>(problems, "models", raw, false, '[{ name: "qwen-0.5b" }]');
    if (raw !== undefined && Array.isArray(raw)) problems.check(given.length > 0, "models", raw, 'Offer at least one model, e.g. [{ name: "qwen-0.5b" }], or leave models out.');
    given.forEach((m, i) => {
      const at = `models[${i}]`;
      if (m === null || typeof m !== "object") {
        problems.add(at, m, 'Give an object, e.g. { name: "qwen-0.5b" }.');
        return;
      }
      const name = readString(problems, `${at}.name`, m.name, true, '"qwen-0.5b"') as string;
      if (name !== "") problems.check(MODEL_NAME.test(name), `${at}.name`, name, "Use letters, digits and . _ : / - (at most 128), starting with a letter or digit.");
      problems.check(!this.models.some((o) => o.name === name), `${at}.name`, name, "Each model name once.");
      const upstream = readString(problems, `${at}.upstreamModel`, m.upstreamModel, false, '"Qwen/Qwen2.5-0.5B-Instruct"') ?? servedModelName;
      if (m.upstreamModel !== undefined && !isUnresolved(upstream)) {
        problems.check(
          upstream === servedModelName,
          `${at}.upstreamModel`,
          upstream,
          `The inference serves one model, "${servedModelName}": leave upstreamModel out or use that name.`,
        );
      }
      const price = { min: 0, max: 10000, integer: false, unit: "USD per million tokens" };
      const input = readNumber(problems, `${at}.inputCostPerMillionTokensUsd`, m.inputCostPerMillionTokensUsd, 0, price);
      const output = readNumber(problems, `${at}.outputCostPerMillionTokensUsd`, m.outputCostPerMillionTokensUsd, 0, price);
      // Per token, rounded: 0.1 / 1e6 would print as 1.0000000000000001e-7.
      const perToken = (perMillion: number) => Number((perMillion / 1e6).toPrecision(12));
      this.models.push({ name, upstreamModel: upstream, inputCostPerToken: perToken(input), outputCostPerToken: perToken(output) });
    });
  }

  private checkApps(problems: Problems, raw: unknown): void {
    const apps = readList<GatewayAppProps>(problems, "apps", raw, true, '[{ name: "nightly-summaries", models: ["qwen-0.5b"] }]');
    if (Array.isArray(raw)) problems.check(apps.length > 0, "apps", raw, 'Declare at least one app, e.g. [{ name: "nightly-summaries", models: ["qwen-0.5b"] }].');
    const offered = this.models.map((m) => m.name);
    apps.forEach((a, i) => {
      const at = `apps[${i}]`;
      if (a === null || typeof a !== "object") {
        problems.add(at, a, 'Give an object, e.g. { name: "nightly-summaries", models: ["qwen-0.5b"] }.');
        return;
      }
      const name = readString(problems, `${at}.name`, a.name, true, '"nightly-summaries"') as string;
      if (name !== "") {
        problems.check(
          APP_NAME.test(name),
          `${at}.name`,
          name,
          'Use a lowercase name of letters, digits and "-" (at most 40, starting with a letter): it becomes the key alias, an output name and a certificate name.',
        );
      }
      problems.check(!this.apps.some((o) => o.name === name), `${at}.name`, name, "Each app once: two apps with one name would share a key.");
      const models = readStrings(problems, `${at}.models`, a.models, true, '["qwen-0.5b"]');
      if (Array.isArray(a.models)) problems.check(models.length > 0, `${at}.models`, a.models, `Allow at least one model (offered: ${offered.join(", ")}).`);
      for (const m of models) {
        problems.check(offered.includes(m), `${at}.models`, m, `Use a model the gateway offers (${offered.join(", ")}), or add it to models.`);
      }
      const budget = a.monthlyBudgetUsd === undefined ? undefined : readNumber(problems, `${at}.monthlyBudgetUsd`, a.monthlyBudgetUsd, 0, { min: 0.01, max: 1000000, integer: false, unit: "USD" });
      if (budget !== undefined && budget > 0) {
        const unpriced = models.filter((m) => {
          const model = this.models.find((o) => o.name === m);
          return model !== undefined && !model.inputCostPerToken && !model.outputCostPerToken;
        });
        problems.check(
          unpriced.length === 0,
          `${at}.monthlyBudgetUsd`,
          budget,
          `Spend on ${unpriced.join(", ")} is always 0 USD, so the budget could never be reached: give those models inputCostPerMillionTokensUsd / outputCostPerMillionTokensUsd.`,
        );
      }
      const rpm = a.requestsPerMinute === undefined ? undefined : readNumber(problems, `${at}.requestsPerMinute`, a.requestsPerMinute, 0, { min: 1, max: 100000 });
      const tpm = a.tokensPerMinute === undefined ? undefined : readNumber(problems, `${at}.tokensPerMinute`, a.tokensPerMinute, 0, { min: 1, max: 1000000000 });
      const rotate =
        a.rotateAfterDays === undefined ? undefined : readNumber(problems, `${at}.rotateAfterDays`, a.rotateAfterDays, 0, { min: 2, max: 3650, unit: "days" });
      this.apps.push({
        name,
        models,
        monthlyBudgetUsd: budget || undefined,
        requestsPerMinute: rpm || undefined,
        tokensPerMinute: tpm || undefined,
        rotateAfterDays: rotate || undefined,
      });
    });
  }
}
