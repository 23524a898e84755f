import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Aspects, Fn, IAspect, Lazy, TerraformStack, Token } from "cdktf";
// What cdktf itself uses for `dependsOn` in resource configs (a plain address, not an interpolation).
import { dependable } from "cdktf/lib/tfExpression";
import { Construct, IConstruct } from "constructs";
import {
  AUDIT_DATA_DIR,
  AUDIT_PORT,
  AUDIT_RETENTION_DAYS,
  DAEMON_IDENTITY,
  MAX_RETENTION_DAYS,
  pruneHealthcheck,
  renderCollectorConfig,
  renderPruneScript,
  syslogDriverOptions,
  syslogNgSubject,
} from "../lib/audit";
import { PolicyProfile } from "../lib/policy/profiles";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import { RECORD_JOB_SCRIPT } from "../lib/audit-events";
import { CONFIG_DIR, ServiceIdentity, serviceIdentity } from "../lib/identities";
import { IMAGES } from "../lib/images";
import {
  LOKI_DATA_DIR,
  LOKI_GATEWAY_HEALTH_PORT,
  LOKI_GATEWAY_PORT,
  LOKI_HEALTHCHECK,
  LOKI_HTTP_PORT,
  LOKI_PUSH_PATH,
  renderLokiConfig,
  renderLokiGatewayNginxConfig,
} from "../lib/loki";
import { readBoolean } from "../lib/shape";
import { ConfigVolume } from "./config-volume";
import { HardenedJob, HardenedService } from "./hardened-service";
import { InternalCa } from "./internal-ca";
import { isAuditTrailReader } from "./interfaces";
import { Authentication, ExternalZone, TrustGraph } from "./trust-graph";

/** Roles of the audit containers (the `zta.role` label). */
export const AUDIT_COLLECTOR_ROLE = "audit-collector";
export const AUDIT_RETENTION_ROLE = "audit-retention";
export const AUDIT_CHANGE_RECORD_ROLE = "audit-change-record";
export const AUDIT_STORE_ROLE = "audit-store";
export const AUDIT_STORE_GATEWAY_ROLE = "audit-store-gateway";
/** The collector's client identity toward the Loki gateway (the only one that may push). */
export const AUDIT_COLLECTOR_IDENTITY: ServiceIdentity = serviceIdentity("audit-collector");
/** Label on the collector with the retention in days it was rendered with. */
export const AUDIT_RETENTION_LABEL = "zta.audit.retention-days";

const HEARTBEAT = "/tmp/zta-pruned-at";
const PROFILES = Object.keys(AUDIT_RETENTION_DAYS);

export interface AuditLogProps {
  /** The internal CA: it issues the collector's server certificate and the Docker daemon's client certificate (e.g. `ai.ca`). */
  readonly ca: InternalCa;
  /**
   * The threat profile whose minimum retention applies: PolicyProfile.HOMELAB or TEAM (90 days), PRODUCTION (365 days).
   * @default "production"
   */
  readonly profile?: PolicyProfile;
  /** Days of audit events kept; at least the profile's minimum, at most 3650. @default the profile's minimum */
  readonly retentionDays?: number;
  /** Docker name prefix of the collector, the pruner and their volumes. @default "zta-audit" */
  readonly name?: string;
  /** Host port the collector is published on, on 127.0.0.1 only (the Docker daemon dials it). @default 6514 */
  readonly hostPort?: number;
  /** Ring buffer per container while the collector is slow or down (Docker's `max-buffer-size`). @default "4m" */
  readonly bufferSize?: string;
  /** Seconds between retention runs. @default 3600 */
  readonly pruneIntervalSeconds?: number;
  /** A syslog-ng image instead of the catalog's. @default IMAGES.syslogNg */
  readonly image?: string;
  /**
   * Also push every line to Loki (the trail's query store, with Grafana's datasource when an Observability
   * exists), behind a gateway that lets the collector write and Grafana read. The day files are kept either way.
   * @default true
   */
  readonly loki?: boolean;
  /** A Loki image instead of the catalog's. @default IMAGES.loki */
  readonly lokiImage?: string;
  /** A first day of Loki's v13 schema (YYYY-MM-DD) on or before the first deploy; never change it later. @default "2025-01-01" */
  readonly lokiSchemaFrom?: string;
  /** @default 1024 */
  readonly lokiMemoryMb?: number;
  /** @default false */
  readonly allowUnpinnedImages?: boolean;
}

