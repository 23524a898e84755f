import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Fn, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import { CONFIG_DIR, ServiceRole } from "../lib/identities";
import { IMAGES, checkImagePinned } from "../lib/images";
import { checkNoCredentialLiterals, readBoolean, readString, readStrings } from "../lib/shape";
import { isDnsName, isDockerName, isPositiveInt } from "../lib/validate";
import { HardenedService } from "./hardened-service";
import { EDGE_PORT, EdgeProxy } from "./edge-proxy";
import { Authentication, ExternalZone, TrustGraph } from "./trust-graph";
import { TailscaleAcl } from "./tailscale/acl";
import { TailscaleProvider } from "./tailscale/provider";
import { TailnetKey } from "./tailscale/tailnet-key";

/** The port the node serves on the tailnet (forwarded to the edge's TLS port). */
export const TAILNET_PORT = 443;
/** containerboot's health listener, pinned to loopback (its default is every interface, [::]:9002). */
export const TAILSCALE_HEALTH_ADDR = "127.0.0.1:9002";
/** Why tailscale runs as uid 0 (for a policy suppression of the runs-as-root rule). */
export const TAILSCALE_ROOT_REASON = IMAGES.tailscale.rootReason;
const STATE_DIR = "/var/lib/tailscale";
const TAG = /^tag:[a-z0-9][a-z0-9-]*$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Ask the tailscale provider to create the node's auth key (instead of passing one in). */
export interface TailnetKeyRequest {
  /** Tags the node takes on. @default the exposure's `tags` */
  readonly tags?: string[];
  /** Seconds the key stays usable; the node keeps its identity after. @default 3600 */
  readonly expirySeconds?: number;
  /** Skip device approval. @default true */
  readonly preauthorized?: boolean;
  /** Let the key register more than one node. @default false */
  readonly reusable?: boolean;
  /** Remove the node shortly after it goes offline. @default false */
  readonly ephemeral?: boolean;
}

/** A suggested tailnet policy: only these users/groups reach the tagged node, on port 443 only. */
export interface TailnetAclProps {
  /** ACL sources, e.g. `["group:ai-users", "alice@example.com"]`. */
  readonly allow: string[];
  /**
   * Create a `tailscale_acl` resource with it. That REPLACES the whole tailnet policy, so only when
   * this stack owns the policy. @default false (the JSON is available as `suggestedAcl`)
   */
  readonly apply?: boolean;
}

export interface TailscaleExposureProps {
  /** The edge to put on the tailnet; it stops publishing any host port. */
  readonly target: EdgeProxy;
  /** The node's tailnet hostname (MagicDNS name), e.g. "ai". */
  readonly hostname: string;
  /** An auth key as a Terraform reference (a sensitive variable's value). Exactly one of authKey/createAuthKey. */
  readonly authKey?: string;
  /** Create a short-lived, single-use, tagged, preauthorized key with the tailscale provider. */
  readonly createAuthKey?: TailnetKeyRequest;
  /**
   * ACL tags of the node. They come from the auth key (a node registered with a tagged key takes the
   * key's tags): a created key carries them; a passed key must have been created with them. They also
   * shape the suggested ACL. @default ["tag:zta-ai"]
   */
  readonly tags?: string[];
  /**
   * The tailnet's MagicDNS domain, e.g. "tailnet-abc.ts.net": `<hostname>.<tailnetDomain>` joins the
   * edge's API site and certificate (unless a site such as a chat UI's already owns it) and an output
   * names the URL. @default the short name joins the API site
   */
  readonly tailnetDomain?: string;
  /**
   * Kernel networking (a TUN device, NET_ADMIN and NET_RAW). Userspace networking needs neither and
   * is all this exposure uses (serve forwards TCP). @default false
   */
  readonly kernelNetworking?: boolean;
  /** A suggested ACL for the tagged node. @default none */
  readonly acl?: TailnetAclProps;
  /** Docker name. @default "<edge name>-ts-<hostname>" */
  readonly name?: string;
  /** @default the catalog's pinned tailscale/tailscale */
  readonly image?: string;
  /** @default false */
  readonly allowUnpinnedImages?: boolean;
  /** @default 128 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
}

/**
 * The homelab default: the edge is reachable on a tailnet and on no host port at all.
 *
 * A hardened `tailscale/tailscale` container joins the edge's own network (which has egress to the
 * tailnet's coordination and relay servers) and forwards TCP 443 on its tailnet address to the
 * edge's 8443 with a serve config (`TCPForward`). TLS and client certificates stay terminated by
 * Caddy: tailscaled only moves bytes, it sees no plaintext. Chosen over sharing the edge's network
 * namespace because the edge keeps its own namespace and no tailscaled runs next to its keys.
 *
 * Userspace networking by default: no NET_ADMIN, no /dev/net/tun. Health on 127.0.0.1:9002 only.
 * State (the node key) on a named volume, so restarts reuse the identity and the auth key is used
 * once (`TS_AUTH_ONCE`); the key reaches tailscale as a file on the config volume
 * (`TS_AUTHKEY=file:...`, which `tailscale up --auth-key` reads), never as an environment value.
 *
 * Runs as root with every capability dropped: the image defines no user, and a fresh named volume
 * for the state is root-owned (the provider cannot chown it).
 *
 * Tags are not passed as `--advertise-tags` in TS_EXTRA_ARGS: containerboot hands TS_EXTRA_ARGS to
 * `tailscale up` in some releases and to `tailscale set` (which has no such flag) in later ones
 * (cmd/containerboot/tailscaled.go, both read). The key's tags apply either way.
 */
export class TailscaleExposure extends Construct {
  /** A tailnet policy granting `allow` access to the tagged node's port 443 and nothing else. */
  public static renderAcl(tags: string[], allow: string[]): string {
    const policy = {
      tagOwners: Object.fromEntries(tags.map((t) => [t, ["autogroup:admin"]])),
      acls: [{ action: "accept", src: [...allow], dst: tags.map((t) => `${t}:${TAILNET_PORT}`) }],
    };
    return JSON.stringify(policy, null, 2);
  }

