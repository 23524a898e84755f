import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { ClientCertMode, EDGE_METRICS_FILES, EdgeSite, renderEdgeCaddyfile } from "../lib/caddyfile";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import {
  CONFIG_DIR,
  EDGE_CLIENT_CN,
  ServiceIdentities,
  ServiceIdentity,
  ServiceRole,
  serviceSubjectDn,
} from "../lib/identities";
import { IMAGES } from "../lib/images";
import { checkRenamedProps, readNumber, readString, readStrings } from "../lib/shape";
import { dnsNameFix, isAllInterfaces, isBindAddress, isDnsName, isPort } from "../lib/validate";
import { HardenedService } from "./hardened-service";
import type { ITunnelTarget, TunnelTargetDescription } from "./interfaces";
import { InternalCa, IssuedCertificate } from "./internal-ca";
import { GATE_PORT, OidcGate } from "./oidc-gate";
import { Authentication, ExternalZone, TrustFlow, TrustGraph } from "./trust-graph";

/** Port the edge's sites listen on inside the container (non-root cannot bind 443). */
export const EDGE_PORT = 8443;
/** Loopback port of the edge's healthcheck listener. */
export const EDGE_HEALTH_PORT = 8081;
/** Port of the edge's metrics listener (EdgeProxy.allowMetricsScraper), on the scraper's own network only. */
export const EDGE_METRICS_PORT = 9180;

/** Where and how a scraper reaches the edge's metrics (EdgeProxy.allowMetricsScraper). */
export interface EdgeMetricsTarget {
  /** `host:port` to scrape (the edge's Docker name on the scraper's network). */
  readonly address: string;
  /** The name the metrics listener's certificate carries (verify it as `server_name`). */
  readonly serverName: string;
}

/** A site for a service of the stack (EdgeProxy.publishSite): an EdgeSite whose upstream is the service. */
export interface PublishedSite {
  readonly hostnames: string[];
  /** Exact paths routed; empty means every path (a web app). */
  readonly paths: string[];
  /** Name the service's certificate carries. */
  readonly upstreamServerName: string;
  /** @default none */
  readonly healthUri?: string;
  /** Unauthenticated browsers are redirected to sign-in instead of answered 401. */
  readonly browser: boolean;
  readonly clientCertMode: ClientCertMode;
}

export interface EdgeProxyProps {
  readonly ca: InternalCa;
  /** Docker name of the edge container (and prefix of its network and volume). */
  readonly name: string;
  /** Hostnames clients use; each is a SAN of the edge certificate and a site address. */
  readonly hostnames: string[];
  /** `host:port` of each upstream (the sidecars), all verified against `upstreamServerName`. */
  readonly upstreams: string[];
  /** The SAN every upstream certificate carries. */
  readonly upstreamServerName: string;
  /** Exact paths routed to the upstreams; everything else is 404. */
  readonly routes: string[];
  /** Active health check path on the upstreams. @default "/health" */
  readonly healthUri?: string;
  /** The OIDC gate. @default none: the verified client certificate is the identity */
  readonly gate?: OidcGate;
  /**
   * Host address the edge's port is published on.
   * @default "127.0.0.1" (reach it from elsewhere over a tailnet or tunnel)
   */
  readonly bindAddress?: string;
  /** Allow `bindAddress` to be 0.0.0.0 / :: (every interface of the host). @default false */
  readonly allowAllInterfaces?: boolean;
  /** Host port. @default 443 */
  readonly hostPort?: number;
  /** @default ClientCertMode.REQUIRE_AND_VERIFY */
  readonly clientCertMode?: ClientCertMode;
  /** Edge request body limit in MB (a coarse guard; the sidecar enforces the exact limit). @default 16 */
  readonly maxRequestBodyMb?: number;
  /** Your own server certificate (e.g. from a public CA) instead of one from the internal CA. @default issued by `ca` */
  readonly serverCertificate?: IssuedCertificate;
  /** @default the catalog's pinned Caddy */
  readonly image?: string;
  /** Accept an image that is not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 512 */
  readonly cpuShares?: number;
}

/**
 * Caddy at the edge: the only container on a non-internal network and the only one that
 * publishes a host port, bound to one address. TLS with client certificates, identity headers
 * stripped, forward_auth to the gate, mTLS to the sidecars with its own client certificate.
 */
