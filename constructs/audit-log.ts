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
import { CONFIG_DIR } from "../lib/identities";
import { IMAGES } from "../lib/images";
import { ConfigVolume } from "./config-volume";
import { HardenedJob, HardenedService } from "./hardened-service";
import { InternalCa } from "./internal-ca";
import { Authentication, ExternalZone, TrustGraph } from "./trust-graph";

/** Roles of the audit containers (the `zta.role` label). */
export const AUDIT_COLLECTOR_ROLE = "audit-collector";
export const AUDIT_RETENTION_ROLE = "audit-retention";
export const AUDIT_CHANGE_RECORD_ROLE = "audit-change-record";
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
    // A bad name is reported above; the children get a valid one so theirs is not the error the user sees.
    const name = nameOk ? (props.name ?? "zta-audit") : "zta-audit";
    // Recorded in the stack: synth throws them with every other construct's.
    problems.report();
    this.retentionDays = retentionDays;
    this.hostPort = hostPort;

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
      files: [
        {
          name: "syslog-ng.conf",
          content: renderCollectorConfig({ port: AUDIT_PORT, configDir: CONFIG_DIR, dataDir: AUDIT_DATA_DIR, clientSubject: syslogNgSubject(DAEMON_IDENTITY) }),
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
    Aspects.of(TerraformStack.of(this)).add(new AuditRouting(this));
  }

  /** Whether `container` ships its logs here: every started container of the stack outside this construct, on the same Docker host. */
  public audits(container: Container): boolean {
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
