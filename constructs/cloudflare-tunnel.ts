// Cloudflare classes by deep path: the package barrel loads ~560 modules per synth.
import { DataCloudflareZeroTrustOrganization } from "@cdktf/provider-cloudflare/lib/data-cloudflare-zero-trust-organization";
import { DataCloudflareZeroTrustTunnelCloudflaredToken } from "@cdktf/provider-cloudflare/lib/data-cloudflare-zero-trust-tunnel-cloudflared-token";
import { DnsRecord } from "@cdktf/provider-cloudflare/lib/dns-record";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { ZeroTrustAccessApplication } from "@cdktf/provider-cloudflare/lib/zero-trust-access-application";
import {
  ZeroTrustAccessPolicy,
  ZeroTrustAccessPolicyInclude,
} from "@cdktf/provider-cloudflare/lib/zero-trust-access-policy";
import { ZeroTrustTunnelCloudflared } from "@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared";
import {
  ZeroTrustTunnelCloudflaredConfigA,
  ZeroTrustTunnelCloudflaredConfigConfigIngress,
} from "@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared-config";
import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Fn, TerraformStack, Token } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { ClientCertMode } from "../lib/caddyfile";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import { INTERNAL_NETWORK_OPTIONS } from "../lib/hardening";
import { CONFIG_DIR, ServiceRole } from "../lib/identities";
import { IMAGES, checkImagePinned } from "../lib/images";
import { CATCH_ALL_SERVICE } from "../lib/tunnel-ingress";
import {
  checkNoCredentialLiterals,
  checkRenamedProps,
  readNumber,
  readObject,
  readString,
  readStrings,
} from "../lib/shape";
import { dnsNameFix, isDnsName, isDockerName, isEmail } from "../lib/validate";
import { ITunnelApp, ITunnelTarget, TunnelOrigin } from "./interfaces";
import { HardenedService } from "./hardened-service";
import { EDGE_PORT, EdgeProxy } from "./edge-proxy";
import { Authentication, ExternalZone, TrustGraph } from "./trust-graph";

/** cloudflared's metrics/readiness listener, on its own loopback only. */
export const CLOUDFLARED_METRICS_ADDR = "127.0.0.1:2000";

/** Who may pass Cloudflare Access. At least one entry across the three lists. */
export interface CloudflareAccessProps {
  /** Email domains, e.g. ["example.com"]. @default none */
  readonly emailDomains?: string[];
  /** Single addresses, e.g. ["alice@example.org"]. @default none */
  readonly emails?: string[];
  /** Access group ids. @default none */
  readonly groups?: string[];
  /** How long an Access session lasts, in hours (like OidcGate's `oidc.sessionHours`). @default 8 */
  readonly sessionHours?: number;
}