/**
 * The stack's audit trail: every other container of the stack logs through Docker's `syslog` driver, over TLS
 * with the daemon's client certificate, to a syslog-ng collector published on 127.0.0.1 only; the collector
 * writes one JSON line per message to a file per UTC day on a volume, and a pruner deletes files older than
 * the retention. Nothing mounts docker.sock: the daemon ships the logs itself (docs/audit.md).
 *
 * The daemon reads its certificate files from its own filesystem: they are in a volume (loaded like every
 * config volume) and the driver options point at the volume's `mountpoint`, so this works with a remote
 * Docker host too.
 *
 * Create it before `Aspects.of(stack).add(new SecurityPolicy(...))`: the routing is an aspect of the stack, and
 * aspects run in the order they were added, so the policy then checks the routed containers.
 */
export class AuditLog extends Construct {
  public readonly collector: HardenedService;
  public readonly pruner: HardenedService;
  /** The CA that issued its certificates: a reader's client certificate must be from it too. */
  public readonly ca: InternalCa;
  /** The collector's own network: where its published port lands. */
  public readonly network: Network;
  /** The volume with the day files. */
  public readonly data: Volume;
  /** The daemon's ca.crt, client.crt, client.key (read by the Docker daemon from the volume's mountpoint). */
  public readonly daemonTls: ConfigVolume;
  public readonly retentionDays: number;
  public readonly hostPort: number;
  /** `log_opts` every audited container gets. */
  public readonly driverOptions: Record<string, string>;
  /** The job that records the configuration Terraform applied (`config.deployed`), once per change. */
  public readonly changeRecordJob: HardenedJob;
  /** Loki (listening on its loopback only) and the gateway in its namespace, unless `loki: false`. */
  public readonly loki?: HardenedService;
  public readonly lokiGateway?: HardenedService;
  public readonly lokiData?: Volume;
  /** The URL readers query (the gateway), e.g. for Grafana's datasource. */
  public readonly lokiUrl?: string;
  /** The name the gateway's certificate carries (the URL's host). */
  public readonly lokiServerName?: string;
  private readonly lokiReaders: ServiceIdentity[] = [];

