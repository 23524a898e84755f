import { Container } from "@cdktf/provider-docker/lib/container";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { hardenedContainer } from "../lib/hardening";
import { CONFIG_DIR, SIDECAR_SERVER_NAME, ServiceRole } from "../lib/identities";
import { Problems, whereIs } from "../lib/errors";
import { IMAGES, checkImagePinned } from "../lib/images";
import { isPositiveInt } from "../lib/validate";
import { SidecarCaller, renderSidecarNginxConfig, renderUpstreamAuthInclude } from "../lib/nginx";
import { ConfigVolume, serverTlsFiles } from "./config-volume";
import { InternalCa } from "./internal-ca";
import { PinnedImages } from "./pinned-images";

/** Port of the sidecar's mTLS listener, on the shared namespace's interfaces. */
export const SIDECAR_PORT = 8443;
/** Loopback port of the sidecar's healthcheck listener. */
export const SIDECAR_HEALTH_PORT = 8081;

export interface MtlsSidecarProps {
  readonly ca: InternalCa;
  /** Docker name of the sidecar container. */
  readonly name: string;
  /**
   * The container whose network namespace the sidecar joins (the vLLM replica). The sidecar is
   * then the only thing that can reach the target's loopback-bound server.
   */
  readonly target: Container;
  /** The target's DNS name on the internal network (a SAN of the sidecar's certificate). */
  readonly targetHostname: string;
  /** The target's loopback address, e.g. `127.0.0.1:8000`. */
  readonly upstream: string;
  /** The upstream's API key (a Terraform reference), injected on the loopback hop. */
  readonly upstreamApiKey: string;
  /** Exact paths forwarded; everything else except `/health` and `/metrics` (scraper only) is 404. */
  readonly routes: string[];
  /** Client certificate identities allowed to call; more can be added with `addCaller`. */
  readonly callers: SidecarCaller[];
  /** Request body limit in MB (413 above it). */
  readonly maxBodyMb: number;
  /** Per-identity request rate, per minute (429 above it). */
  readonly requestsPerMinute: number;
  /** Requests above the rate that are still admitted at once. */
  readonly burst: number;
  /** Concurrent requests per identity (429 above it). */
  readonly maxConcurrentPerIdentity: number;
  /** Longest generation allowed, seconds. */
  readonly generationTimeoutSeconds: number;
  /** Image reference. @default the catalog's pinned nginx-unprivileged */
  readonly image?: string;
  /** Accept an image that is not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 512 */
  readonly cpuShares?: number;
}

/**
 * nginx in the network namespace of the service it protects: terminates mTLS from known callers
 * only, forwards an allowlist of routes over loopback, injects the upstream's API key, limits
 * rate, concurrency and body size per identity, and writes the JSON audit log.
 */
export class MtlsSidecar extends Construct {
  public readonly container: Container;
  /** The server certificate the sidecar presents (SANs: the target's name and `sidecar.zta.internal`). */
  public readonly serverName = SIDECAR_SERVER_NAME;
  /** `host:port` other containers on the internal network dial. */
  public readonly address: string;
  private readonly props: MtlsSidecarProps;
  private readonly callers: SidecarCaller[];

  constructor(scope: Construct, id: string, props: MtlsSidecarProps) {
    super(scope, id);
    this.props = props;
    this.callers = [...props.callers];
    this.address = `${props.targetHostname}:${SIDECAR_PORT}`;
    const image = props.image ?? IMAGES.nginx.reference;
    const problems = new Problems(whereIs("MtlsSidecar", this.node.path), this);
    problems.check(props.routes.length > 0, "routes", props.routes, "Forward at least one route.");
    problems.check(props.callers.length > 0, "callers", props.callers, "Allow at least one caller (the edge).");
    for (const [prop, value] of [
      ["maxBodyMb", props.maxBodyMb],
      ["requestsPerMinute", props.requestsPerMinute],
      ["maxConcurrentPerIdentity", props.maxConcurrentPerIdentity],
      ["generationTimeoutSeconds", props.generationTimeoutSeconds],
    ] as const) {
      problems.check(isPositiveInt(value), prop, value, "Use a whole number above 0.");
    }
    problems.check(Number.isInteger(props.burst) && props.burst >= 0, "burst", props.burst, "Use a whole number, 0 or more.");
    checkImagePinned(problems, "image", image, props.allowUnpinnedImages ?? false);
    problems.report();

    const server = props.ca.issueServerCertificate(this, "server-cert", {
      commonName: props.targetHostname,
      dnsNames: [SIDECAR_SERVER_NAME, props.targetHostname],
    });
    const imageId = PinnedImages.of(this).imageId(image);
    const config = new ConfigVolume(this, "config", {
      name: `${props.name}-config`,
      imageId,
      files: [
        { name: "nginx.conf", content: Lazy.stringValue({ produce: () => this.nginxConfig }) },
        ...serverTlsFiles(props.ca.certPem, server),
        { name: "upstream-auth.conf", content: renderUpstreamAuthInclude(props.upstreamApiKey) },
      ],
    });

    this.container = new Container(this, "container", {
      name: props.name,
      image: imageId,
      ...hardenedContainer({
        memoryMb: props.memoryMb ?? 256,
        cpuShares: props.cpuShares ?? 512,
        user: IMAGES.nginx.user,
        tmpfsMb: { "/tmp": 64 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${SIDECAR_HEALTH_PORT}/healthz`],
      }),
      // Share the target's network namespace by container id (a name would not track replacement).
      // Docker rejects ports, hostname, dns and networks in this mode: they belong to the target.
      networkMode: `container:${props.target.id}`,
      // The image's entrypoint script rewrites files under /etc/nginx; run nginx directly instead.
      entrypoint: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`, "-g", "daemon off;"],
      volumes: [config.mountAt(CONFIG_DIR)],
      labels: config.serviceLabels(ServiceRole.SIDECAR),
      dependsOn: [config.loader],
    });
  }

  /** Allows another client certificate identity (e.g. a chat UI's proxy) to call this sidecar. */
  public addCaller(caller: SidecarCaller): void {
    const problems = new Problems(whereIs("MtlsSidecar.addCaller", this.node.path));
    problems.check(
      !this.callers.some((c) => c.role === caller.role || c.subjectDn === caller.subjectDn),
      "caller",
      caller,
      "A caller with this role or subject is already allowed: give each service its own role and certificate.",
    );
    problems.check(/^[a-z][a-z0-9-]*$/.test(caller.role), "caller.role", caller.role, "Use lowercase letters, digits and '-'.");
    problems.throwIfAny();
    this.callers.push(caller);
  }

  /** The rendered nginx.conf (it holds no secret: the API key is in a separate include file). */
  public get nginxConfig(): string {
    const p = this.props;
    return renderSidecarNginxConfig({
      listenPort: SIDECAR_PORT,
      healthPort: SIDECAR_HEALTH_PORT,
      upstream: p.upstream,
      configDir: CONFIG_DIR,
      runDir: "/tmp",
      accessLog: "/dev/stdout",
      errorLog: "/dev/stderr",
      routes: p.routes,
      callers: this.callers,
      maxBodyMb: p.maxBodyMb,
      requestsPerMinute: p.requestsPerMinute,
      burst: p.burst,
      maxConcurrentPerIdentity: p.maxConcurrentPerIdentity,
      generationTimeoutSeconds: p.generationTimeoutSeconds,
    });
  }
}