export interface CloudflareTunnelProps {
  readonly accountId: string;
  readonly zoneId: string;
  /** The public hostname (a proxied CNAME to the tunnel is created in the zone). */
  readonly hostname: string;
  /** What the tunnel reaches: a ChatUi. The inference API only with `allowInferenceApi`. */
  readonly target: ITunnelTarget;
  readonly access: CloudflareAccessProps;
  /**
   * The Zero Trust team name (`<team>.cloudflareaccess.com`) cloudflared validates Access JWTs against.
   * @default read from the account's Zero Trust organization (auth_domain)
   */
  readonly teamName?: string;
  /**
   * Route the raw inference API (SecureInference / EdgeProxy) through Cloudflare. Off by default:
   * the tunnel is for browser apps. The edge must then accept requests without a client certificate
   * (OIDC with ClientCertMode.VERIFY_IF_GIVEN); generations idle for ~100 s are cut by Cloudflare.
   * @default false
   */
  readonly allowInferenceApi?: boolean;
  /**
   * Subnet of the network between cloudflared and the chat UI; the UI's tunnel listener admits only it.
   * @default "172.31.253.0/28"
   */
  readonly tunnelSubnet?: string;
  /** Docker name of the cloudflared container. @default "<target name>-cloudflared" */
  readonly name?: string;
  /** @default the catalog's pinned cloudflare/cloudflared */
  readonly image?: string;
  /** @default false */
  readonly allowUnpinnedImages?: boolean;
  /** @default 128 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
}

const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/(2[4-9]|3[0-2])$/;

/**
 * Browser access without a client, for the chat UI: a remotely managed Cloudflare Tunnel, a proxied
 * DNS record, an Access application with a non-empty policy, and a hardened cloudflared that
 * validates the Access JWT itself before anything reaches the origin.
 *
 * cloudflared sits on two networks: an egress network (outbound to Cloudflare; no ports published)
 * and an internal network shared with the origin only. It reaches the origin over TLS it verifies
 * against the internal CA (`caPool` + `originServerName`). The tunnel token comes from a data source,
 * is wrapped in `sensitive()` and reaches cloudflared as a file (`--token-file`), never an env value.
 *
 * Server-sent events: Cloudflare closes a response idle for ~100 s. Open WebUI streams to browsers
 * over its websocket, which pings every 25 s (ChatUi sets WEBSOCKET_SERVER_PING_INTERVAL), so chats
 * survive long generations. The raw inference API (opt-in only) has no such keepalive: vLLM sends
 * nothing while it prefills, so very long prompts can be cut; clients must retry or stay on the tailnet.
 */
export class CloudflareTunnel extends Construct {
  public readonly tunnel!: ZeroTrustTunnelCloudflared;
  public readonly tunnelConfig!: ZeroTrustTunnelCloudflaredConfigA;
  public readonly dnsRecord!: DnsRecord;
  public readonly accessApplication!: ZeroTrustAccessApplication;
  public readonly accessPolicy!: ZeroTrustAccessPolicy;
  public readonly service!: HardenedService;
  public readonly container!: Container;
  /** The ingress rules in order (the last is the catch-all 404). */
  public readonly ingress!: ZeroTrustTunnelCloudflaredConfigConfigIngress[];
  /** True when the tunnel exposes the inference API (opted in by name). */
  public readonly exposesInferenceApi: boolean;

