import { Container } from "@cdktf/provider-docker/lib/container";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { CONFIG_DIR, SIDECAR_SERVER_NAME, ServiceIdentity, ServiceRole } from "../lib/identities";
import { Problems, whereIs } from "../lib/errors";
import { IMAGES } from "../lib/images";
import { readNumber, readObject } from "../lib/shape";
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

/** Per-identity request limits, applied by each sidecar on its own (so per replica). */
export interface RateLimitProps {
  /** Requests per minute per identity, per replica (429 above it). @default 60 */
  readonly requestsPerMinute?: number;
  /** Requests above the rate admitted at once. @default 20 */
  readonly burst?: number;
  /** Concurrent requests per identity, per replica (429 above it). @default 8 */
  readonly maxConcurrent?: number;
}

/** The limits a sidecar applies, every default filled in. */
export interface SidecarLimits {
  readonly requestsPerMinute: number;
  readonly burst: number;
  readonly maxConcurrent: number;
  readonly maxRequestBodyMb: number;
  readonly generationTimeoutSeconds: number;
}

/**
 * Reads the limit props (`rateLimit`, `maxRequestBodyMb`, `generationTimeoutSeconds`) with the sidecar's
 * defaults and bounds; SecureInference reads its own props through this too, so both name the same props
 * and a typo never becomes a denial of service (or a 10 GB request body).
 */
export function readSidecarLimits(
  problems: Problems,
  props: { rateLimit?: unknown; maxRequestBodyMb?: unknown; generationTimeoutSeconds?: unknown },
): SidecarLimits {
  const rate = readObject<RateLimitProps>(problems, "rateLimit", props.rateLimit, false, "{ requestsPerMinute: 60 }");
  return {
    requestsPerMinute: readNumber(problems, "rateLimit.requestsPerMinute", rate?.requestsPerMinute, 60, {
      min: 1,
      max: 60000,
    }),
    burst: readNumber(problems, "rateLimit.burst", rate?.burst, 20, { min: 0, max: 10000 }),
    maxConcurrent: readNumber(problems, "rateLimit.maxConcurrent", rate?.maxConcurrent, 8, { min: 1, max: 1024 }),
    maxRequestBodyMb: readNumber(problems, "maxRequestBodyMb", props.maxRequestBodyMb, 4, {
      min: 1,
      max: 512,
      unit: "MB",
    }),
    generationTimeoutSeconds: readNumber(problems, "generationTimeoutSeconds", props.generationTimeoutSeconds, 1800, {
      min: 1,
      max: 86400,
      unit: "seconds",
    }),
  };
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
  /** Per-identity request limits. @default 60 per minute, burst 20, 8 concurrent */
  readonly rateLimit?: RateLimitProps;
  /** Request body limit in MB (413 above it). @default 4 */
  readonly maxRequestBodyMb?: number;
  /** Longest generation allowed, seconds. @default 1800 */
  readonly generationTimeoutSeconds?: number;
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
  /** The limits this sidecar applies, defaults filled in. */
  public readonly limits: SidecarLimits;

  constructor(scope: Construct, id: string, props: MtlsSidecarProps) {
    super(scope, id);
    this.props = props;
    this.staticCallers = [...props.callers];
    this.address = `${props.targetHostname}:${SIDECAR_PORT}`;
    const image = props.image ?? IMAGES.nginx.reference;
    const problems = new Problems(whereIs("MtlsSidecar", this.node.path), this);
    problems.check(props.routes.length > 0, "routes", props.routes, "Forward at least one route.");
    this.limits = readSidecarLimits(problems, props);
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
      ...this.limits,
    });
  }
}
