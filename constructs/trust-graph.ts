import { Network } from "@cdktf/provider-docker/lib/network";
import { Lazy, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { Problems, whereIs } from "../lib/errors";
import { INTERNAL_NETWORK_OPTIONS } from "../lib/hardening";
import { ServiceIdentity } from "../lib/identities";
import type { AllowFromOptions, HardenedService } from "./hardened-service";

/** How a caller proves who it is to a service. The values appear in the `zta.callers` label and the diagram. */
export class Authentication {
  /** A client certificate from the internal CA, checked against the identity the callee admits. */
  public static readonly MTLS = "mtls";
  /** A client certificate and an OIDC session or IdP-issued JWT (the edge with its gate). */
  public static readonly MTLS_AND_OIDC = "mtls+oidc";
  /** Cloudflare Access's signed JWT, verified by cloudflared at the origin. */
  public static readonly ACCESS_JWT = "access-jwt";
  /** Nothing but the network: only the relationship's own network reaches the callee (e.g. the edge asking the gate). */
  public static readonly NETWORK_ONLY = "network-only";
}

/** Callers outside Docker's networks. */
export class ExternalZone {
  /** The Docker host's interfaces, through a published port. */
  public static readonly HOST = "host";
  /** A tailnet, through a tailscale container. */
  public static readonly TAILNET = "tailnet";
  /** Cloudflare's edge, through a cloudflared tunnel. */
  public static readonly CLOUDFLARE = "cloudflare";
}

/** One allowed flow: who calls which service on which port, and how it authenticates. */
export interface TrustFlow {
  /** Docker name of the calling container, or an ExternalZone. */
  readonly caller: string;
  /** Docker name of the called service (the container that listens; a sidecar listens in its owner's namespace). */
  readonly callee: string;
  /** Docker name the caller dials: the callee's namespace owner. */
  readonly dials: string;
  readonly port: number;
  readonly authentication: string;
  /** Client identity the callee admits (mTLS). */
  readonly identity?: ServiceIdentity;
  /** The caller passes on the end user's verified identity. */
  readonly forwardsIdentity: boolean;
  /** The caller may read /metrics. */
  readonly metrics: boolean;
  /** Docker network the flow travels on; undefined for external callers. */
  readonly network?: string;
}

/** One flow for TrustGraph.allow: the two services and how the caller reaches the callee. */
export interface AllowProps extends AllowFromOptions {
  readonly caller: HardenedService;
  readonly callee: HardenedService;
}

export interface AllowExternalProps {
  /** An ExternalZone value. */
  readonly zone: string;
  readonly callee: HardenedService;
  readonly port: number;
  readonly authentication: string;
}

const AUTHENTICATIONS = [
  Authentication.MTLS,
  Authentication.MTLS_AND_OIDC,
  Authentication.ACCESS_JWT,
  Authentication.NETWORK_ONLY,
];
const ZONES = [ExternalZone.HOST, ExternalZone.TAILNET, ExternalZone.CLOUDFLARE];

/**
 * The stack's trust graph: every allowed flow between services, declared where the relationship is made
 * (`service.allowFrom(caller, ...)`). From it the library derives the Docker networks — one internal network
 * per caller/service pair, so a container reaches exactly the services it was allowed to call and nothing
 * else (the OIDC gate answers whoever shares its network: only the edge does now) — the sidecars' caller
 * maps, the `zta.callers` labels, and the trust-zone diagram.
 */
export class TrustGraph extends Construct {
  /** The stack's single instance, created on first use. */
  public static of(scope: Construct): TrustGraph {
    const stack = TerraformStack.of(scope);
    const existing = stack.node.tryFindChild(TrustGraph.ID);
    return existing instanceof TrustGraph ? existing : new TrustGraph(stack, TrustGraph.ID);
  }

  private static readonly ID = "zta-trust";
  private readonly allFlows: TrustFlow[] = [];
  private readonly networks = new Map<string, Network>();
  private readonly labelled = new Set<HardenedService>();
  private readonly calleeServices = new Map<string, HardenedService>();

  /** Allows `caller` to call `callee` on `port`; creates (once per pair) the network both join. */
  public allow(props: AllowProps): TrustFlow {
    const problems = new Problems(
      whereIs("TrustGraph.allow", `${props.caller.node.path} -> ${props.callee.node.path}`),
    );
    problems.check(
      AUTHENTICATIONS.includes(props.authentication),
      "authentication",
      props.authentication,
      `Use one of Authentication.* (${AUTHENTICATIONS.join(", ")}).`,
    );
    problems.check(
      Number.isInteger(props.port) && props.port >= 1 && props.port <= 65535,
      "port",
      props.port,
      "Use a port from 1 to 65535.",
    );
    // Only a certificate-checking callee admits an identity; a network-only flow has none.
    const identity = props.authentication.startsWith(Authentication.MTLS)
      ? (props.identity ?? props.caller.clientIdentity)
      : undefined;
    problems.check(
      props.caller.namespaceOwner !== props.callee.namespaceOwner,
      "caller",
      props.caller.name,
      "A service does not call its own namespace over a network.",
    );
    problems.throwIfAny();

    const from = props.caller.namespaceOwner;
    const to = props.callee.namespaceOwner;
    let networkName: string;
    if (props.via) {
      networkName = props.via.nameInput ?? props.via.name;
    } else {
      const key = `${from.name}-to-${to.name}`;
      let network = this.networks.get(key);
      if (!network) {
        network = new Network(this, key, {
          name: key,
          internal: true,
          options: INTERNAL_NETWORK_OPTIONS,
          labels: [{ label: "zta.trust", value: `${from.name} -> ${to.name}` }],
        });
        this.networks.set(key, network);
        from.joinTrustNetwork({ name: network.name });
        to.joinTrustNetwork({ name: network.name, aliases: [to.name] });
      }
      // The literal name (labels and the diagram read it); attachments above use the reference, which orders creation.
      networkName = key;
    }
    const flow: TrustFlow = {
      caller: props.caller.name,
      callee: props.callee.name,
      dials: to.name,
      port: props.port,
      authentication: props.authentication,
      identity,
      forwardsIdentity: props.forwardsIdentity ?? false,
      metrics: props.metrics ?? false,
      network: networkName,
    };
    this.record(props.callee, flow);
    return flow;
  }

  /** Records a flow from outside Docker (a published port, a tailnet, Cloudflare): no network, a label and a diagram edge. */
  public allowExternal(props: AllowExternalProps): TrustFlow {
    const problems = new Problems(whereIs("TrustGraph.allowExternal", props.callee.node.path));
    problems.check(ZONES.includes(props.zone), "zone", props.zone, `Use one of ExternalZone.* (${ZONES.join(", ")}).`);
    problems.check(
      AUTHENTICATIONS.includes(props.authentication),
      "authentication",
      props.authentication,
      `Use one of Authentication.* (${AUTHENTICATIONS.join(", ")}).`,
    );
    problems.throwIfAny();
    const flow: TrustFlow = {
      caller: props.zone,
      callee: props.callee.name,
      dials: props.callee.namespaceOwner.name,
      port: props.port,
      authentication: props.authentication,
      forwardsIdentity: false,
      metrics: false,
    };
    this.record(props.callee, flow);
    return flow;
  }

  /** Removes a flow that no longer exists (the edge's host flow once its port is withdrawn). Networks stay. */
  public withdraw(flow: TrustFlow): void {
    const i = this.allFlows.indexOf(flow);
    if (i >= 0) this.allFlows.splice(i, 1);
  }

  /** Every flow of the stack, in the order they were allowed. */
  public get flows(): TrustFlow[] {
    return [...this.allFlows];
  }

  /** The flows into one service. */
  public flowsTo(callee: HardenedService): TrustFlow[] {
    return this.allFlows.filter((f) => f.callee === callee.name);
  }

  private record(callee: HardenedService, flow: TrustFlow): void {
    const same = this.allFlows.find(
      (f) => f.caller === flow.caller && f.callee === flow.callee && f.port === flow.port,
    );
    if (same) {
      // Allowing the same flow again changes nothing; allowing it again differently is a conflict (reported at synth).
      if (
        JSON.stringify(callersLabelEntry(same)) !== JSON.stringify(callersLabelEntry(flow)) ||
        same.forwardsIdentity !== flow.forwardsIdentity ||
        same.metrics !== flow.metrics
      ) {
        const problems = new Problems(whereIs("TrustGraph.allow", callee.node.path), callee);
        problems.add(
          "caller",
          flow.caller,
          `${flow.caller} may already call ${flow.callee} on ${flow.port} with other options: allow each flow once.`,
        );
        problems.report();
      }
      return;
    }
    // One identity, one holder: a second caller with the same certificate subject could not be told apart.
    const holder =
      flow.identity &&
      this.allFlows.find(
        (f) =>
          f.callee === flow.callee && f.caller !== flow.caller && f.identity?.subjectDn === flow.identity!.subjectDn,
      );
    if (holder) {
      const problems = new Problems(whereIs("TrustGraph.allow", callee.node.path), callee);
      problems.add(
        "identity",
        flow.identity!.commonName,
        `${holder.caller} already calls ${flow.callee} with this identity (already allowed): give ${flow.caller} its own (ServiceIdentities.custom).`,
      );
      problems.report();
      return;
    }
    this.allFlows.push(flow);
    this.calleeServices.set(callee.name, callee);
    if (!this.labelled.has(callee)) {
      this.labelled.add(callee);
      // Who may call this container, as the engine suite, zta-probe and the diagram read it from the stack.
      callee.addLabel(
        "zta.callers",
        Lazy.stringValue({ produce: () => JSON.stringify(this.flowsTo(callee).map(callersLabelEntry)) }),
      );
    }
  }
}

function callersLabelEntry(f: TrustFlow): Record<string, unknown> {
  return {
    caller: f.caller,
    port: f.port,
    auth: f.authentication,
    ...(f.identity ? { identity: f.identity.commonName } : {}),
    ...(f.network ? { network: f.network } : {}),
  };
}
