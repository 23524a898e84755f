import {
  Container,
  ContainerCapabilities,
  ContainerDevices,
  ContainerMounts,
  ContainerNetworksAdvanced,
  ContainerPorts,
  ContainerUlimit,
  ContainerVolumes,
} from "@cdktf/provider-docker/lib/container";
import { Image } from "@cdktf/provider-docker/lib/image";
import { Network } from "@cdktf/provider-docker/lib/network";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { ITerraformDependable, Lazy } from "cdktf";
import { Construct } from "constructs";
import { Problems, whereIs } from "../lib/errors";
import { HardeningOptions, hardenedContainer } from "../lib/hardening";
import { CONFIG_DIR, ROLE_LABEL, ServiceIdentity, TLS_FILES } from "../lib/identities";
import { CatalogImage, checkImagePinned } from "../lib/images";
import { SecurityPolicy } from "../lib/policy/security-policy";
import { ConfigFile, ConfigVolume } from "./config-volume";
import { InternalCa, IssuedCertificate, ServerCertificateOptions } from "./internal-ca";
import { PinnedImages } from "./pinned-images";
import { TrustGraph } from "./trust-graph";

/** Resource ids inside the service, for constructs that must keep the ids (and so the Terraform addresses) they had. */
export interface HardenedServiceIds {
  /** @default "container" */
  readonly container?: string;
  /** @default "config" */
  readonly config?: string;
}

/** A rule the service breaks on purpose, with the reason the policy report records. */
export interface JustifiedSuppression {
  readonly ruleId: string;
  readonly reason: string;
}

/** The hardening of a service: resources, writable paths, how its health is checked. `user` comes from the image. */
export interface ServiceHardening {
  readonly memoryMb: number;
  readonly cpuShares: number;
  /** @default no hard cap */
  readonly cpuLimit?: number;
  /** @default { "/tmp": 64 } */
  readonly tmpfsMb?: Record<string, number>;
  /** The healthcheck command (exec form). Required for services; jobs have none. @default none (jobs only) */
  readonly healthcheck?: string[];
  /** @default "20s" */
  readonly healthStartPeriod?: string;
  /** Seconds between SIGTERM and SIGKILL. @default 10 */
  readonly stopGraceSeconds?: number;
}

export interface HardenedServiceProps {
  /** Docker name of the container (its DNS name on every network it joins). */
  readonly name: string;
  /** The `zta.role` label (see ServiceRole). */
  readonly role: string;
  /** The catalog entry: the default reference, the user the image runs as, and why it needs root if it does. */
  readonly catalogImage: CatalogImage;
  /** A reference chosen by the user instead of the catalog's. @default catalogImage.reference */
  readonly image?: string;
  /** The prop name errors about `image` name. @default "image" */
  readonly imageProp?: string;
  /** Accept an `image` that is not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** Pull the image with this provider (another Docker host) instead of the stack's shared PinnedImages. @default the stack's */
  readonly dockerProvider?: DockerProvider;
  /** `uid:gid` instead of the catalog's user (e.g. a job image of your own). @default catalogImage.user */
  readonly user?: string;
  readonly hardening: ServiceHardening;

  /** The CA that issues the service's certificates. Required with serverIdentity or clientIdentity. @default none */
  readonly ca?: InternalCa;
  /** Issue a server certificate: ca.crt, server.crt and server.key join the config volume. @default none */
  readonly serverIdentity?: ServerCertificateOptions;
  /** Use this server certificate instead of issuing one (e.g. the user's own edge certificate). @default issued from serverIdentity */
  readonly serverCertificate?: IssuedCertificate;
  /** Issue a client certificate with this identity: client.crt and client.key join the config volume. @default none */
  readonly clientIdentity?: ServiceIdentity;
  /** Files of the config volume, mounted read-only at CONFIG_DIR. The certificates go right after the first. @default none */
  readonly files?: ConfigFile[];
  /** Docker name of the config volume. @default "<name>-config" */
  readonly configVolumeName?: string;

  /** Networks the service joins besides the ones its trust relationships create (an egress network, the edge's public leg). @default none */
  readonly networks?: ContainerNetworksAdvanced[];
  /** Join this service's network namespace (a sidecar): no networks, ports or hostname of its own. @default its own namespace */
  readonly namespaceOf?: HardenedService;
  /** Docker `network_mode` for a service with no network at all ("none"). @default bridge networks as above */
  readonly networkMode?: string;
  /** Published ports; always with an explicit `ip` (the provider defaults to 0.0.0.0). @default none */
  readonly ports?: ContainerPorts[];