  constructor(scope: Construct, id: string, props: CloudflareTunnelProps) {
    super(scope, id);
    const image = props.image ?? IMAGES.cloudflared.reference;
    const subnet = props.tunnelSubnet ?? "172.31.253.0/28";
    const resolved = resolveTarget(props.target);
    this.exposesInferenceApi = resolved.kind === "inference-api";
    const name = props.name ?? `${resolved.dockerName}-cloudflared`;
    const valid = validate(this, props, resolved, name, image, subnet);
    // Without a target it can reach, nothing can be built; synth reports the problems.
    if (!valid && !resolved.chat && !resolved.edge) return;

    this.node.addValidation({
      validate: () =>
        TerraformStack.of(this)
          .node.findAll()
          .some((c) => c instanceof CloudflareProvider)
          ? []
          : [
              `CloudflareTunnel "${this.node.path}" needs a CloudflareProvider in its stack: add new CloudflareProvider(stack, "cloudflare", { apiToken: <sensitive variable>.value }) ` +
                '(import from "@cdktf/provider-cloudflare/lib/provider").',
            ],
    });

    // Networks: the origin side is internal (no route out) and shared with the origin only.
    let networks: { name: string }[];
    let origin: TunnelOrigin;
    let originNetwork: Network | undefined;
    if (resolved.chat) {
      const egress = new Network(this, "egress-network", { name: `${name}-egress`, internal: false });
      const originNet = new Network(this, "origin-network", {
        name: `${name}-origin`,
        internal: true,
        options: INTERNAL_NETWORK_OPTIONS,
        ipamConfig: [{ subnet }],
      });
      origin = resolved.chat.attachTunnel(originNet, subnet);
      originNetwork = originNet;
      networks = [{ name: egress.name }, { name: originNet.name }];
    } else {
      // Opt-in: the edge's own network (it has egress); the edge verifies what cloudflared sends.
      const edge = resolved.edge as EdgeProxy;
      edge.addHostname(props.hostname);
      origin = {
        service: `https://${edge.name}:${EDGE_PORT}`,
        serverName: props.hostname,
        caCertPem: resolved.caCertPem as string,
      };
      networks = [{ name: edge.network.name }];
    }

    this.tunnel = new ZeroTrustTunnelCloudflared(this, "tunnel", {
      accountId: props.accountId,
      name,
      // Remotely managed: the ingress below lives at Cloudflare; cloudflared only needs the token.
      configSrc: "cloudflare",
    });

    const access: CloudflareAccessProps = props.access !== null && typeof props.access === "object" ? props.access : {};
    const include: ZeroTrustAccessPolicyInclude[] = [
      ...listOf(access.emails).map((email) => ({ email: { email } })),
      ...listOf(access.emailDomains).map((domain) => ({ emailDomain: { domain } })),
      ...listOf(access.groups).map((group) => ({ group: { id: group } })),
    ];
    const hours = access.sessionHours ?? 8;
    const sessionDuration = `${isUnresolved(hours) ? Token.asString(hours) : hours}h`;
    this.accessPolicy = new ZeroTrustAccessPolicy(this, "access-policy", {
      accountId: props.accountId,
      name: `${name} users`,
      decision: "allow",
      include,
      sessionDuration,
    });
    this.accessApplication = new ZeroTrustAccessApplication(this, "access-app", {
      accountId: props.accountId,
      name,
      type: "self_hosted",
      destinations: [{ type: "public", uri: props.hostname }],
      sessionDuration,
      policies: [{ id: this.accessPolicy.id, precedence: 1 }],
      httpOnlyCookieAttribute: true,
      sameSiteCookieAttribute: "lax",
      appLauncherVisible: false,
    });

    const teamName =
      props.teamName ??
      Fn.element(
        Fn.split(
          ".",
          new DataCloudflareZeroTrustOrganization(this, "organization", { accountId: props.accountId }).authDomain,
        ),
        0,
      );
    this.ingress = [
      {
        hostname: props.hostname,
        service: origin.service,
        originRequest: {
          // cloudflared refuses any request without a valid Access JWT for this application.
          access: { required: true, teamName, audTag: [this.accessApplication.aud] },
          caPool: `${CONFIG_DIR}/origin-ca.crt`,
          originServerName: origin.serverName,
          noTlsVerify: false,
        },
      },
      { service: CATCH_ALL_SERVICE },
    ];
    this.tunnelConfig = new ZeroTrustTunnelCloudflaredConfigA(this, "config", {
      accountId: props.accountId,
      tunnelId: this.tunnel.id,
      config: { ingress: this.ingress },
    });

    this.dnsRecord = new DnsRecord(this, "dns", {
      zoneId: props.zoneId,
      name: props.hostname,
      type: "CNAME",
      content: `${this.tunnel.id}.cfargotunnel.com`,
      proxied: true,
      ttl: 1,
      comment: "cdktf-zero-trust-ai tunnel (Access-protected)",
    });

    // Not marked sensitive by the provider: wrap it so plans never show it.
    const token = new DataCloudflareZeroTrustTunnelCloudflaredToken(this, "token", {
      accountId: props.accountId,
      tunnelId: this.tunnel.id,
    });
    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    this.service = new HardenedService(this, "Default", {
      name,
      role: ServiceRole.CLOUDFLARED,
      catalogImage: IMAGES.cloudflared,
      image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ids: { config: "config-volume" },
      files: [
        { name: "tunnel-token", content: Fn.sensitive(token.token) },
        { name: "origin-ca.crt", content: origin.caCertPem },
      ],
      hardening: {
        memoryMb: props.memoryMb ?? 128,
        cpuShares: props.cpuShares ?? 256,
        tmpfsMb: { "/tmp": 16 },
        // Distroless: no shell or wget; cloudflared asks its own metrics listener for readiness.
        healthcheck: ["cloudflared", "tunnel", "--metrics", CLOUDFLARED_METRICS_ADDR, "ready"],
      },
      entrypoint: [
        "cloudflared",
        "--no-autoupdate",
        "tunnel",
        "--metrics",
        CLOUDFLARED_METRICS_ADDR,
        "run",
        "--token-file",
        `${CONFIG_DIR}/tunnel-token`,
      ],
      networks,
      labels: [{ label: "zta.tunnel-target", value: resolved.kind }],
    });
    this.container = this.service.container;
    const graph = TrustGraph.of(this);
    graph.allowExternal({
      zone: ExternalZone.CLOUDFLARE,
      callee: this.service,
      port: 443,
      authentication: Authentication.ACCESS_JWT,
    });
    if (resolved.chat) {
      // The proxy admits the tunnel listener to sources in the origin network's subnet only.
      resolved.chat.acceptTunnel(this.service, originNetwork!);
    } else if (resolved.edge) {
      resolved.edge.service.allowFrom(this.service, {
        port: EDGE_PORT,
        authentication: Authentication.ACCESS_JWT,
        via: resolved.edge.network,
      });
    }
  }
}

function listOf(value: string[] | undefined): string[] {
  return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
}

interface ResolvedTarget {
  readonly kind: "chat-ui" | "inference-api" | "sidecar" | "unknown";
  readonly dockerName: string;
  readonly chat?: ITunnelApp;
  readonly edge?: EdgeProxy;
  readonly caCertPem?: string;
}

function resolveTarget(target: IConstruct): ResolvedTarget {
  // Plain JavaScript stacks can pass anything: ask the target, never assume it is one of ours.
  const described =
    typeof (target as Partial<ITunnelTarget> | undefined)?.describeTunnelTarget === "function"
      ? (target as ITunnelTarget).describeTunnelTarget()
      : undefined;
  if (!described || !["chat-ui", "inference-api", "sidecar"].includes(described.kind))
    return { kind: "unknown", dockerName: "tunnel" };
  return {
    kind: described.kind as ResolvedTarget["kind"],
    dockerName: described.dockerName,
    chat: described.app,
    edge: described.edge,
    caCertPem: described.caCertPem,
  };
}

function validate(
  scope: Construct,
  props: CloudflareTunnelProps,
  target: ResolvedTarget,
  name: string,
  image: string,
  subnet: string,
): boolean {
  const problems = new Problems(whereIs("CloudflareTunnel", scope.node.path), scope);
  readString(problems, "hostname", props.hostname, true, '"chat.example.com"');
  readObject(problems, "access", props.access, true, '{ emailDomains: ["example.com"] }');
  const access =
    props.access !== null && typeof props.access === "object" && !Array.isArray(props.access) ? props.access : {};
  for (const key of ["emails", "emailDomains", "groups"] as const)
    readStrings(problems, `access.${key}`, access[key], false, '["example.com"]');
  if (
    target.chat &&
    typeof props.hostname === "string" &&
    !isUnresolved(props.hostname) &&
    !isUnresolved(target.chat.hostname)
  ) {
    problems.check(
      props.hostname === target.chat.hostname,
      "hostname",
      props.hostname,
      `The chat UI's origin (WEBUI_URL, CORS_ALLOW_ORIGIN, cookies) is its own hostname "${target.chat.hostname}": ` +
        "use the same hostname here (and publishOnEdge: false on the ChatUi if only the tunnel reaches it).",
    );
  }
  for (const [prop, value] of [
    ["accountId", props.accountId],
    ["zoneId", props.zoneId],
  ] as const) {
    if (!isUnresolved(value))
      problems.check(
        /^[0-9a-f]{32}$/.test(value),
        prop,
        value,
        "Use the 32-hex id from the Cloudflare dashboard (or a Terraform reference).",
      );
  }
  if (typeof props.hostname === "string" && props.hostname !== "" && !isUnresolved(props.hostname)) {
    problems.check(
      isDnsName(props.hostname),
      "hostname",
      props.hostname,
      dnsNameFix(props.hostname, "chat.example.com"),
    );
  }
  if (target.kind === "unknown") {
    problems.add(
      "target",
      props.target,
      "Point the tunnel at a ChatUi (browser access); it reaches nothing else by default.",
    );
  }
  if (target.kind === "sidecar") {
    problems.add(
      "target",
      props.target.node.path,
      "An mTLS sidecar requires a client certificate cloudflared cannot present; point the tunnel at a ChatUi.",
    );
  }
  if (target.kind === "inference-api" && props.allowInferenceApi !== true) {
    problems.add(
      "target",
      props.target.node.path,
      "The tunnel is for browser apps: point it at a ChatUi, keep the API on the tailnet. To route the raw " +
        "inference API through Cloudflare anyway, set allowInferenceApi: true (the policy engine reports it).",
    );
  }
  if (target.kind === "inference-api" && props.allowInferenceApi === true && target.edge) {
    problems.check(
      target.edge.clientCertMode === ClientCertMode.VERIFY_IF_GIVEN,
      "target",
      props.target.node.path,
      "The edge requires client certificates, which cloudflared cannot present: configure oidc on " +
        "SecureInference with clientCertMode: ClientCertMode.VERIFY_IF_GIVEN, or point the tunnel at a ChatUi.",
    );
  }
  const a = {
    emails: Array.isArray(access.emails) ? access.emails : undefined,
    emailDomains: Array.isArray(access.emailDomains) ? access.emailDomains : undefined,
    groups: Array.isArray(access.groups) ? access.groups : undefined,
  };
  const count = (a.emails?.length ?? 0) + (a.emailDomains?.length ?? 0) + (a.groups?.length ?? 0);
  problems.check(
    count > 0,
    "access",
    a,
    'Say who may pass Access: emails, emailDomains or groups (e.g. emailDomains: ["example.com"]). An empty include set would admit nobody or, worse, be widened by hand later.',
  );
  for (const email of a.emails ?? [])
    problems.check(
      isUnresolved(email) || isEmail(email),
      "access.emails",
      email,
      "Use a plain address like alice@example.org.",
    );
  for (const domain of a.emailDomains ?? []) {
    problems.check(
      isUnresolved(domain) || isDnsName(domain),
      "access.emailDomains",
      domain,
      'Use a domain like "example.com" (no "@", no wildcard).',
    );
  }
  for (const group of a.groups ?? [])
    problems.check(group.length > 0, "access.groups", group, "Use the Access group's id.");
  readNumber(problems, "access.sessionHours", access.sessionHours, 8, { min: 1, max: 720, unit: "hours" });
  checkRenamedProps(problems, access, { sessionDuration: "sessionHours" }, "access.");
  if (props.teamName !== undefined && !isUnresolved(props.teamName)) {
    problems.check(
      /^[a-z0-9][a-z0-9-]*$/.test(props.teamName),
      "teamName",
      props.teamName,
      'Use the team name only, e.g. "acme" for acme.cloudflareaccess.com.',
    );
  }
  problems.check(
    CIDR.test(subnet),
    "tunnelSubnet",
    subnet,
    'Use a small private IPv4 CIDR (/24 to /32) no other Docker network uses, e.g. "172.31.253.0/28".',
  );
  problems.check(
    isDockerName(name),
    "name",
    name,
    "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
  );
  checkImagePinned(problems, "image", image, props.allowUnpinnedImages ?? false);
  checkNoCredentialLiterals(problems, props, ["target"]);
  return problems.report();
}
