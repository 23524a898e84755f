import { Network } from "@cdktf/provider-docker/lib/network";
import { IConstruct } from "constructs";
import type { AuditLog } from "./audit-log";
import type { EdgeProxy } from "./edge-proxy";
import type { HardenedService } from "./hardened-service";
import type { InternalCa } from "./internal-ca";
import type { OidcGate } from "./oidc-gate";
import type { ServiceIdentity } from "../lib/identities";

/**
 * The small interfaces constructs depend on instead of each other's classes and internals: what a caller
 * of the inference API needs from it, and what a tunnel needs from whatever it reaches.
 */

/** How a service calls the inference API (see IInferenceApi.addCaller). */
export interface InferenceCallerOptions {
  /** @default the caller's clientIdentity */
  readonly identity?: ServiceIdentity;
  /** The caller passes on its users' verified identity (a header the sidecars trust from it alone). @default false */
  readonly forwardsIdentity?: boolean;
  /** The caller may read /metrics (a scraper with the metrics scraper identity). @default false */
  readonly metrics?: boolean;
}

/** What ChatUi, Observability and other callers need from the inference API (SecureInference implements it). */
export interface IInferenceApi extends IConstruct {
  /** Prefix of its Docker names; callers name theirs "<prefix>-<id>". */
  readonly prefix: string;
  readonly ca: InternalCa;
  /** The edge, where a caller that is a browser app adds its own site. */
  readonly edge: EdgeProxy;
  /** The OIDC gate, when the API has one. */
  readonly gate?: OidcGate;
  /** `host:port` of every replica's sidecar. */
  readonly upstreams: string[];
  /** The name every sidecar's certificate carries. */
  readonly upstreamServerName: string;
  /** The sidecar services (a caller whose proxy resolves names at start depends on them). */
  readonly upstreamServices: HardenedService[];
  /** The longest generation the sidecars allow, seconds: a proxy in front of them waits as long. */
  readonly generationTimeoutSeconds: number;
  /** Lets `caller` call every replica with its client identity, on its own network to each. */
  addCaller(caller: HardenedService, options?: InferenceCallerOptions): void;
}

/** True when `value` has the shape of an IInferenceApi (plain JavaScript stacks pass anything). */
export function isInferenceApi(value: unknown): value is IInferenceApi {
  const v = value as Partial<IInferenceApi> | undefined;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.addCaller === "function" &&
    typeof v.prefix === "string" &&
    v.edge !== undefined
  );
}

/** Where cloudflared sends a tunnel's requests. */
export interface TunnelOrigin {
  /** `https://host:port` cloudflared dials. */
  readonly service: string;
  /** The name the origin certificate carries (cloudflared's originServerName). */
  readonly serverName: string;
  /** PEM of the CA that issued the origin certificate (cloudflared's caPool file). */
  readonly caCertPem: string;
}

/** A browser app a tunnel can reach on an origin network of its own (ChatUi implements it). */
export interface ITunnelApp {
  /** The app's public hostname (the tunnel must use the same one). */
  readonly hostname: string;
  /** Joins the tunnel's origin network and opens the tunnel listener to sources in `cidr`. */
  attachTunnel(network: Network, cidr: string): TunnelOrigin;
  /** Records the flow from cloudflared on that network (the trust graph's label and diagram). */
  acceptTunnel(cloudflared: HardenedService, network: Network): void;
}

/** What a construct offers a tunnel; "inference-api" only with the tunnel's allowInferenceApi opt-in. */
export interface TunnelTargetDescription {
  /** "chat-ui", "inference-api" or "sidecar" (always refused). */
  readonly kind: string;
  /** Docker name, the default prefix of the tunnel's names. */
  readonly dockerName: string;
  readonly app?: ITunnelApp;
  /** The edge, for "inference-api". */
  readonly edge?: EdgeProxy;
  /** The CA cloudflared trusts for the edge's certificate, for "inference-api". */
  readonly caCertPem?: string;
}

/** A construct a CloudflareTunnel can point at (ChatUi, SecureInference, EdgeProxy, MtlsSidecar implement it). */
export interface ITunnelTarget extends IConstruct {
  describeTunnelTarget(): TunnelTargetDescription;
}

/**
 * A construct that reads the stack's audit trail once one exists (Observability implements it: Grafana's Loki
 * datasource). An AuditLog created after it calls `attachAuditTrail` from its constructor; a reader created after
 * the AuditLog looks it up itself. This interface is what lets audit-log.ts not import observability.ts.
 */
export interface IAuditTrailReader extends IConstruct {
  /** Starts reading `trail` (an AuditLog with Loki); called once per trail, a second call with the same one does nothing. */
  attachAuditTrail(trail: AuditLog): void;
}

/** True when `value` is an IAuditTrailReader. */
export function isAuditTrailReader(value: unknown): value is IAuditTrailReader {
  const v = value as Partial<IAuditTrailReader> | undefined;
  return typeof v === "object" && v !== null && typeof v.attachAuditTrail === "function";
}