  readonly entrypoint?: string[];
  readonly command?: string[];
  readonly env?: string[];
  readonly workingDir?: string;
  /** Capabilities added back (every one is dropped). Needs a suppression of ZTA-CTR-003 with the reason. @default none */
  readonly capabilitiesAdd?: string[];
  readonly devices?: ContainerDevices[];
  /** Docker `gpus`. @default none */
  readonly gpus?: string;
  /** /dev/shm in MB. @default Docker's */
  readonly shmSizeMb?: number;
  readonly ulimits?: ContainerUlimit[];
  readonly ipcMode?: string;
  readonly runtime?: string;
  /** Volumes besides the config volume (data, caches). @default none */
  readonly volumes?: ContainerVolumes[];
  /** Bind mounts. @default none */
  readonly mounts?: ContainerMounts[];
  /** Labels besides zta.role and the config hash. @default none */
  readonly labels?: { label: string; value: string }[];
  /** Resources to create first besides the config loader. @default none */
  readonly dependsOn?: ITerraformDependable[];
  /** Rules the service breaks on purpose, with the reason. Root (no user) is suppressed with the catalog's rootReason. @default none */
  readonly suppressions?: JustifiedSuppression[];
  /** @default see HardenedServiceIds */
  readonly ids?: HardenedServiceIds;
  /**
   * Jobs only: run once and let `terraform apply` wait for the exit (attach), keep the output (logs), never
   * restart. For work whose result the stack reads (SandboxRunner). @default false: restarted on failure, detached
   */
  readonly awaitExit?: boolean;
}

/**
 * One hardened container of the library, and the way to add your own: a pinned image from the catalog
 * (or a pinned override), a read-only config volume with the files and the certificates the internal CA
 * issues it, the hardening defaults (read-only root, every capability dropped, no-new-privileges, limits,
 * bounded restarts, rotated logs, a healthcheck), labels, mounts, and the justified suppressions.
 * Who may call it is declared on the stack's TrustGraph (`allowFrom`), which creates one network per
 * relationship and attaches both ends.
 *
 * Constructs that have one container create their service with id "Default", which cdktf leaves out of
 * logical ids: the Terraform addresses stay what they were before the service model.
 */
export class HardenedService extends Construct {
  public readonly container: Container;
  /** Docker name, also the DNS name other services dial. */
  public readonly name: string;
  public readonly role: string;
  /** The config volume; undefined when the service has no files. */
  public readonly config?: ConfigVolume;
  /** The issued (or given) server certificate. */
  public readonly serverCertificate?: IssuedCertificate;
  /** The issued client certificate, with `clientIdentity`. */
  public readonly clientCertificate?: IssuedCertificate;
  public readonly clientIdentity?: ServiceIdentity;
  /** The image id the container runs (also what a job of the same image can reuse). */
  public readonly imageId: string;
  /** The service whose namespace this one shares, if any. */
  public readonly namespaceOf?: HardenedService;
  private readonly trustNetworks: ContainerNetworksAdvanced[] = [];
  private readonly extraLabels: { label: string; value: string }[] = [];