  public readonly service!: HardenedService;
  public readonly container!: Container;
  public readonly stateVolume!: Volume;
  /** The generated key, when `createAuthKey` was given. */
  public readonly tailnetKey?: TailnetKey;
  public readonly tags: string[];
  /** The serve config tailscale applies (JSON). */
  public readonly serveConfig!: string;
  /** The suggested ACL, when `acl` was given. */
  public readonly suggestedAcl?: string;
  /** The name clients use on the tailnet (and a SAN of the edge certificate). */
  public readonly tailnetName!: string;

  constructor(scope: Construct, id: string, props: TailscaleExposureProps) {
    super(scope, id);
    const edge = props.target;
    // A hostname from a variable is unknown at synth: the default Docker name then leaves it out.
    const suffix = typeof props.hostname === "string" && !isUnresolved(props.hostname) ? `-${props.hostname}` : "";
    const name = props.name ?? `${edge instanceof EdgeProxy ? edge.name : id}-ts${suffix}`;
    const givenTags = props.tags ?? props.createAuthKey?.tags ?? ["tag:zta-ai"];
    // A list of the wrong shape is reported by validate(); build from a safe one meanwhile.
    this.tags = Array.isArray(givenTags) ? givenTags : [];
    const image = props.image ?? IMAGES.tailscale.reference;
    // One set of problems for every prop, reported together at synth.
    const problems = new Problems(whereIs("TailscaleExposure", this.node.path), this);
    const kernel = readBoolean(problems, "kernelNetworking", props.kernelNetworking, false);
    // An edge is what it attaches to: without one nothing can be built (synth reports why).
    const valid = validate(problems, props, name, this.tags, image);
    if (!valid && !(edge instanceof EdgeProxy)) return;

    if (props.createAuthKey) {
      this.node.addValidation({
        validate: () =>
          TerraformStack.of(this)
            .node.findAll()
            .some((c) => c instanceof TailscaleProvider)
            ? []
            : [
                `TailscaleExposure "${this.node.path}" creates its auth key with the tailscale provider: add ` +
                  'new TailscaleProvider(stack, "tailscale", { oauthClientId: ..., oauthClientSecret: ... }) (import from "cdktf-zero-trust-ai").',
              ],
      });
      const req = props.createAuthKey;
      this.tailnetKey = new TailnetKey(this, "auth-key", {
        reusable: req.reusable ?? false,
        ephemeral: req.ephemeral ?? false,
        preauthorized: req.preauthorized ?? true,
        tags: req.tags ?? this.tags,
        expiry: req.expirySeconds ?? 3600,
        description: `cdktf-zero-trust-ai ${name}`.slice(0, 50),
      });
    }
    const authKey = this.tailnetKey ? this.tailnetKey.key : (props.authKey as string);

    // The edge is reached only through this node: no host port, and the tailnet names join its certificate.
    // With a tailnet domain only the full name joins (a name another site already owns, e.g. a chat
    // UI's, stays with that site); without one, the MagicDNS short name does.
    edge.withdrawHostPort();
    this.tailnetName = props.tailnetDomain ? `${props.hostname}.${props.tailnetDomain}` : props.hostname;
    if (valid && !edge.hostnames.includes(this.tailnetName)) edge.addHostname(this.tailnetName);

    this.serveConfig = JSON.stringify(
      { TCP: { [String(TAILNET_PORT)]: { TCPForward: `${edge.name}:${EDGE_PORT}` } } },
      null,
      2,
    );
    if (props.acl) {
      this.suggestedAcl = TailscaleExposure.renderAcl(this.tags, Array.isArray(props.acl.allow) ? props.acl.allow : []);
      if (props.acl.apply) new TailscaleAcl(this, "acl", { acl: this.suggestedAcl });
    }

    this.stateVolume = new Volume(this, "state", { name: `${name}-state` });

    const env = [
      `TS_HOSTNAME=${props.hostname}`,
      `TS_AUTHKEY=file:${CONFIG_DIR}/authkey`,
      // Log in with the key only when the state holds no identity yet (the key may have expired since).
      "TS_AUTH_ONCE=true",
      `TS_STATE_DIR=${STATE_DIR}`,
      `TS_USERSPACE=${kernel ? "false" : "true"}`,
      "TS_ACCEPT_DNS=false",
      `TS_SERVE_CONFIG=${CONFIG_DIR}/serve.json`,
      "TS_ENABLE_HEALTH_CHECK=true",
      `TS_LOCAL_ADDR_PORT=${TAILSCALE_HEALTH_ADDR}`,
      "TS_SOCKET=/tmp/tailscaled.sock",
    ];

    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    // uid 0 is the one exception to the hardening here; the catalog's rootReason goes into the policy report.
    this.service = new HardenedService(this, "Default", {
      name,
      role: ServiceRole.TAILSCALE,
      catalogImage: IMAGES.tailscale,
      image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      files: [
        // Sensitive end to end: a reference here, sensitive() in plans, a 0444 file only this container mounts.
        { name: "authkey", content: Fn.sensitive(authKey) },
        { name: "serve.json", content: this.serveConfig },
      ],
      hardening: {
        memoryMb: props.memoryMb ?? 128,
        cpuShares: props.cpuShares ?? 256,
        tmpfsMb: { "/tmp": 16 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://${TAILSCALE_HEALTH_ADDR}/healthz`],
        healthStartPeriod: "60s",
      },
      // Userspace: nothing. Kernel mode: a TUN device and exactly NET_ADMIN (routes, interface, netfilter)
      // + NET_RAW (raw sockets netfilter tooling needs); no SYS_MODULE: load the tun module on the host.
      capabilitiesAdd: kernel ? ["NET_ADMIN", "NET_RAW"] : undefined,
      devices: kernel ? [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun", permissions: "rwm" }] : undefined,
      suppressions: kernel
        ? [
            {
              ruleId: "ZTA-CTR-003",
              reason:
                "kernelNetworking: true was asked for by name: tailscaled then manages a TUN interface, routes and netfilter (NET_ADMIN, NET_RAW).",
            },
          ]
        : [],
      env,
      // The edge's public leg: tailscaled needs a way out to its coordination server and relays.
      networks: [{ name: edge.network.name }],
      volumes: [{ volumeName: this.stateVolume.name, containerPath: STATE_DIR, readOnly: false }],
    });
    this.container = this.service.container;
    const graph = TrustGraph.of(this);
    graph.allowExternal({
      zone: ExternalZone.TAILNET,
      callee: this.service,
      port: TAILNET_PORT,
      authentication: Authentication.MTLS,
    });
    // TCP forwarded as is: the edge checks the operator's client certificate end to end.
    edge.service.allowFrom(this.service, { port: EDGE_PORT, authentication: Authentication.MTLS, via: edge.network });

    if (props.tailnetDomain) {
      new TerraformOutput(this, "tailnet_url", {
        description: "The edge on the tailnet (mTLS as before; no host port is published)",
        value: `https://${props.hostname}.${props.tailnetDomain}`,
      }).overrideLogicalId(`${name.replace(/[^A-Za-z0-9_]/g, "_")}_tailnet_url`);
    }
  }
}

/** Checks the props into `problems` (the constructor's) and reports them; true when there were none. */
function validate(
  problems: Problems,
  props: TailscaleExposureProps,
  name: string,
  tags: string[],
  image: string,
): boolean {
  if (!(props.target instanceof EdgeProxy)) {
    const inference = (props.target as { edge?: unknown } | undefined)?.edge instanceof EdgeProxy;
    problems.add(
      "target",
      props.target,
      inference
        ? "Pass the SecureInference's edge: target: ai.edge (the edge is what joins the tailnet)."
        : "Pass an EdgeProxy, e.g. target: ai.edge.",
    );
  }
  readString(problems, "hostname", props.hostname, true, '"ai"');
  problems.check(
    typeof props.hostname !== "string" || isUnresolved(props.hostname) || LABEL.test(props.hostname),
    "hostname",
    props.hostname,
    'Use one lowercase DNS label like "ai" (the tailnet adds its domain).',
  );
  if (props.tailnetDomain !== undefined && !isUnresolved(props.tailnetDomain)) {
    problems.check(
      isDnsName(props.tailnetDomain),
      "tailnetDomain",
      props.tailnetDomain,
      'Use the MagicDNS domain like "tailnet-abc.ts.net".',
    );
  }
  problems.check(
    isDockerName(name),
    "name",
    name,
    "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
  );
  const given = [props.authKey !== undefined, props.createAuthKey !== undefined].filter(Boolean).length;
  problems.check(
    given === 1,
    "authKey",
    given === 0 ? undefined : "both authKey and createAuthKey",
    "Give exactly one: authKey (a sensitive variable's value) or createAuthKey: {} to have the tailscale provider create a short-lived key.",
  );
  if (props.authKey !== undefined) {
    problems.check(
      isUnresolved(props.authKey),
      "authKey",
      "a literal string",
      "Pass a Terraform reference, e.g. new TerraformVariable(stack, 'ts_auth_key', { type: 'string', sensitive: true }).value, so the key never appears in the synthesized JSON.",
    );
  }
  problems.check(
    tags.length > 0 || !Array.isArray(props.tags ?? props.createAuthKey?.tags ?? []),
    "tags",
    tags,
    'Advertise at least one tag, e.g. ["tag:zta-ai"]: ACLs grant access by tag.',
  );
  readStrings(problems, "tags", props.tags, false, '["tag:zta-ai"]');
  const keyTags = readStrings(problems, "createAuthKey.tags", props.createAuthKey?.tags, false, '["tag:zta-ai"]');
  for (const tag of [...tags, ...keyTags]) {
    problems.check(
      TAG.test(tag),
      "tags",
      tag,
      'Use "tag:" followed by lowercase letters, digits or "-", e.g. "tag:zta-ai".',
    );
  }
  const expiry = props.createAuthKey?.expirySeconds;
  if (expiry !== undefined) {
    problems.check(
      isPositiveInt(expiry) && expiry <= 86400,
      "createAuthKey.expirySeconds",
      expiry,
      "Use 1 to 86400 seconds: the key is only needed for the first login.",
    );
  }
  if (props.acl) {
    const allow = readStrings(problems, "acl.allow", props.acl.allow, true, '["group:ai-users"]');
    if (Array.isArray(props.acl.allow)) {
      problems.check(
        allow.length > 0,
        "acl.allow",
        allow,
        'Name who may connect, e.g. ["group:ai-users"]; an empty list grants nobody.',
      );
    }
    for (const src of allow) {
      problems.check(
        src !== "*",
        "acl.allow",
        src,
        'Name users or groups; "*" would grant every device in the tailnet.',
      );
    }
  }
  checkImagePinned(problems, "image", image, props.allowUnpinnedImages ?? false);
  checkNoCredentialLiterals(problems, props, ["target", "authKey"]);
  return problems.report();
}
