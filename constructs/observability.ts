import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Password } from "@cdktf/provider-random/lib/password";
import { LocallySignedCert } from "@cdktf/provider-tls/lib/locally-signed-cert";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { Fn, Lazy, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import {
  AlertThresholds,
  ResolvedAlertThresholds,
  WatchedCertificate,
  renderAlertRules,
  resolveAlertThresholds,
} from "../lib/alert-rules";
import { ClientCertMode } from "../lib/caddyfile";
import { Problems, isUnresolved, readablePath, whereIs } from "../lib/errors";
import {
  GRAFANA_PORT,
  GRAFANA_PROXY_HEALTH_PORT,
  GRAFANA_PROXY_PORT,
  renderGrafanaDashboardProvider,
  renderAuditDashboard,
  renderGrafanaDatasource,
  renderGrafanaIni,
  renderGrafanaLokiDatasource,
  renderGrafanaProxyNginxConfig,
  renderVllmDashboard,
} from "../lib/grafana";
import {
  CONFIG_DIR,
  GRAFANA_SERVER_NAME,
  PROMETHEUS_SERVER_NAME,
  ServiceIdentities,
  ServiceRole,
} from "../lib/identities";
import { IMAGES, checkImagePinned } from "../lib/images";
import { readBoolean, readObject } from "../lib/shape";
import {
  PROMETHEUS_FILES,
  PROMETHEUS_GRAFANA_USER,
  renderPrometheusConfig,
  renderPrometheusHealthcheckHttpConfig,
  renderPrometheusWebConfig,
} from "../lib/prometheus";
import { isDnsName, isDockerName, isEmail, isPositiveInt } from "../lib/validate";
import { AuditLog } from "./audit-log";
import { ConfigVolume } from "./config-volume";
import { HardenedService } from "./hardened-service";
import { IssuedCertificate } from "./internal-ca";
import { IAuditTrailReader } from "./interfaces";
import { PinnedImages } from "./pinned-images";
import { Authentication } from "./trust-graph";
import { SecureInference } from "./secure-inference";

/** Prometheus' HTTPS port (TLS + client certificate + basic auth), on the internal network only. */
export const PROMETHEUS_PORT = 9090;
/** Where Prometheus keeps its TSDB (the image's VOLUME, owned by nobody). */
export const PROMETHEUS_DATA_DIR = "/prometheus";
/** Grafana's writable data volume (sqlite database, sessions; the image's directory, 472:0, whose owner Docker copies into the new volume). */
export const GRAFANA_DATA_DIR = "/var/lib/grafana";
/** Grafana's provisioning root; datasources/ and dashboards/ below it are read-only volumes of their own. */
export const GRAFANA_PROVISIONING_DIR = "/etc/grafana-provisioning";
/** The Prometheus version of the catalog image, for Grafana's query editor. */
const PROMETHEUS_IMAGE_VERSION = "3.5.0";

export interface ObservabilityProps {
  /** The inference service to watch. It must have `metricsScraper: true` and `oidc` (Grafana signs people in through its gate). */
  readonly inference: SecureInference;
  /** The hostname people open Grafana on: its own site on the edge, behind the OIDC gate. */
  readonly grafanaHostname: string;
  /** Keep samples this many days. @default 15 */
  readonly retentionDays?: number;
  /** ...and at most this many MB on disk (the older blocks go first). @default 8192 */
  readonly retentionSizeMb?: number;
  /** @default 15 */
  readonly scrapeIntervalSeconds?: number;
  /** Alert thresholds. @default DEFAULT_ALERT_THRESHOLDS (lib/alert-rules.ts) */
  readonly alerts?: AlertThresholds;
  /** The gate identity (email) that is Grafana's admin. @default none: everyone who signs in is a Viewer */
  readonly grafanaAdminEmail?: string;
  /**
   * Create a Viewer account for anyone the OIDC gate lets through, on their first visit.
   * @default true (the gate already decides who gets in); false: an admin creates each user first
   */
  readonly autoProvisionViewers?: boolean;
  /** Docker name prefix. @default "<inference prefix>-<id>" */
  readonly name?: string;
  /** @default 2048 */
  readonly prometheusMemoryMb?: number;
  /** @default 512 */
  readonly grafanaMemoryMb?: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** @default IMAGES.prometheus */
  readonly prometheusImage?: string;
  /** @default IMAGES.grafana */
  readonly grafanaImage?: string;
  /** @default IMAGES.nginx (Grafana's proxy) */
  readonly proxyImage?: string;
  /** Accept images that are not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
}

/**
 * Prometheus, its alert rules, and Grafana, for a SecureInference.
 *
 * - Prometheus scrapes every replica's sidecar `/metrics` over mTLS with the metrics-scraper
 *   identity (the only one the sidecars answer /metrics to) and itself. Its API needs a client
 *   certificate from the internal CA and a generated password (Grafana's), see lib/prometheus.ts.
 *   Hardened: read-only root, no capabilities, nobody (65534), limits, a TSDB volume with retention
 *   by time and size, no host port.
 * - Grafana listens on 127.0.0.1 in its own namespace; an nginx in that namespace is the only way
 *   in, from the edge's client certificate alone. The edge publishes it as a browser site behind the
 *   OIDC gate; Grafana trusts the user the proxy passes on (see lib/grafana.ts for why this and not
 *   Grafana's own OIDC). Admin password generated, passed as a file.
 *
 * - Prometheus also scrapes the edge's Caddy (its metrics listener, EdgeProxy.allowMetricsScraper) for
 *   the 401/403 and 429 counts of the abuse alerts.
 *
 * - With an AuditLog with Loki in the same stack (created before or after this), Grafana also gets the trail's
 *   Loki datasource ("Audit trail (Loki)") and the audit dashboard of saved incident queries, and the Loki
 *   gateway admits Grafana's client certificate as a reader (read API only).
 *
 * Each container is a HardenedService; its flows are on the trust graph (Prometheus -> every sidecar and
 * -> the edge as the metrics scraper, Grafana -> Prometheus, Grafana -> the trail's Loki, edge -> Grafana's
 * proxy), each pair with its own network.
 */
export class Observability extends Construct implements IAuditTrailReader {
  public readonly prometheus: Container;
  public readonly grafana: Container;
  public readonly grafanaProxy: Container;
  public readonly prometheusService: HardenedService;
  public readonly grafanaService: HardenedService;
  public readonly grafanaProxyService: HardenedService;
  public readonly prometheusData: Volume;
  public readonly grafanaData: Volume;
  /** The nginx.conf of Grafana's proxy (no secrets). */
  public readonly grafanaProxyNginxConfig: string;
  /** Docker names (DNS names on the internal network). */
  public readonly prometheusName: string;
  public readonly grafanaName: string;
  private readonly thresholds: ResolvedAlertThresholds;
  private readonly autoProvisionViewers: boolean;
  private readonly inference: SecureInference;
  private readonly scrapeIntervalSeconds: number;
  private readonly grafanaClient: IssuedCertificate;
  private readonly grafanaDatasources: ConfigVolume;
  private readonly grafanaDashboards: ConfigVolume;
  /** The AuditLog whose Loki Grafana reads, once attached. */
  private auditTrail?: AuditLog;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const ai = props.inference;
    this.inference = ai;
    const name =
      props.name ?? `${ai.edge.name.replace(/-edge$/, "")}-${id.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}`;
    this.prometheusName = `${name}-prometheus`;
    this.grafanaName = `${name}-grafana`;
    const retentionDays = props.retentionDays ?? 15;
    const retentionSizeMb = props.retentionSizeMb ?? 8192;
    this.scrapeIntervalSeconds = props.scrapeIntervalSeconds ?? 15;
    const allowUnpinned = props.allowUnpinnedImages ?? false;
    const prometheusImage = props.prometheusImage ?? IMAGES.prometheus.reference;
    const grafanaImage = props.grafanaImage ?? IMAGES.grafana.reference;
    const proxyImage = props.proxyImage ?? IMAGES.nginx.reference;

    const problems = new Problems(whereIs("Observability", this.node.path));
    problems.check(
      ai.metricsScraperCertificate !== undefined,
      "inference",
      "a SecureInference without metricsScraper",
      "Set metricsScraper: true on the SecureInference: Prometheus scrapes with that identity, the only one the sidecars answer /metrics to.",
    );
    problems.check(
      ai.gate !== undefined,
      "inference",
      "a SecureInference without oidc",
      "Configure oidc on the SecureInference: people sign in to Grafana through its OIDC gate.",
    );
    if (!isUnresolved(props.grafanaHostname)) {
      problems.check(
        isDnsName(props.grafanaHostname),
        "grafanaHostname",
        props.grafanaHostname,
        'Use a lowercase DNS name like "grafana.example.internal" (no scheme, port or path).',
      );
    }
    problems.check(
      isDockerName(name),
      "name",
      name,
      "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
    );
    for (const [prop, value] of [
      ["retentionDays", retentionDays],
      ["retentionSizeMb", retentionSizeMb],
      ["prometheusMemoryMb", props.prometheusMemoryMb],
      ["grafanaMemoryMb", props.grafanaMemoryMb],
      ["cpuShares", props.cpuShares],
    ] as const) {
      if (value !== undefined) problems.check(isPositiveInt(value), prop, value, "Use a whole number above 0.");
    }
    problems.check(
      Number.isInteger(this.scrapeIntervalSeconds) &&
        this.scrapeIntervalSeconds >= 5 &&
        this.scrapeIntervalSeconds <= 300,
      "scrapeIntervalSeconds",
      this.scrapeIntervalSeconds,
      "Use a whole number of seconds from 5 to 300.",
    );
    if (props.grafanaAdminEmail !== undefined && !isUnresolved(props.grafanaAdminEmail)) {
      problems.check(
        isEmail(props.grafanaAdminEmail),
        "grafanaAdminEmail",
        props.grafanaAdminEmail,
        'Use the email the OIDC gate reports for that person, e.g. "devops@example.com".',
      );
    }
    checkImagePinned(problems, "prometheusImage", prometheusImage, allowUnpinned);
    checkImagePinned(problems, "grafanaImage", grafanaImage, allowUnpinned);
    checkImagePinned(problems, "proxyImage", proxyImage, allowUnpinned);
    this.thresholds = resolveAlertThresholds(
      problems,
      readObject<AlertThresholds>(problems, "alerts", props.alerts, false, "{ queueWaitingRequests: 10 }"),
    );
    this.autoProvisionViewers = readBoolean(problems, "autoProvisionViewers", props.autoProvisionViewers, true);
    problems.throwIfAny();

    const ca = ai.ca;
    const images = PinnedImages.of(this);

    // --- Prometheus -------------------------------------------------------------------------
    // Generated passwords; the web config holds only their bcrypt hashes.
    const grafanaApiPassword = new Password(this, "grafana-api-password", { length: 40, special: false });
    const selfApiPassword = new Password(this, "prometheus-self-password", { length: 40, special: false });
    const scraper = ai.metricsScraperCertificate!;
    this.prometheusData = new Volume(this, "prometheus-data", { name: `${this.prometheusName}-data` });
    this.prometheusService = new HardenedService(this, "prometheus", {
      name: this.prometheusName,
      role: ServiceRole.PROMETHEUS,
      catalogImage: IMAGES.prometheus,
      image: prometheusImage,
      imageProp: "prometheusImage",
      allowUnpinnedImages: allowUnpinned,
      ca,
      serverIdentity: { commonName: this.prometheusName, dnsNames: [PROMETHEUS_SERVER_NAME, this.prometheusName] },
      files: [
        { name: PROMETHEUS_FILES.config, content: Lazy.stringValue({ produce: () => this.prometheusConfig }) },
        {
          name: PROMETHEUS_FILES.webConfig,
          content: renderPrometheusWebConfig({
            configDir: CONFIG_DIR,
            grafanaPasswordBcrypt: grafanaApiPassword.bcryptHash,
            selfPasswordBcrypt: selfApiPassword.bcryptHash,
          }),
        },
        { name: PROMETHEUS_FILES.rules, content: Lazy.stringValue({ produce: () => this.alertRules }) },
        {
          name: PROMETHEUS_FILES.healthcheckHttpConfig,
          content: renderPrometheusHealthcheckHttpConfig(CONFIG_DIR, PROMETHEUS_SERVER_NAME),
        },
        { name: PROMETHEUS_FILES.selfPassword, content: selfApiPassword.result },
        // The metrics scraper identity SecureInference issued: the only one the sidecars answer /metrics to.
        { name: PROMETHEUS_FILES.clientCert, content: scraper.certPem },
        { name: PROMETHEUS_FILES.clientKey, content: scraper.privateKeyPem },
      ],
      hardening: {
        memoryMb: props.prometheusMemoryMb ?? 2048,
        cpuShares: props.cpuShares ?? 512,
        tmpfsMb: { "/tmp": 16 },
        // The API needs credentials, /-/healthy too: promtool presents them from the config volume.
        healthcheck: [
          "/bin/promtool",
          "check",
          "healthy",
          `--url=https://127.0.0.1:${PROMETHEUS_PORT}`,
          `--http.config.file=${CONFIG_DIR}/${PROMETHEUS_FILES.healthcheckHttpConfig}`,
        ],
        healthStartPeriod: "60s",
        // TSDB compaction and WAL flush on shutdown.
        stopGraceSeconds: 60,
      },
      // The image's entrypoint is /bin/prometheus; these replace its default flags.
      command: [
        `--config.file=${CONFIG_DIR}/${PROMETHEUS_FILES.config}`,
        `--web.config.file=${CONFIG_DIR}/${PROMETHEUS_FILES.webConfig}`,
        `--web.listen-address=:${PROMETHEUS_PORT}`,
        `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
        `--storage.tsdb.retention.time=${retentionDays}d`,
        `--storage.tsdb.retention.size=${retentionSizeMb}MB`,
      ],
      volumes: [{ volumeName: this.prometheusData.name, containerPath: PROMETHEUS_DATA_DIR, readOnly: false }],
    });
    this.prometheus = this.prometheusService.container;
    // Prometheus scrapes every replica's sidecar with the scraper identity (its own network to each).
    ai.addCaller(this.prometheusService, { identity: ServiceIdentities.METRICS_SCRAPER, metrics: true });
    // ...and the edge's HTTP metrics (the 401/403 and 429 counts the abuse alerts watch), on a listener
    // of the edge's own that answers this identity alone, over a network of this pair alone.
    ai.edge.allowMetricsScraper(this.prometheusService, ServiceIdentities.METRICS_SCRAPER);

    // --- Grafana ----------------------------------------------------------------------------
    const adminPassword = new Password(this, "grafana-admin-password", { length: 40, special: false });
    // Issued here, not as the service's clientIdentity: the datasource file carries the PEMs inline.
    const grafanaIdentity = ServiceIdentities.GRAFANA;
    const grafanaClient = (this.grafanaClient = ca.issueClientCertificate(this, "grafana-client-cert", {
      commonName: grafanaIdentity.commonName,
      organizationalUnit: grafanaIdentity.organizationalUnit,
    }));
    const grafanaImageId = images.imageId(grafanaImage);
    const datasources = (this.grafanaDatasources = new ConfigVolume(this, "grafana-datasources", {
      name: `${this.grafanaName}-datasources`,
      imageId: grafanaImageId,
      files: [
        {
          name: "prometheus.yaml",
          content: renderGrafanaDatasource({
            url: `https://${this.prometheusName}:${PROMETHEUS_PORT}`,
            serverName: PROMETHEUS_SERVER_NAME,
            basicAuthUser: PROMETHEUS_GRAFANA_USER,
            scrapeIntervalSeconds: this.scrapeIntervalSeconds,
            prometheusVersion: PROMETHEUS_IMAGE_VERSION,
            // Quoted by Terraform at apply time: PEMs hold newlines.
            quoted: {
              basicAuthPassword: Fn.jsonencode(grafanaApiPassword.result),
              caCertPem: Fn.jsonencode(ca.certPem),
              clientCertPem: Fn.jsonencode(grafanaClient.certPem),
              clientKeyPem: Fn.jsonencode(grafanaClient.privateKeyPem),
            },
          }),
        },
      ],
    }));
    const dashboardsDir = `${GRAFANA_PROVISIONING_DIR}/dashboards`;
    const dashboards = (this.grafanaDashboards = new ConfigVolume(this, "grafana-dashboards", {
      name: `${this.grafanaName}-dashboards`,
      imageId: grafanaImageId,
      files: [
        { name: "provider.yaml", content: renderGrafanaDashboardProvider(dashboardsDir) },
        { name: "vllm.json", content: renderVllmDashboard() },
      ],
    }));
    this.grafanaData = new Volume(this, "grafana-data", { name: `${this.grafanaName}-data` });
    this.grafanaService = new HardenedService(this, "grafana", {
      name: this.grafanaName,
      role: ServiceRole.GRAFANA,
      catalogImage: IMAGES.grafana,
      image: grafanaImage,
      imageProp: "grafanaImage",
      allowUnpinnedImages: allowUnpinned,
      files: [
        {
          name: "grafana.ini",
          content: renderGrafanaIni({
            provisioningDir: GRAFANA_PROVISIONING_DIR,
            dataDir: GRAFANA_DATA_DIR,
            publicHostname: props.grafanaHostname,
            publicPort: ai.edge.hostPort,
            adminEmail: props.grafanaAdminEmail ?? "admin@localhost",
            autoSignUp: this.autoProvisionViewers,
          }),
        },
        { name: "admin-password", content: adminPassword.result },
      ],
      hardening: {
        memoryMb: props.grafanaMemoryMb ?? 512,
        cpuShares: props.cpuShares ?? 512,
        tmpfsMb: { "/tmp": 64 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${GRAFANA_PORT}/api/health`],
        healthStartPeriod: "60s",
      },
      // grafana server directly: the image's run.sh is bypassed (it passes the image's default paths
      // on the command line). The image also sets GF_PATHS_* in its environment, which override the
      // ini: they are set here to the same values as grafana.ini.
      entrypoint: [
        "grafana",
        "server",
        "--homepath=/usr/share/grafana",
        `--config=${CONFIG_DIR}/grafana.ini`,
        "--packaging=docker",
      ],
      env: [
        `GF_PATHS_CONFIG=${CONFIG_DIR}/grafana.ini`,
        `GF_PATHS_DATA=${GRAFANA_DATA_DIR}`,
        `GF_PATHS_LOGS=${GRAFANA_DATA_DIR}/log`,
        `GF_PATHS_PLUGINS=${GRAFANA_DATA_DIR}/plugins`,
        `GF_PATHS_PROVISIONING=${GRAFANA_PROVISIONING_DIR}`,
        // The admin password from a file, never an environment value.
        `GF_SECURITY_ADMIN_PASSWORD__FILE=${CONFIG_DIR}/admin-password`,
      ],
      volumes: [
        datasources.mountAt(`${GRAFANA_PROVISIONING_DIR}/datasources`),
        dashboards.mountAt(dashboardsDir),
        { volumeName: this.grafanaData.name, containerPath: GRAFANA_DATA_DIR, readOnly: false },
      ],
      // A change of the provisioning files replaces it too (the config volume's hash is its own label).
      labels: [
        {
          label: "zta.provisioning-sha256",
          value: Fn.sha256(Fn.join(",", [datasources.contentHash, dashboards.contentHash])),
        },
      ],
      dependsOn: [datasources.loader, dashboards.loader],
    });
    this.grafana = this.grafanaService.container;
    // Grafana queries Prometheus with its certificate (and the generated password).
    this.prometheusService.allowFrom(this.grafanaService, {
      port: PROMETHEUS_PORT,
      authentication: Authentication.MTLS,
      identity: grafanaIdentity,
    });

    // --- Grafana's proxy: the only way into Grafana's namespace ----------------------------
    this.grafanaProxyNginxConfig = renderGrafanaProxyNginxConfig({
      listenPort: GRAFANA_PROXY_PORT,
      healthPort: GRAFANA_PROXY_HEALTH_PORT,
      grafanaUpstream: `127.0.0.1:${GRAFANA_PORT}`,
      edgeSubjects: [ai.edge.clientSubjectDn],
      configDir: CONFIG_DIR,
      runDir: "/tmp",
      accessLog: "/dev/stdout",
      errorLog: "/dev/stderr",
    });
    this.grafanaProxyService = new HardenedService(this, "grafana-proxy", {
      name: `${this.grafanaName}-proxy`,
      role: ServiceRole.GRAFANA_PROXY,
      catalogImage: IMAGES.nginx,
      image: proxyImage,
      imageProp: "proxyImage",
      allowUnpinnedImages: allowUnpinned,
      ca,
      serverIdentity: { commonName: this.grafanaName, dnsNames: [GRAFANA_SERVER_NAME, this.grafanaName] },
      files: [{ name: "nginx.conf", content: this.grafanaProxyNginxConfig }],
      hardening: {
        memoryMb: 128,
        cpuShares: 256,
        tmpfsMb: { "/tmp": 32 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${GRAFANA_PROXY_HEALTH_PORT}/healthz`],
      },
      namespaceOf: this.grafanaService,
      entrypoint: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`, "-g", "daemon off;"],
    });
    this.grafanaProxy = this.grafanaProxyService.container;

    // Grafana's site on the edge, and the edge -> proxy flow (its network), in one call.
    ai.edge.publishSite(this.grafanaProxyService, GRAFANA_PROXY_PORT, {
      hostnames: [props.grafanaHostname],
      paths: [],
      upstreamServerName: GRAFANA_SERVER_NAME,
      browser: true,
      clientCertMode: ClientCertMode.VERIFY_IF_GIVEN,
    });
    // People sign in on the Grafana hostname too (register https://<hostname>/oauth2/callback at the IdP).
    ai.gate!.addHostname(props.grafanaHostname);

    // An AuditLog created before this one: attach to it here (one created later calls attachAuditTrail itself).
    const trail = TerraformStack.of(this)
      .node.findAll()
      .find((c): c is AuditLog => c instanceof AuditLog && c.loki !== undefined);
    if (trail) this.attachAuditTrail(trail);
  }

  /**
   * Lets Grafana read `trail`'s Loki: its datasource (with Grafana's client certificate issued here), the audit
   * dashboard, and Grafana as a reader at the Loki gateway (its subject in the gateway's map, a network of the pair).
   * Called once per stack, by whichever of the two constructs is created second; nothing happens with `loki: false`.
   */
  public attachAuditTrail(trail: AuditLog): void {
    if (trail.loki === undefined || this.auditTrail === trail) return;
    // The trail's props are where the fix goes: the problems name the AuditLog.
    const problems = new Problems(whereIs("AuditLog", trail.node.path));
    problems.check(
      this.auditTrail === undefined,
      "loki",
      true,
      `Grafana reads one audit trail, ${this.auditTrail?.node.path}'s: keep one AuditLog with Loki per stack (loki: false on the others).`,
    );
    problems.check(
      trail.ca === this.inference.ca,
      "ca",
      trail.ca.node.path,
      "Pass the inference service's CA (ca: ai.ca): the Loki gateway verifies Grafana's client certificate against it.",
    );
    problems.throwIfAny();
    this.auditTrail = trail;
    const ca = this.inference.ca;
    this.grafanaDatasources.addFile({
      name: "loki.yaml",
      content: renderGrafanaLokiDatasource({
        url: trail.lokiUrl!,
        serverName: trail.lokiServerName!,
        quoted: {
          caCertPem: Fn.jsonencode(ca.certPem),
          clientCertPem: Fn.jsonencode(this.grafanaClient.certPem),
          clientKeyPem: Fn.jsonencode(this.grafanaClient.privateKeyPem),
        },
      }),
    });
    this.grafanaDashboards.addFile({ name: "audit.json", content: renderAuditDashboard() });
    trail.allowLokiReader(this.grafanaService, ServiceIdentities.GRAFANA);
  }

  /** The rendered prometheus.yml (no secrets: keys and the password are files beside it). */
  public get prometheusConfig(): string {
    return renderPrometheusConfig({
      configDir: CONFIG_DIR,
      scrapeIntervalSeconds: this.scrapeIntervalSeconds,
      sidecarTargets: this.inference.upstreams,
      sidecarServerName: this.inference.upstreamServerName,
      selfTarget: `127.0.0.1:${PROMETHEUS_PORT}`,
      selfServerName: PROMETHEUS_SERVER_NAME,
      edge: this.inference.edge.metricsTarget,
    });
  }

  /** The rendered alert rules; one expiry alert per certificate of the stack (computed at synth). */
  public get alertRules(): string {
    return renderAlertRules({
      thresholds: this.thresholds,
      certificates: this.watchedCertificates(),
      // The edge is scraped (allowMetricsScraper above): the 401/403 and 429 burst alerts have their counts.
      edgeMetrics: this.inference.edge.metricsTarget !== undefined,
    });
  }

  /** Every certificate the stack issues (the CA's root included), with the time to start warning. */
  private watchedCertificates(): WatchedCertificate[] {
    const hours = this.thresholds.certificateWarningDays * 24;
    const stack = TerraformStack.of(this);
    const relative = (path: string): string => readablePath(path.slice(stack.node.path.length + 1));
    return stack.node
      .findAll()
      .filter(
        (c): c is LocallySignedCert | SelfSignedCert => c instanceof LocallySignedCert || c instanceof SelfSignedCert,
      )
      .map((cert) => ({
        // A leaf's construct (e.g. "inference/edge/server-cert"); the root by its own path.
        name: relative(cert instanceof SelfSignedCert ? cert.node.path : cert.node.scope!.node.path),
        warnAt: Fn.formatdate("YYYYMMDDhhmm", Fn.timeadd(cert.validityEndTime, `-${hours}h`)),
      }));
  }
}