  constructor(scope: Construct, id: string, props: HardenedServiceProps, job = false) {
    super(scope, id);
    this.name = props.name;
    this.role = props.role;
    this.namespaceOf = props.namespaceOf;
    this.clientIdentity = props.clientIdentity;
    const kind = job ? "HardenedJob" : "HardenedService";
    // A library construct's own service (id "Default", e.g. EdgeProxy's) reports in its owner's name: the
    // prop (`image`) is the owner's, and "HardenedService s/edge/Default" would point the user elsewhere.
    const owner = id === "Default" && scope.node.scope ? scope : undefined;
    const problems = new Problems(
      owner ? whereIs(owner.constructor.name, owner.node.path) : whereIs(kind, this.node.path),
      this,
    );
    const reference = props.image ?? props.catalogImage.reference;
    checkImagePinned(problems, props.imageProp ?? "image", reference, props.allowUnpinnedImages ?? false);
    const user = props.user ?? props.catalogImage.user;
    const rootReason = props.catalogImage.rootReason;
    problems.check(
      user !== undefined || (rootReason !== undefined && rootReason.trim().length > 0),
      "catalogImage.user",
      undefined,
      "Give the uid:gid the image runs as, or (if it really needs root) a rootReason in the catalog entry: it goes into the policy report.",
    );
    problems.check(
      job || (props.hardening.healthcheck !== undefined && props.hardening.healthcheck.length > 0),
      "hardening.healthcheck",
      props.hardening.healthcheck,
      'A service needs a healthcheck (exec form, e.g. ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]); use HardenedJob for run-to-completion containers.',
    );
    problems.check(
      (props.serverIdentity === undefined && props.clientIdentity === undefined) || props.ca !== undefined,
      "ca",
      undefined,
      "Certificates are issued by the stack's InternalCa: pass ca with serverIdentity or clientIdentity.",
    );
    for (const p of props.ports ?? []) {
      problems.check(
        p.ip !== undefined && p.ip !== "",
        "ports.ip",
        p.ip,
        'Bind every published port to one address, e.g. "127.0.0.1" (the provider defaults to 0.0.0.0).',
      );
    }
    problems.check(
      props.namespaceOf === undefined || ((props.networks ?? []).length === 0 && (props.ports ?? []).length === 0),
      "namespaceOf",
      props.namespaceOf?.name,
      "A container in another's network namespace has no networks or ports of its own (Docker refuses them): put them on the namespace owner.",
    );
    problems.report();

    this.imageId = props.dockerProvider
      ? new Image(this, "image", { name: reference, keepLocally: true, provider: props.dockerProvider }).imageId
      : PinnedImages.of(this).imageId(reference);

    const ids = props.ids ?? {};
    const ca = props.ca;
    if (ca && (props.serverCertificate || props.serverIdentity)) {
      this.serverCertificate =
        props.serverCertificate ?? ca.issueServerCertificate(this, "server-cert", props.serverIdentity!);
    }
    if (ca && props.clientIdentity) {
      this.clientCertificate = ca.issueClientCertificate(this, "client-cert", {
        commonName: props.clientIdentity.commonName,
        organizationalUnit: props.clientIdentity.organizationalUnit,
      });
    }
    // The CA certificate beside any identity: servers verify client certificates with it, clients the servers'.
    const tlsFiles: ConfigFile[] = [
      ...(ca && (this.serverCertificate || this.clientCertificate)
        ? [{ name: TLS_FILES.caCert, content: ca.certPem }]
        : []),
      ...(ca && this.serverCertificate
        ? [
            { name: TLS_FILES.serverCert, content: this.serverCertificate.certPem },
            { name: TLS_FILES.serverKey, content: this.serverCertificate.privateKeyPem },
          ]
        : []),
      ...(this.clientCertificate
        ? [
            { name: TLS_FILES.clientCert, content: this.clientCertificate.certPem },
            { name: TLS_FILES.clientKey, content: this.clientCertificate.privateKeyPem },
          ]
        : []),
    ];
    const files = props.files ?? [];
    const allFiles = [...files.slice(0, 1), ...tlsFiles, ...files.slice(1)];
    this.config =
      allFiles.length === 0
        ? undefined
        : new ConfigVolume(this, ids.config ?? "config", {
            name: props.configVolumeName ?? `${props.name}-config`,
            imageId: this.imageId,
            files: allFiles,
          });

    const hardening: HardeningOptions = {
      ...props.hardening,
      healthcheck: props.hardening.healthcheck ?? ["true"],
      user,
    };
    const base = hardenedContainer(hardening);
    const capabilities: ContainerCapabilities =
      props.capabilitiesAdd && props.capabilitiesAdd.length > 0
        ? { drop: ["ALL"], add: props.capabilitiesAdd }
        : { drop: ["ALL"] };
    const networking = props.namespaceOf
      ? // By id: a name would not track the owner's replacement. Docker rejects ports, hostname, dns and networks here.
        { networkMode: `container:${props.namespaceOf.container.id}` }
      : props.networkMode !== undefined
        ? { networkMode: props.networkMode }
        : {
            networksAdvanced: Lazy.anyValue({
              produce: () => [...(props.networks ?? []), ...this.trustNetworks],
            }) as unknown as ContainerNetworksAdvanced[],
          };
    const roleLabels = this.config ? this.config.serviceLabels(props.role) : [{ label: ROLE_LABEL, value: props.role }];

    this.container = new Container(this, ids.container ?? "container", {
      name: props.name,
      image: this.imageId,
      ...base,
      ...(job
        ? // A job, not a service: runs to completion (restarted on failure a bounded number of times), no healthcheck.
          { healthcheck: undefined, mustRun: false }
        : {}),
      ...(job && props.awaitExit
        ? // Run once, wait for the exit, keep the output; never restart or recreate a finished run.
          { attach: true, logs: true, restart: "no", maxRetryCount: undefined }
        : {}),
      capabilities,
      ...(props.entrypoint ? { entrypoint: props.entrypoint } : {}),
      ...(props.command ? { command: props.command } : {}),
      ...(props.env ? { env: props.env } : {}),
      ...(props.workingDir ? { workingDir: props.workingDir } : {}),
      ...(props.gpus ? { gpus: props.gpus } : {}),
      ...(props.shmSizeMb ? { shmSize: props.shmSizeMb } : {}),
      ...(props.devices ? { devices: props.devices } : {}),
      ...(props.ulimits ? { ulimit: props.ulimits } : {}),
      ...(props.ipcMode ? { ipcMode: props.ipcMode } : {}),
      ...(props.runtime ? { runtime: props.runtime } : {}),
      ...(props.ports && props.ports.length > 0 ? { ports: props.ports } : {}),
      ...(props.mounts && props.mounts.length > 0 ? { mounts: props.mounts } : {}),
      ...(props.dockerProvider ? { provider: props.dockerProvider } : {}),
      ...networking,
      ...(this.config || (props.volumes ?? []).length > 0
        ? { volumes: [...(this.config ? [this.config.mountAt(CONFIG_DIR)] : []), ...(props.volumes ?? [])] }
        : {}),
      labels: Lazy.anyValue({
        produce: () => [...roleLabels, ...(props.labels ?? []), ...this.extraLabels],
      }) as unknown as { label: string; value: string }[],
      ...(this.config || (props.dependsOn ?? []).length > 0
        ? { dependsOn: [...(this.config ? [this.config.loader] : []), ...(props.dependsOn ?? [])] }
        : {}),
    });
    if (user === undefined && rootReason) SecurityPolicy.suppress(this.container, "ZTA-CTR-011", rootReason);
    for (const s of props.suppressions ?? []) SecurityPolicy.suppress(this.container, s.ruleId, s.reason);
  }

