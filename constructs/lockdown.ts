import { Container, ContainerUpload } from "@cdktf/provider-docker/lib/container";
import { Aspects, Fn, IAspect, IResolvable, Lazy, TerraformIterator, TerraformStack, TerraformVariable } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { Problems, addStackCheck, whereIs } from "../lib/errors";
import { CONFIG_DIR, ServiceRole } from "../lib/identities";
import { zeroTrustTunnelCloudflaredConfigConfigIngressToTerraform as ingressToTerraform } from "@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared-config";
import { CATCH_ALL_SERVICE } from "../lib/tunnel-ingress";
import { CloudflareTunnel } from "./cloudflare-tunnel";
import { EdgeProxy } from "./edge-proxy";
import { HardenedService } from "./hardened-service";

/** Name of the Terraform variable: `terraform apply -var lockdown=true`. */
export const LOCKDOWN_VARIABLE = "lockdown";
/** The edge's Caddyfile without the sites added with addSite, beside the full one in its config volume. */
export const LOCKED_CADDYFILE = "Caddyfile.locked";

/** One exposure the variable withdraws, for the runbooks and the tests. */
export interface WithdrawnExposure {
  /** "host-port" | "tailnet-node" | "tunnel-ingress" | "edge-sites" */
  readonly kind: string;
  /** The construct path of the resource it changes. */
  readonly path: string;
}

/**
 * One Terraform variable that withdraws every exposure of the stack in one apply, and restores them with
 * `-var lockdown=false` (the default): the first step of isolating a suspected compromise. It adjusts the
 * resources of the library's constructs at synth (an aspect of the stack), so it may be created anywhere in
 * the stack file: an exposure made after it (an edge site, a tailnet node, a tunnel) is withdrawn too.
 *
 * - each edge's published host port: the `ports` block becomes a `dynamic "ports"` block whose `for_each`
 *   is empty under lockdown (ports are ForceNew in kreuzwerker/docker 3.6.2, so the edge is replaced);
 * - each tailscale container: `count = var.lockdown ? 0 : 1` (its state volume and auth key stay, so the
 *   node comes back as itself);
 * - each Cloudflare tunnel's ingress: every rule but the catch-all 404 is dropped
 *   (`concat(var.lockdown ? [] : [rules...], [404])`); the tunnel, its DNS record and Access stay;
 * - each edge with sites added by ChatUi / Observability / ApiGateway: it runs `Caddyfile.locked` (the API site only).
 *
 * Nothing else changes: volumes, keys, certificates, passwords and the other containers (and their
 * `docker logs`) are kept. Replaced or removed containers lose their logs: the runbooks save them first.
 */
export class Lockdown extends Construct {
  /** The stack's Lockdown, if it has one. */
  public static of(scope: IConstruct): Lockdown | undefined {
    return TerraformStack.of(scope)
      .node.findAll()
      .find((c): c is Lockdown => c instanceof Lockdown);
  }

  public readonly variable: TerraformVariable;
  public readonly withdrawn: WithdrawnExposure[] = [];
  private readonly handled = new Set<IConstruct>();
  private ran = false;

  constructor(scope: Construct, id = "lockdown") {
    super(scope, id);
    const stack = TerraformStack.of(this);
    const problems = new Problems(whereIs("Lockdown", this.node.path), this);
    const others = stack.node.findAll().filter((c) => c instanceof Lockdown && c !== this);
    problems.check(others.length === 0, "scope", others[0]?.node.path, "A stack has one Lockdown (one variable withdraws every exposure): remove the second.");
    problems.report();

    this.variable = new TerraformVariable(this, LOCKDOWN_VARIABLE, {
      type: "bool",
      default: false,
      description: "true withdraws every exposure (edge host port, tailnet nodes, tunnel ingress, edge sites) and keeps volumes, keys and logs; false restores them",
    });
    this.variable.overrideLogicalId(LOCKDOWN_VARIABLE);
    // At synth, not here: exposures (and edge sites) created after this construct are withdrawn too.
    Aspects.of(stack).add(new LockExposures(this));

    // Safety net: an exposure made after the aspect ran (by a later aspect) would stay open: refuse to synthesize.
    // Not before it ran: app.synth() resolves the stack once (prepareStack) before it invokes aspects.
    addStackCheck(this, `lockdown:${this.node.path}`, () =>
      !this.ran ? [] : stack.node
        .findAll()
        .filter((c) => this.isExposure(c) && !this.handled.has(c))
        .map((c) => ({
          prop: "scope",
          received: c.node.path,
          fix: `${c.node.path} was created after Lockdown's aspect ran (at synth), so lockdown would leave it exposed: create it in the stack file, not in an aspect.`,
          where: whereIs("Lockdown", this.node.path),
        })),
    );
  }