export class EdgeProxy extends Construct implements ITunnelTarget {
  public readonly service: HardenedService;
  public readonly container: Container;
  /** The edge's own non-internal network. */
  public readonly network: Network;
  /** The client certificate subject the edge presents to upstreams. */
  public readonly clientSubjectDn = serviceSubjectDn(EDGE_CLIENT_CN);
  public readonly bindAddress: string;
  public readonly hostPort: number;
  /** Docker name of the edge container (its DNS name on its networks). */
  public readonly name: string;
  /** The CA that issued the edge's certificates (what a client such as cloudflared trusts). */
  public readonly caCertPem: string;
  /** How the API site treats client certificates. */
  public readonly clientCertMode: ClientCertMode;
  private readonly props: EdgeProxyProps;
  private hostPortWithdrawn = false;
  private readonly hostFlow: TrustFlow;
  private readonly hostnameList: string[];
  private readonly extraSites: EdgeSite[] = [];
  private metricsScraper?: { service: HardenedService; identity: ServiceIdentity };

  constructor(scope: Construct, id: string, rawProps: EdgeProxyProps) {
    super(scope, id);
    const problems = new Problems(whereIs("EdgeProxy", this.node.path), this);
    checkRenamedProps(problems, rawProps, { maxBodyMb: "maxRequestBodyMb" });
    const hostnames = readStrings(problems, "hostnames", rawProps.hostnames, true, '["ai.example.internal"]');
    const upstreams = readStrings(problems, "upstreams", rawProps.upstreams, true, '["sidecar:8443"]');
    const routes = readStrings(problems, "routes", rawProps.routes, true, "InferenceRoutes.DEFAULT");
    const props: EdgeProxyProps = {
      ...rawProps,
      name: readString(problems, "name", rawProps.name, true, '"ai-edge"') as string,
      hostnames,
      upstreams,
      routes,
      bindAddress: readString(problems, "bindAddress", rawProps.bindAddress, false, '"127.0.0.1"'),
      hostPort: readNumber(problems, "hostPort", rawProps.hostPort, 443, { min: 1, max: 65535 }),
      maxRequestBodyMb: readNumber(problems, "maxRequestBodyMb", rawProps.maxRequestBodyMb, 16, {
        min: 1,
        max: 1024,
        unit: "MB",
      }),
      image: readString(problems, "image", rawProps.image, false, "a digest-pinned reference"),
    };
    this.props = props;
    this.hostnameList = [...props.hostnames];
    this.bindAddress = props.bindAddress ?? "127.0.0.1";
    this.hostPort = props.hostPort ?? 443;
    this.name = props.name;
    this.caCertPem = props.ca.certPem;
    const mode = props.clientCertMode ?? ClientCertMode.REQUIRE_AND_VERIFY;
    this.clientCertMode = mode;
    const image = props.image ?? IMAGES.caddy.reference;

    if (Array.isArray(rawProps.hostnames)) {
      problems.check(
        props.hostnames.length > 0,
        "hostnames",
        props.hostnames,
        "Give at least one hostname clients use.",
      );
    }
    for (const h of props.hostnames) {
      if (!isUnresolved(h)) problems.check(isDnsName(h), "hostnames", h, dnsNameFix(h, "ai.example.internal"));
    }
    if (!isUnresolved(this.bindAddress)) {
      problems.check(
        isBindAddress(this.bindAddress),
        "bindAddress",
        this.bindAddress,
        'Use an IP literal such as "127.0.0.1" or a LAN/tailnet address of the host.',
      );
      problems.check(
        !isAllInterfaces(this.bindAddress) || props.allowAllInterfaces === true,
        "bindAddress",
        this.bindAddress,
        "Binding every interface exposes the edge to every network the host is on. Bind one address " +
          '(default "127.0.0.1"), or set allowAllInterfaces: true if that is really intended.',
      );
    }
    problems.check(isPort(this.hostPort), "hostPort", this.hostPort, "Use a port from 1 to 65535.");
    problems.check(
      mode === ClientCertMode.REQUIRE_AND_VERIFY || props.gate !== undefined,
      "clientCertMode",
      mode,
      "Without client certificates nothing would authenticate callers: configure oidc, or keep REQUIRE_AND_VERIFY.",
    );
    if (Array.isArray(rawProps.upstreams))
      problems.check(props.upstreams.length > 0, "upstreams", props.upstreams, "Give at least one upstream.");
    problems.report();

    this.network = new Network(this, "network", { name: `${props.name}-net`, internal: false });

    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    this.service = new HardenedService(this, "Default", {
      name: props.name,
      role: ServiceRole.EDGE,
      catalogImage: IMAGES.caddy,
      image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ca: props.ca,
      serverCertificate: props.serverCertificate,
      serverIdentity: {
        commonName: props.hostnames[0] ?? "invalid.invalid",
        dnsNames: Lazy.listValue({ produce: () => this.hostnameList }),
      },
      clientIdentity: ServiceIdentities.EDGE,
      files: [{ name: "Caddyfile", content: Lazy.stringValue({ produce: () => this.caddyfile }) }],
      hardening: {
        memoryMb: props.memoryMb ?? 256,
        cpuShares: props.cpuShares ?? 512,
        // Caddy keeps its state under XDG_DATA_HOME=/data and XDG_CONFIG_HOME=/config.
        tmpfsMb: { "/tmp": 32, "/data": 16, "/config": 16 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${EDGE_HEALTH_PORT}/healthz`],
      },
      // Not used: the edge listens on 8443 as a non-root user under no-new-privileges, so the
      // process never holds it. The image's caddy binary carries this file capability, and the
      // kernel refuses to exec such a binary (EPERM) when the capability is outside the
      // bounding set; keeping it in the bounding set is what lets caddy start at all.
      capabilitiesAdd: ["NET_BIND_SERVICE"],
      suppressions: [
        {
          ruleId: "ZTA-CTR-003",
          reason:
            "NET_BIND_SERVICE stays in the bounding set only because the caddy binary carries it as a file capability " +
            "(exec fails with EPERM without it); caddy runs as uid 65532 on port 8443 with no-new-privileges, so the process never holds it.",
        },
      ],
      command: ["caddy", "run", "--config", `${CONFIG_DIR}/Caddyfile`, "--adapter", "caddyfile"],
      // The only published port of the stack, bound to one address (the provider's default ip is 0.0.0.0).
      ports: [{ internal: EDGE_PORT, external: this.hostPort, ip: this.bindAddress, protocol: "tcp" }],
      // Its public leg; the trust graph adds one internal network per upstream it calls.
      networks: [{ name: this.network.name }],
    });
    this.container = this.service.container;
    const graph = TrustGraph.of(this);
    this.hostFlow = graph.allowExternal({
      zone: ExternalZone.HOST,
      callee: this.service,
      port: EDGE_PORT,
      authentication: props.gate ? Authentication.MTLS_AND_OIDC : Authentication.MTLS,
    });
    // The gate answers whoever shares its network (oauth2-proxy checks no client certificate): only the edge does.
    props.gate?.service.allowFrom(this.service, { port: GATE_PORT, authentication: Authentication.NETWORK_ONLY });
  }

  /**
   * Publishes no host port at all (e.g. the edge is reached over a tailnet by a container on its
   * network). Removes the `ports` block from the container; `publishesHostPort` turns false.
   */
  public withdrawHostPort(): void {
    this.container.resetPorts();
    if (!this.hostPortWithdrawn) TrustGraph.of(this).withdraw(this.hostFlow);
    this.hostPortWithdrawn = true;
  }

  /** False once `withdrawHostPort()` ran: nothing on the host's interfaces reaches the edge. */
  public get publishesHostPort(): boolean {
    return !this.hostPortWithdrawn;
  }

  /** A tunnel to the edge reaches its API site (refused unless the tunnel opts in by name). */
  public describeTunnelTarget(): TunnelTargetDescription {
    return { kind: "inference-api", dockerName: this.name, edge: this, caCertPem: this.caCertPem };
  }

  /** Hostnames the edge answers on (SANs of its certificate). */
  public get hostnames(): string[] {
    return [...this.hostnameList];
  }

  /** Adds a hostname to the API site and the certificate (e.g. the tailnet name). */
  public addHostname(hostname: string): void {
    const problems = new Problems(whereIs("EdgeProxy.addHostname", this.node.path));
    if (!isUnresolved(hostname)) {
      problems.check(
        isDnsName(hostname),
        "hostname",
        hostname,
        'Use a lowercase DNS name like "ai.tailnet-name.ts.net".',
      );
    }
    problems.throwIfAny();
    if (!this.hostnameList.includes(hostname)) this.hostnameList.push(hostname);
  }

  /** Adds a site (e.g. a browser app on its own hostname). Its hostnames join the certificate. */
  public addSite(site: EdgeSite): void {
    const problems = new Problems(whereIs("EdgeProxy.addSite", this.node.path));
    problems.check(
      site.clientCertMode === ClientCertMode.REQUIRE_AND_VERIFY || this.props.gate !== undefined,
      "clientCertMode",
      site.clientCertMode,
      "Without client certificates nothing would authenticate callers: give the edge an OIDC gate, or keep REQUIRE_AND_VERIFY.",
    );
    problems.check(
      !site.certificateOnly || site.clientCertMode === ClientCertMode.REQUIRE_AND_VERIFY,
      "clientCertMode",
      site.clientCertMode,
      "A certificateOnly site has nothing but the client certificate: keep REQUIRE_AND_VERIFY.",
    );
    problems.check(site.upstreams.length > 0, "upstreams", site.upstreams, "Give at least one upstream.");
    for (const h of site.hostnames) {
      problems.check(
        !this.hostnameList.includes(h),
        "hostnames",
        h,
        "Each hostname belongs to one site; use another hostname.",
      );
    }
    problems.throwIfAny();
    this.extraSites.push(site);
    for (const h of site.hostnames) this.addHostname(h);
  }

  /**
   * Publishes a service of the stack as its own site (a browser app): the site routes to
   * `<service>:<port>`, and the trust graph records the flow edge -> service with the network it needs.
   */
  public publishSite(service: HardenedService, port: number, site: PublishedSite): void {
    this.addSite({ ...site, upstreams: [`${service.namespaceOwner.name}:${port}`] });
    service.allowFrom(this.service, { port, authentication: Authentication.MTLS });
  }

  /**
   * Lets `scraper` (Prometheus) read the edge's HTTP metrics: a listener of its own on
   * EDGE_METRICS_PORT serving `/metrics` only, to a client certificate from the internal CA with the
   * `identity` subject only (403 for every other identity, no handshake without a certificate), with a
   * server certificate of its own for the edge's Docker name (whatever certificate the sites serve).
   * The flow is on the trust graph: the pair gets its own network, the port is reachable from nowhere else.
   */
  public allowMetricsScraper(
    scraper: HardenedService,
    identity: ServiceIdentity = ServiceIdentities.METRICS_SCRAPER,
  ): EdgeMetricsTarget {
    const problems = new Problems(whereIs("EdgeProxy.allowMetricsScraper", this.node.path));
    problems.check(
      this.metricsScraper === undefined || this.metricsScraper.service === scraper,
      "scraper",
      scraper.name,
      `${this.metricsScraper?.service.name} scrapes this edge already: one scraper per edge (share that Prometheus).`,
    );
    problems.check(
      this.metricsScraper === undefined || this.metricsScraper.identity.subjectDn === identity.subjectDn,
      "identity",
      identity.commonName,
      `Allowed already with ${this.metricsScraper?.identity.commonName}: call it once, with one identity.`,
    );
    problems.throwIfAny();
    const target = { address: `${this.name}:${EDGE_METRICS_PORT}`, serverName: this.name };
    if (this.metricsScraper) return target;
    this.metricsScraper = { service: scraper, identity };
    const cert = this.props.ca.issueServerCertificate(this, "metrics-server-cert", {
      commonName: this.name,
      dnsNames: [this.name],
    });
    const config = this.service.config!;
    config.addFile({ name: EDGE_METRICS_FILES.serverCert, content: cert.certPem });
    config.addFile({ name: EDGE_METRICS_FILES.serverKey, content: cert.privateKeyPem });
    this.service.allowFrom(scraper, {
      port: EDGE_METRICS_PORT,
      authentication: Authentication.MTLS,
      identity,
      metrics: true,
    });
    return target;
  }

  /** Where the metrics scraper reaches the edge; undefined until allowMetricsScraper ran. */
  public get metricsTarget(): EdgeMetricsTarget | undefined {
    return this.metricsScraper ? { address: `${this.name}:${EDGE_METRICS_PORT}`, serverName: this.name } : undefined;
  }

  /** The rendered Caddyfile (no secrets: certificates and keys are files beside it). */
  public get caddyfile(): string {
    return this.renderCaddyfile(true);
  }

  /** The Caddyfile with the API site only, no site added with addSite (what Lockdown serves). */
  public get caddyfileWithoutSites(): string {
    return this.renderCaddyfile(false);
  }

  private renderCaddyfile(withSites: boolean): string {
    const p = this.props;
    const apiHostnames = this.hostnameList.filter((h) => !this.extraSites.some((s) => s.hostnames.includes(h)));
    const apiSite: EdgeSite = {
      hostnames: apiHostnames,
      paths: p.routes,
      upstreams: p.upstreams,
      upstreamServerName: p.upstreamServerName,
      healthUri: p.healthUri ?? "/health",
      browser: false,
      clientCertMode: p.clientCertMode ?? ClientCertMode.REQUIRE_AND_VERIFY,
    };
    return renderEdgeCaddyfile({
      listenPort: EDGE_PORT,
      healthPort: EDGE_HEALTH_PORT,
      configDir: CONFIG_DIR,
      gate: p.gate ? { address: p.gate.address, serverName: p.gate.serverName } : undefined,
      maxRequestBodyMb: p.maxRequestBodyMb ?? 16,
      sites: withSites ? [apiSite, ...this.extraSites] : [apiSite],
      // Kept under Lockdown too: an internal listener, and the alerts need it most then.
      metrics: this.metricsScraper
        ? { port: EDGE_METRICS_PORT, scraperSubjectDn: this.metricsScraper.identity.subjectDn }
        : undefined,
    });
  }
}