  /** The service that owns the network namespace this one listens in (itself, or the one it shares). */
  public get namespaceOwner(): HardenedService {
    return this.namespaceOf ? this.namespaceOf.namespaceOwner : this;
  }

  /**
   * Declares that `caller` may call this service on `port`, and how it authenticates. The stack's
   * TrustGraph creates the network of that relationship and attaches both ends.
   */
  public allowFrom(caller: HardenedService, flow: AllowFromOptions): void {
    TrustGraph.of(this).allow({ ...flow, caller, callee: this });
  }

  /** Used by the TrustGraph: joins a relationship's network (on the namespace owner). */
  public joinTrustNetwork(network: ContainerNetworksAdvanced): void {
    const owner = this.namespaceOwner;
    if (owner !== this) {
      owner.joinTrustNetwork(network);
      return;
    }
    if (!owner.trustNetworks.some((n) => n.name === network.name)) owner.trustNetworks.push(network);
  }

  /** Adds a label at synth time (the TrustGraph's callers label). */
  public addLabel(label: string, value: string): void {
    this.extraLabels.push({ label, value });
  }
}

/** How a caller reaches a service (see TrustGraph.allow). */
export interface AllowFromOptions {
  readonly port: number;
  readonly authentication: string;
  /** The client identity the callee admits (mTLS). @default the caller's clientIdentity */
  readonly identity?: ServiceIdentity;
  /** The caller passes on the end user's verified identity (a header the callee trusts from it alone). @default false */
  readonly forwardsIdentity?: boolean;
  /** The caller may read the callee's /metrics. @default false */
  readonly metrics?: boolean;
  /** A network both already join: the flow is recorded, no network is created (see TrustGraph.allow). @default a new one */
  readonly via?: Network;
}

/**
 * A run-to-completion container (a download, a backup loop's one-shot, agent code): hardened like a
 * service, without a healthcheck, and `must_run = false` so Terraform does not recreate it after it exits.
 */
export class HardenedJob extends HardenedService {
  constructor(scope: Construct, id: string, props: HardenedServiceProps) {
    super(scope, id, props, true);
  }
}