  /** Adjusts every exposure of the stack not adjusted yet (the aspect calls it once, at synth). */
  public lockExposures(): void {
    this.ran = true;
    const locked = this.variable.value as unknown as IResolvable;
    for (const c of TerraformStack.of(this).node.findAll()) {
      if (this.handled.has(c)) continue;
      if (c instanceof EdgeProxy) this.lockEdge(c, locked);
      else if (c instanceof HardenedService && c.role === ServiceRole.TAILSCALE) this.lockTailnetNode(c, locked);
      else if (c instanceof CloudflareTunnel && c.tunnelConfig) this.lockTunnel(c, locked);
    }
  }

  private isExposure(c: IConstruct): boolean {
    return c instanceof EdgeProxy || (c instanceof HardenedService && c.role === ServiceRole.TAILSCALE) || (c instanceof CloudflareTunnel && c.tunnelConfig !== undefined);
  }

  private lockEdge(edge: EdgeProxy, locked: IResolvable): void {
    this.handled.add(edge);
    const container = edge.container;
    const ports = (container.portsInput ?? []) as unknown;
    if (edge.publishesHostPort && Array.isArray(ports) && ports.length > 0) {
      // A dynamic block with literal content: the policy and the diagram still read the address it binds.
      // The edge publishes one port (EdgeProxy); a dynamic block replaces the whole `ports` list.
      const each = TerraformIterator.fromList(Fn.conditional(locked, [], [1]));
      container.putPorts(each.dynamic({ ...(ports[0] as object) }) as unknown as IResolvable);
      this.withdrawn.push({ kind: "host-port", path: container.node.path });
    }
    if (edge.caddyfile !== edge.caddyfileWithoutSites) {
      const loader = edge.service.config!.loader;
      const upload = (loader.uploadInput ?? []) as ContainerUpload[];
      const full = upload.find((u) => u.file.endsWith("/Caddyfile"));
      if (!full) throw new Error(`${edge.node.path}: no Caddyfile upload to lock`);
      loader.putUpload([...upload, { ...full, file: full.file.replace(/Caddyfile$/, LOCKED_CADDYFILE), content: Lazy.stringValue({ produce: () => edge.caddyfileWithoutSites }) }]);
      const command = [...(container.commandInput ?? [])];
      const i = command.indexOf(`${CONFIG_DIR}/Caddyfile`);
      if (i < 0) throw new Error(`${edge.node.path}: the edge's command names no ${CONFIG_DIR}/Caddyfile`);
      command[i] = Fn.conditional(locked, `${CONFIG_DIR}/${LOCKED_CADDYFILE}`, `${CONFIG_DIR}/Caddyfile`) as unknown as string;
      container.command = command;
      this.withdrawn.push({ kind: "edge-sites", path: container.node.path });
    }
  }

  private lockTailnetNode(service: HardenedService, locked: IResolvable): void {
    this.handled.add(service);
    setCount(service.container, Fn.conditional(locked, 0, 1));
    this.withdrawn.push({ kind: "tailnet-node", path: service.container.node.path });
  }

  private lockTunnel(tunnel: CloudflareTunnel, locked: IResolvable): void {
    this.handled.add(tunnel);
    // Inside a function call cdktf does not rename attributes: give it the provider's snake_case objects.
    const rules = tunnel.ingress.filter((r) => r.service !== CATCH_ALL_SERVICE).map(ingressToTerraform);
    const catchAll = tunnel.ingress.filter((r) => r.service === CATCH_ALL_SERVICE).map(ingressToTerraform);
    // concat, not `lockdown ? [404] : [rules..., 404]`: the two tuples' object types differ and a conditional needs one type.
    tunnel.tunnelConfig.putConfig({ ingress: Fn.concat([Fn.conditional(locked, [], rules), catchAll]) as unknown as IResolvable });
    this.withdrawn.push({ kind: "tunnel-ingress", path: tunnel.tunnelConfig.node.path });
  }
}

/** Runs Lockdown when the stack is synthesized, after the whole stack file has run. */
class LockExposures implements IAspect {
  constructor(private readonly lockdown: Lockdown) {}

  public visit(node: IConstruct): void {
    if (node === TerraformStack.of(this.lockdown)) this.lockdown.lockExposures();
  }
}

function setCount(container: Container, count: unknown): void {
  container.count = count as number;
}
