import { Container } from "@cdktf/provider-docker/lib/container";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { CONFIG_DIR, SIDECAR_SERVER_NAME, ServiceIdentity, ServiceRole } from "../lib/identities";
import { Problems, whereIs } from "../lib/errors";
import { IMAGES } from "../lib/images";
import { isPositiveInt } from "../lib/validate";
import { SidecarCaller, renderSidecarNginxConfig, renderUpstreamAuthInclude } from "../lib/nginx";
import { HardenedService } from "./hardened-service";
import type { ITunnelTarget, TunnelTargetDescription } from "./interfaces";
import { InternalCa } from "./internal-ca";
import { Authentication, TrustGraph } from "./trust-graph";

/** How a caller of a sidecar is admitted. */
export interface SidecarCallerOptions {
  /** @default the caller's clientIdentity */
  readonly identity?: ServiceIdentity;
  /** The caller passes on the end user's verified identity (the edge, a chat UI). @default false */
  readonly forwardsIdentity?: boolean;
  /** The caller may read /metrics (a scraper). @default false */
  readonly metrics?: boolean;
}

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
  readonly target: HardenedService;
  /** The target's DNS name on the internal network (a SAN of the sidecar's certificate). */
  readonly targetHostname: string;
  /** The target's loopback address, e.g. `127.0.0.1:8000`. */
  readonly upstream: string;
  /** The upstream's API key (a Terraform reference), injected on the loopback hop. */
  readonly upstreamApiKey: string;
  /** Exact paths forwarded; everything else except `/health` and `/metrics` (scraper only) is 404. */
  readonly routes: string[];
  /**
   * Identities admitted without a flow in the trust graph (the metrics scraper certificate issued for a
   * scraper of the user's own); callers that are services of the stack come from `allowCaller`.
   */
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
export class MtlsSidecar extends Construct implements ITunnelTarget {
  public readonly container: Container;
  /** The server certificate the sidecar presents (SANs: the target's name and `sidecar.zta.internal`). */
  public readonly serverName = SIDECAR_SERVER_NAME;
  /** `host:port` other containers on the internal network dial. */
  public readonly address: string;
  public readonly service: HardenedService;
  private readonly props: MtlsSidecarProps;
  private readonly staticCallers: SidecarCaller[];

  constructor(scope: Construct, id: string, props: MtlsSidecarProps) {
    super(scope, id);
    this.props = props;
    this.staticCallers = [...props.callers];
    this.address = `${props.targetHostname}:${SIDECAR_PORT}`;
    const image = props.image ?? IMAGES.nginx.reference;
    const problems = new Problems(whereIs("MtlsSidecar", this.node.path), this);
    problems.check(props.routes.length > 0, "routes", props.routes, "Forward at least one route.");
    for (const [prop, value] of [
      ["maxBodyMb", props.maxBodyMb],
      ["requestsPerMinute", props.requestsPerMinute],
      ["maxConcurrentPerIdentity", props.maxConcurrentPerIdentity],
      ["generationTimeoutSeconds", props.generationTimeoutSeconds],
    ] as const) {
      problems.check(isPositiveInt(value), prop, value, "Use a whole number above 0.");
    }
    problems.check(
      Number.isInteger(props.burst) && props.burst >= 0,
      "burst",
      props.burst,
      "Use a whole number, 0 or more.",
    );
    problems.report();

    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    this.service = new HardenedService(this, "Default", {
      name: props.name,
      role: ServiceRole.SIDECAR,
      catalogImage: IMAGES.nginx,
      image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ca: props.ca,
      serverIdentity: { commonName: props.targetHostname, dnsNames: [SIDECAR_SERVER_NAME, props.targetHostname] },
      files: [
        { name: "nginx.conf", content: Lazy.stringValue({ produce: () => this.nginxConfig }) },
        { name: "upstream-auth.conf", content: renderUpstreamAuthInclude(props.upstreamApiKey) },
      ],
      hardening: {
        memoryMb: props.memoryMb ?? 256,
        cpuShares: props.cpuShares ?? 512,
        tmpfsMb: { "/tmp": 64 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${SIDECAR_HEALTH_PORT}/healthz`],
      },
      // The target's namespace: the sidecar is then the only thing that can reach its loopback-bound server.
      namespaceOf: props.target,
      // The image's entrypoint script rewrites files under /etc/nginx; run nginx directly instead.
      entrypoint: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`, "-g", "daemon off;"],
    });
    this.container = this.service.container;
  }

  /**
   * Admits `caller` with its client identity: the trust graph attaches it to the network of this
   * relationship, and the caller's certificate subject joins nginx's caller map.
   */
  public allowCaller(caller: HardenedService, options: SidecarCallerOptions = {}): void {
    this.service.allowFrom(caller, {
      port: SIDECAR_PORT,
      authentication: Authentication.MTLS,
      identity: options.identity,
      forwardsIdentity: options.forwardsIdentity ?? false,
      metrics: options.metrics ?? false,
    });
  }

  /** Callers nginx admits: the identities given as props, then every mTLS flow the trust graph holds for this sidecar. */
  private get callers(): SidecarCaller[] {
    const fromGraph: SidecarCaller[] = TrustGraph.of(this)
      .flowsTo(this.service)
      .filter((f) => f.identity !== undefined)
      .map((f) => ({
        role: f.identity!.name,
        subjectDn: f.identity!.subjectDn,
        forwardsIdentity: f.forwardsIdentity,
        mayScrapeMetrics: f.metrics,
      }));
    const all = [...fromGraph, ...this.staticCallers];
    return all.filter((c, i) => all.findIndex((o) => o.subjectDn === c.subjectDn) === i);
  }

  /** A tunnel straight to a sidecar would skip the edge's client certificates and the gate: always refused. */
  public describeTunnelTarget(): TunnelTargetDescription {
    return { kind: "sidecar", dockerName: "sidecar" };
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