  constructor(scope: Construct, id: string, props: AuditLogProps) {
    super(scope, id);
    const problems = new Problems(whereIs("AuditLog", this.node.path), this);
    // A JavaScript stack may pass the profile's name.
    const given: unknown = props.profile ?? PolicyProfile.PRODUCTION;
    const profile = given instanceof PolicyProfile ? given.name : String(given);
    problems.check(PROFILES.includes(profile), "profile", profile, `Use one of ${PROFILES.join(", ")}.`);
    const minimum = AUDIT_RETENTION_DAYS[profile] ?? AUDIT_RETENTION_DAYS.production;
    const retentionDays = props.retentionDays ?? minimum;
    problems.check(
      Number.isInteger(retentionDays) && retentionDays >= minimum && retentionDays <= MAX_RETENTION_DAYS,
      "retentionDays",
      retentionDays,
      `The ${profile} profile keeps audit events at least ${minimum} days: use a whole number from ${minimum} to ${MAX_RETENTION_DAYS}.`,
    );
    const hostPort = props.hostPort ?? AUDIT_PORT;
    problems.check(Number.isInteger(hostPort) && hostPort >= 1024 && hostPort <= 65535, "hostPort", hostPort, "Use a port from 1024 to 65535.");
    const bufferSize = props.bufferSize ?? "4m";
    problems.check(/^[1-9][0-9]*[kmg]$/.test(bufferSize), "bufferSize", bufferSize, 'Use Docker\'s size syntax, e.g. "4m".');
    const interval = props.pruneIntervalSeconds ?? 3600;
    problems.check(Number.isInteger(interval) && interval >= 60 && interval <= 86400, "pruneIntervalSeconds", interval, "Use a whole number of seconds from 60 to 86400.");
    const nameOk = props.name === undefined || isUnresolved(props.name) || /^[a-z][a-z0-9-]{0,40}$/.test(props.name);
    problems.check(nameOk, "name", props.name, "Use lowercase letters, digits and dashes (a Docker name prefix, also the certificate's DNS name).");
    const withLoki = readBoolean(problems, "loki", props.loki, true);
    const schemaFrom = props.lokiSchemaFrom ?? "2025-01-01";
    problems.check(
      /^\d{4}-\d{2}-\d{2}$/.test(schemaFrom) && !Number.isNaN(Date.parse(`${schemaFrom}T00:00:00Z`)),
      "lokiSchemaFrom",
      schemaFrom,
      'Use a date (YYYY-MM-DD) on or before the first deploy, e.g. "2025-01-01"; keep it once deployed.',
    );
    const lokiMemoryMb = props.lokiMemoryMb ?? 1024;
    problems.check(Number.isInteger(lokiMemoryMb) && lokiMemoryMb >= 256, "lokiMemoryMb", lokiMemoryMb, "Use a whole number of MB, at least 256.");
    // A bad name is reported above; the children get a valid one so theirs is not the error the user sees.
    const name = nameOk ? (props.name ?? "zta-audit") : "zta-audit";
    // Recorded in the stack: synth throws them with every other construct's.
    problems.report();
    this.retentionDays = retentionDays;
    this.hostPort = hostPort;
    this.ca = props.ca;

    this.data = new Volume(this, "data", { name: `${name}-data` });
    const common = {
      catalogImage: IMAGES.syslogNg,
      image: props.image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ca: props.ca,
    };
    const control = "/tmp/syslog-ng.ctl";
    // Docker publishes ports only for containers on a non-internal network, and a container with no network of
    // its own would land on the default bridge with every unconfigured container. So: a bridge of its own,
    // with no NAT out (no egress to anywhere but the host that dials in) and no traffic between its members.
    this.network = new Network(this, "ingress", {
      name: `${name}-ingress`,
      internal: false,
      options: { "com.docker.network.bridge.enable_ip_masquerade": "false", "com.docker.network.bridge.enable_icc": "false" },
      labels: [{ label: "zta.trust", value: `host -> ${name}-collector` }],
    });
    this.collector = new HardenedService(this, "collector", {
      ...common,
      name: `${name}-collector`,
      role: AUDIT_COLLECTOR_ROLE,
      // The daemon dials 127.0.0.1 (published port): the certificate must name that address.
      serverIdentity: { commonName: `${name}-collector`, dnsNames: [`${name}-collector`, "localhost"], ipAddresses: ["127.0.0.1"] },
      // Its identity toward the Loki gateway, the one that may push.
      ...(withLoki ? { clientIdentity: AUDIT_COLLECTOR_IDENTITY } : {}),
      files: [
        {
          name: "syslog-ng.conf",
          content: renderCollectorConfig({
            port: AUDIT_PORT,
            configDir: CONFIG_DIR,
            dataDir: AUDIT_DATA_DIR,
            clientSubject: syslogNgSubject(DAEMON_IDENTITY),
            lokiPushUrl: withLoki ? `https://${name}-loki:${LOKI_GATEWAY_PORT}${LOKI_PUSH_PATH}` : undefined,
          }),
        },
      ],
      // --no-caps: syslog-ng would otherwise try to keep capabilities it was never given.
      entrypoint: ["/usr/sbin/syslog-ng"],
      command: ["-F", "--no-caps", "-f", `${CONFIG_DIR}/syslog-ng.conf`, "--persist-file", `${AUDIT_DATA_DIR}/.syslog-ng.persist`, "--pidfile", "/tmp/syslog-ng.pid", "--control", control],
      hardening: {
        memoryMb: 256,
        cpuShares: 256,
        healthcheck: ["/usr/sbin/syslog-ng-ctl", "stats", "--control", control],
        healthStartPeriod: "10s",
      },
      volumes: [{ volumeName: this.data.name, containerPath: AUDIT_DATA_DIR }],
      networks: [{ name: this.network.name }],
      ports: [{ internal: AUDIT_PORT, external: hostPort, ip: "127.0.0.1", protocol: "tcp" }],
      labels: [{ label: AUDIT_RETENTION_LABEL, value: String(retentionDays) }],
    });
    // Audited containers start after the collector listens: Docker's syslog driver dials when a container starts.
    this.collector.container.wait = true;
    this.collector.container.waitTimeout = 60;
    // The Docker daemon on the host is the only caller: through the published port, with its client certificate.
    TrustGraph.of(this).allowExternal({ zone: ExternalZone.HOST, callee: this.collector, port: hostPort, authentication: Authentication.MTLS });

    this.pruner = new HardenedService(this, "retention", {
      catalogImage: IMAGES.syslogNg,
      image: props.image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      name: `${name}-retention`,
      role: AUDIT_RETENTION_ROLE,
      files: [
        {
          name: "prune.sh",
          content: renderPruneScript({ dataDir: AUDIT_DATA_DIR, retentionDays, intervalSeconds: interval, heartbeatFile: HEARTBEAT }),
          mode: "0555",
        },
      ],
      entrypoint: ["/bin/sh"],
      command: [`${CONFIG_DIR}/prune.sh`],
      // No network at all: it only deletes files.
      networkMode: "none",
      hardening: {
        memoryMb: 64,
        cpuShares: 64,
        tmpfsMb: { "/tmp": 1 },
        healthcheck: pruneHealthcheck({ heartbeatFile: HEARTBEAT, intervalSeconds: interval }),
        healthStartPeriod: "10s",
      },
      volumes: [{ volumeName: this.data.name, containerPath: AUDIT_DATA_DIR }],
      labels: [{ label: AUDIT_RETENTION_LABEL, value: String(retentionDays) }],
    });

    const daemonCert = props.ca.issueClientCertificate(this, "daemon-client-cert", {
      commonName: DAEMON_IDENTITY.commonName,
      organizationalUnit: DAEMON_IDENTITY.organizationalUnit,
    });
    this.daemonTls = new ConfigVolume(this, "daemon-tls", {
      name: `${name}-daemon-tls`,
      imageId: this.collector.imageId,
      files: [
        { name: "ca.crt", content: props.ca.certPem },
        { name: "client.crt", content: daemonCert.certPem },
        // Only the daemon (root) reads it.
        { name: "client.key", content: daemonCert.privateKeyPem, mode: "0400" },
      ],
    });
    this.driverOptions = syslogDriverOptions({ address: `127.0.0.1:${hostPort}`, tlsDir: this.daemonTls.volume.mountpoint, maxBufferSize: bufferSize });

    // The Terraform-side change record: a `config.deployed` line for every audited container with its
    // image and config hash (the zta.config-sha256 label). The job's command is those values, so any change
    // to them (a config, a certificate, an image) replaces this job and it prints the new lines after the
    // containers they name were applied (it references them); a container's previous line says what it was.
    this.changeRecordJob = new HardenedJob(this, "changes", {
      name: `${name}-changes`,
      role: AUDIT_CHANGE_RECORD_ROLE,
      // The sidecars' Alpine nginx (sh, date, cut), already on the host; the same job SandboxRunner records with.
      catalogImage: IMAGES.nginx,
      hardening: { memoryMb: 32, cpuShares: 64, tmpfsMb: { "/tmp": 1 } },
      awaitExit: true,
      networkMode: "none",
      entrypoint: ["/bin/sh", "-c", RECORD_JOB_SCRIPT],
      command: Lazy.listValue({ produce: () => this.changeRecords() }),
    });
    this.route(this.changeRecordJob.container);

    if (withLoki) {
      this.lokiData = new Volume(this, "loki-data", { name: `${name}-loki-data` });
      this.lokiServerName = `${name}-loki`;
      this.lokiUrl = `https://${this.lokiServerName}:${LOKI_GATEWAY_PORT}`;
      this.loki = new HardenedService(this, "loki", {
        name: `${name}-loki`,
        role: AUDIT_STORE_ROLE,
        catalogImage: IMAGES.loki,
        image: props.lokiImage,
        imageProp: "lokiImage",
        allowUnpinnedImages: props.allowUnpinnedImages,
        files: [{ name: "loki.yaml", content: renderLokiConfig({ retentionDays, schemaFrom }) }],
        // The image's entrypoint is /usr/bin/loki; this replaces its default config flag.
        command: [`-config.file=${CONFIG_DIR}/loki.yaml`],
        hardening: {
          memoryMb: lokiMemoryMb,
          cpuShares: 512,
          tmpfsMb: { "/tmp": 64 },
          healthcheck: LOKI_HEALTHCHECK,
          healthStartPeriod: "60s",
          // The ingester flushes its chunks to the volume on shutdown.
          stopGraceSeconds: 60,
        },
        volumes: [{ volumeName: this.lokiData.name, containerPath: LOKI_DATA_DIR, readOnly: false }],
        labels: [{ label: AUDIT_RETENTION_LABEL, value: String(retentionDays) }],
      });
      this.lokiGateway = new HardenedService(this, "loki-gateway", {
        name: `${name}-loki-gateway`,
        role: AUDIT_STORE_GATEWAY_ROLE,
        catalogImage: IMAGES.nginx,
        allowUnpinnedImages: props.allowUnpinnedImages,
        ca: props.ca,
        serverIdentity: { commonName: this.lokiServerName, dnsNames: [this.lokiServerName] },
        files: [{ name: "nginx.conf", content: Lazy.stringValue({ produce: () => this.lokiGatewayConfig }) }],
        hardening: {
          memoryMb: 64,
          cpuShares: 256,
          tmpfsMb: { "/tmp": 32 },
          healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${LOKI_GATEWAY_HEALTH_PORT}/healthz`],
        },
        namespaceOf: this.loki,
        entrypoint: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`, "-g", "daemon off;"],
      });
      this.loki.allowFrom(this.collector, { port: LOKI_GATEWAY_PORT, authentication: Authentication.MTLS, identity: AUDIT_COLLECTOR_IDENTITY });
      // Who read the trail is itself audited: the gateway's read lines go to the collector (pushes are not logged).
      this.route(this.lokiGateway.container);
      // Readers created before this trail (Observability's Grafana) attach now; one created later looks it up.
      for (const c of TerraformStack.of(this).node.findAll()) if (isAuditTrailReader(c)) c.attachAuditTrail(this);
    }
    Aspects.of(TerraformStack.of(this)).add(new AuditRouting(this));
  }

  /** The Loki gateway's nginx.conf: the collector writes, the readers allowed so far read. */
  public get lokiGatewayConfig(): string {
    return renderLokiGatewayNginxConfig({
      listenPort: LOKI_GATEWAY_PORT,
      healthPort: LOKI_GATEWAY_HEALTH_PORT,
      lokiUpstream: `127.0.0.1:${LOKI_HTTP_PORT}`,
      writerSubjects: [AUDIT_COLLECTOR_IDENTITY.subjectDn],
      readerSubjects: this.lokiReaders.map((r) => r.subjectDn),
      configDir: CONFIG_DIR,
      runDir: "/tmp",
      accessLog: "/dev/stdout",
      errorLog: "/dev/stderr",
    });
  }

  /**
   * Lets `caller` query the trail in Loki through the gateway, with `identity` (its client certificate's;
   * Observability does this for Grafana). A network of this pair alone; the read API only.
   */
  public allowLokiReader(caller: HardenedService, identity: ServiceIdentity | undefined = caller.clientIdentity): void {
    const problems = new Problems(whereIs("AuditLog", this.node.path));
    problems.check(this.loki !== undefined, "loki", false, "Leave loki on (the default) to query the trail from Grafana or another reader.");
    problems.check(identity !== undefined, "identity", undefined, "Pass the reader's client identity, or give the caller a clientIdentity.");
    problems.check(
      identity === undefined || identity.subjectDn !== AUDIT_COLLECTOR_IDENTITY.subjectDn,
      "identity",
      identity?.commonName,
      "The collector's identity writes only; give the reader an identity of its own.",
    );
    problems.throwIfAny();
    if (!this.lokiReaders.some((r) => r.subjectDn === identity!.subjectDn)) this.lokiReaders.push(identity!);
    this.loki!.allowFrom(caller, { port: LOKI_GATEWAY_PORT, authentication: Authentication.MTLS, identity });
  }

  /** Whether `container` ships its logs here: every started container of the stack outside this construct, on the same Docker host. */
  public audits(container: Container): boolean {
    // The Loki gateway is routed explicitly (its read lines); the rest of the trail's own containers are not.
    if (container.node.path === this.node.path || container.node.path.startsWith(`${this.node.path}/`)) return false;
    // Config loaders are created, never started: no logs, and their driver would never dial.
    if (container.startInput === false) return false;
    return container.provider === this.collector.container.provider;
  }

  /** The `config.deployed` records (Terraform's jsonencode), one per container audited when the stack is synthesized. */
  private changeRecords(): string[] {
    const stack = TerraformStack.of(this);
    const records: string[] = [];
    // A library service's config hash is its config volume's (the CONFIG_HASH_LABEL value); a user's own
    // container has none and is recorded by its image.
    const hashes = new Map<Container, string>();
    for (const c of stack.node.findAll()) if (c instanceof HardenedService && c.config) hashes.set(c.container, c.config.contentHash);
    for (const c of stack.node.findAll()) {
      if (!(c instanceof Container) || !this.audits(c)) continue;
      // One line per container (syslog-ng's JSON store keeps flat records whole); referencing the image
      // attribute orders this job after the container.
      const record = { event: "config.deployed", stack: stack.node.id, service: c.nameInput ?? c.node.path, image: c.image, config_sha256: hashes.get(c) ?? "" };
      records.push(Token.asString(Fn.jsonencode(record)));
    }
    return records;
  }

  /** Routes one container's logs here: the syslog driver, and created after the collector is healthy. */
  public route(container: Container): void {
    container.logDriver = "syslog";
    container.logOpts = { ...this.driverOptions };
    const collector = dependable(this.collector.container);
    const deps = container.dependsOn ?? [];
    if (!deps.includes(collector)) container.dependsOn = [...deps, collector, dependable(this.daemonTls.loader)];
  }
}

/** Routes every audited container of the stack at synth, once, when the aspect visits the stack. */
class AuditRouting implements IAspect {
  constructor(private readonly audit: AuditLog) {}

  public visit(node: IConstruct): void {
    if (node !== TerraformStack.of(this.audit)) return;
    for (const c of node.node.findAll()) {
      if (c instanceof Container && this.audit.audits(c)) this.audit.route(c);
    }
  }
}
