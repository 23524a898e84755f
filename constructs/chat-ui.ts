import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Password } from "@cdktf/provider-random/lib/password";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { ClientCertMode } from "../lib/caddyfile";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import {
  CHAT_CLIENT_CN,
  CHAT_SERVER_NAME,
  CONFIG_DIR,
  ServiceIdentities,
  ServiceRole,
  serviceSubjectDn,
} from "../lib/identities";
import { IMAGES } from "../lib/images";
import { WEBUI_TRUSTED_EMAIL_HEADER } from "../lib/headers";
import { renderChatProxyNginxConfig } from "../lib/nginx-client";
import { checkNoCredentialLiterals, checkRenamedProps, readBoolean, readNumber, readString } from "../lib/shape";
import { dnsNameFix, isDnsName, isDockerName } from "../lib/validate";
import { HardenedService } from "./hardened-service";
import { Authentication } from "./trust-graph";
import {
  IInferenceApi,
  ITunnelApp,
  ITunnelTarget,
  TunnelOrigin,
  TunnelTargetDescription,
  isInferenceApi,
} from "./interfaces";

/** Open WebUI's port, bound to 127.0.0.1 inside its own network namespace. */
export const WEBUI_PORT = 8080;
/** The proxy's loopback port Open WebUI calls for the OpenAI API. */
export const CHAT_CLIENT_PORT = 8090;
/** The proxy's TLS port for the edge (client certificate required). */
export const CHAT_EDGE_PORT = 8443;
/** The proxy's TLS port for cloudflared (tunnel network only). */
export const CHAT_TUNNEL_PORT = 8444;
/** The proxy's loopback healthcheck port. */
export const CHAT_HEALTH_PORT = 8082;
/** Why Open WebUI runs as uid 0 (for a policy suppression of the runs-as-root rule). */
export const OPEN_WEBUI_ROOT_REASON = IMAGES.openWebui.rootReason;
/** Where Open WebUI keeps its database, uploads and caches (the named volume). */
export const WEBUI_DATA_DIR = "/app/backend/data";
/** Open WebUI's audit log file on the data volume (AUDIT_LOGS_FILE_PATH, relative to the volume). */
export const WEBUI_AUDIT_LOG_FILE = "audit.log";
/** Where the audit relay mounts the data volume (read-only). */
export const AUDIT_RELAY_DATA_DIR = "/data";

export interface ChatUiProps {
  /** The inference service the UI talks to (through its sidecars, with the UI's own client certificate). */
  readonly inference: IInferenceApi;
  /** The public hostname users open (CORS origin, cookie scope, the edge site or the tunnel hostname). */
  readonly hostname: string;
  /** Docker name prefix. @default "<inference prefix>-chat" derived from the construct id */
  readonly name?: string;
  /**
   * Publish the UI as its own site on the SecureInference edge. Turn off when only a tunnel reaches it.
   * @default true
   */
  readonly publishOnEdge?: boolean;
  /** @default the catalog's pinned Open WebUI */
  readonly image?: string;
  /** The chat proxy's image, also the audit relay's (which needs `sh` and a `tail` with `-F`). @default the catalog's pinned nginx-unprivileged */
  readonly proxyImage?: string;
  /** Accept images that are not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** Open WebUI memory limit, MB. @default 2048 */
  readonly memoryMb?: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** Request body limit through the chat proxy (uploads), MB. @default 25 */
  readonly maxRequestBodyMb?: number;
  /**
   * Create an Open WebUI account (role "pending": an admin approves it) for anyone the edge's OIDC gate
   * or Cloudflare Access lets through. Open WebUI creates trusted-header users through its signup
   * path, so this turns ENABLE_SIGNUP on. @default false: signup is off and an admin adds each user
   * (same email) before their first sign-in
   */
  readonly autoProvisionUsers?: boolean;
  /**
   * Run `<name>-audit-relay`: a hardened busybox `tail -F` of Open WebUI's audit log (on the data volume,
   * mounted read-only, no network) to its stdout, so the records (`config.change`) reach an AuditLog's
   * collector like every container's output. The pinned 0.6.36 writes them to that file only. Each
   * (re)start of the relay sends the current file's records again: deduplicate by the record's `id`.
   * @default true
   */
  readonly relayAuditLog?: boolean;
}

/** What a tunnel needs to reach an origin. */
export type { TunnelOrigin } from "./interfaces";

/**
 * Open WebUI, hardened, on the internal network only. An nginx in its network namespace is its only
 * way in and out: the edge reaches it over mTLS (and cloudflared over TLS, when a tunnel points
 * here), and it reaches the inference sidecars over mTLS with its own identity (`zta-chat`),
 * forwarding the signed-in user as `X-ZTA-Identity`. Nothing is published on a host port.
 *
 * Read-only root filesystem: yes, with these writable paths, nothing else:
 * - `/app/backend/data` (named volume): SQLite database, uploads, vector store, model caches;
 * - `/tmp` (tmpfs) and `/root/.cache` (tmpfs; HOME is /root in the image);
 * Open WebUI also tries to copy branding files into `/app/backend/open_webui/static` at start; on a
 * read-only root that copy fails with a logged permission error and the bundled files are served
 * (tolerated since open-webui PR #2952; read, not run here). The image's `start.sh` is bypassed (it
 * writes `.webui_secret_key` and `server.log` under /app/backend): uvicorn runs directly.
 *
 * Open WebUI 0.6.36 writes its audit log to a file only: `<name>-audit-relay` (relayAuditLog) prints it to
 * stdout, the way every container's output reaches an AuditLog's collector.
 *
 * Runs as root (uid 0) with every capability dropped and no-new-privileges: the image is built with
 * UID 0, upstream calls non-root "untested", and a fresh named volume is root-owned, which a non-root
 * uid could not write (the provider cannot chown a volume).
 */
export class ChatUi extends Construct implements ITunnelApp, ITunnelTarget {
  public readonly webui!: Container;
  public readonly proxy!: Container;
  /** Open WebUI, in its own namespace. */
  public readonly webuiService!: HardenedService;
  /** The mTLS proxy in Open WebUI's namespace: what the edge, cloudflared and the sidecars talk to. */
  public readonly proxyService!: HardenedService;
  /** The audit relay (Open WebUI's audit log file to stdout); undefined with `relayAuditLog: false`. */
  public readonly auditRelayService?: HardenedService;
  public readonly dataVolume!: Volume;
  public readonly hostname: string;
  /** Docker name of the Open WebUI container (its DNS name on the internal network). */
  public readonly name: string;
  /** The client certificate subject the UI presents to the inference sidecars. */
  public readonly clientSubjectDn = serviceSubjectDn(CHAT_CLIENT_CN);
  private readonly inference: IInferenceApi;
  private readonly tunnelCidrs: string[] = [];
  private readonly maxRequestBodyMb: number;
  private readonly publishOnEdge: boolean;
  private readonly autoProvisionUsers: boolean;

  constructor(scope: Construct, id: string, rawProps: ChatUiProps) {
    super(scope, id);
    const problems = new Problems(whereIs("ChatUi", this.node.path), this);
    checkRenamedProps(problems, rawProps, { maxUploadMb: "maxRequestBodyMb" });
    const props: ChatUiProps = {
      ...rawProps,
      hostname: readString(problems, "hostname", rawProps.hostname, true, '"chat.example.com"') as string,
      name: readString(problems, "name", rawProps.name, false, '"ai-chat"'),
      maxRequestBodyMb: readNumber(problems, "maxRequestBodyMb", rawProps.maxRequestBodyMb, 25, {
        min: 1,
        max: 1024,
        unit: "MB",
      }),
      memoryMb: readNumber(problems, "memoryMb", rawProps.memoryMb, 2048, { min: 6, max: 4194304, unit: "MB" }),
      cpuShares: readNumber(problems, "cpuShares", rawProps.cpuShares, 512, { min: 2, max: 262144 }),
      publishOnEdge: readBoolean(problems, "publishOnEdge", rawProps.publishOnEdge, true),
      autoProvisionUsers: readBoolean(problems, "autoProvisionUsers", rawProps.autoProvisionUsers, false),
      allowUnpinnedImages: readBoolean(problems, "allowUnpinnedImages", rawProps.allowUnpinnedImages, false),
      relayAuditLog: readBoolean(problems, "relayAuditLog", rawProps.relayAuditLog, true),
      image: readString(problems, "image", rawProps.image, false, "a digest-pinned reference"),
      proxyImage: readString(problems, "proxyImage", rawProps.proxyImage, false, "a digest-pinned reference"),
    };
    this.inference = props.inference;
    this.hostname = props.hostname;
    if (!isInferenceApi(props.inference)) {
      problems.add(
        "inference",
        props.inference,
        'Pass the SecureInference the UI talks to (new ChatUi(stack, "chat", { inference: ai, ... })).',
      );
      this.name = props.name ?? id;
      this.maxRequestBodyMb = 25;
      this.autoProvisionUsers = false;
      this.publishOnEdge = false;
      // Nothing can be built without it; synth reports this with every other problem.
      problems.report();
      return;
    }
    this.name = props.name ?? `${props.inference.prefix}-${id.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}`;
    this.maxRequestBodyMb = props.maxRequestBodyMb ?? 25;
    this.publishOnEdge = props.publishOnEdge ?? true;
    this.autoProvisionUsers = props.autoProvisionUsers ?? false;
    const image = props.image ?? IMAGES.openWebui.reference;
    const proxyImage = props.proxyImage ?? IMAGES.nginx.reference;
    const allowUnpinned = props.allowUnpinnedImages ?? false;

    if (props.hostname !== "" && !isUnresolved(props.hostname)) {
      problems.check(
        isDnsName(props.hostname),
        "hostname",
        props.hostname,
        dnsNameFix(props.hostname, "chat.example.com"),
      );
    }
    const publish = props.publishOnEdge ?? true;
    if (publish) {
      problems.check(
        !props.inference.edge.hostnames.includes(props.hostname),
        "hostname",
        props.hostname,
        'That is a hostname of the inference API\'s site on the edge; give the UI its own, e.g. "chat.example.com".',
      );
    }
    problems.check(
      isDockerName(this.name),
      "name",
      this.name,
      "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
    );
    checkNoCredentialLiterals(problems, rawProps, ["inference"]);
    // Other constructs (the sidecars, the edge, the gate) are changed only with valid props.
    const valid = problems.report();

    const ca = props.inference.ca;
    // Open WebUI signs sessions with it. Open WebUI reads it from the environment only (start.sh's
    // file fallback writes into the read-only image), so it is an env reference to a generated
    // random_password: never a literal, sensitive in plans, present in state like every key here.
    const secretKey = new Password(this, "secret-key", { length: 48, special: false });
    this.dataVolume = new Volume(this, "data", { name: `${this.name}-data` });

    // The UI's container id "Default" and the proxy's service id "Default": cdktf leaves "Default" out
    // of logical ids, so both keep the Terraform addresses they had before the service model.
    this.webuiService = new HardenedService(this, "webui", {
      name: this.name,
      role: ServiceRole.CHAT_UI,
      catalogImage: IMAGES.openWebui,
      image,
      imageProp: "image",
      allowUnpinnedImages: allowUnpinned,
      ids: { container: "Default" },
      hardening: {
        memoryMb: props.memoryMb ?? 2048,
        cpuShares: props.cpuShares ?? 512,
        tmpfsMb: { "/tmp": 256, "/root/.cache": 64 },
        healthcheck: ["curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${WEBUI_PORT}/health`],
        healthStartPeriod: "120s",
      },
      workingDir: "/app/backend",
      // uvicorn directly (see class comment); 127.0.0.1 only: the proxy in this namespace is the sole client,
      // and forwarded headers are trusted from it alone.
      entrypoint: [
        "uvicorn",
        "open_webui.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        String(WEBUI_PORT),
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--workers",
        "1",
      ],
      env: Lazy.listValue({ produce: () => this.environment(secretKey.result) }),
      // No network of its own: the trust graph adds one per relationship (to each sidecar, from the edge).
      volumes: [{ volumeName: this.dataVolume.name, containerPath: WEBUI_DATA_DIR, readOnly: false }],
    });
    this.webui = this.webuiService.container;

    this.proxyService = new HardenedService(this, "Default", {
      name: `${this.name}-proxy`,
      role: ServiceRole.CHAT_PROXY,
      catalogImage: IMAGES.nginx,
      image: proxyImage,
      imageProp: "proxyImage",
      allowUnpinnedImages: allowUnpinned,
      ids: { container: "proxy", config: "proxy-config" },
      configVolumeName: `${this.name}-proxy-config`,
      ca,
      serverIdentity: { commonName: this.name, dnsNames: [CHAT_SERVER_NAME, this.name] },
      clientIdentity: ServiceIdentities.CHAT,
      files: [{ name: "nginx.conf", content: Lazy.stringValue({ produce: () => this.nginxConfig }) }],
      hardening: {
        memoryMb: 128,
        cpuShares: 256,
        tmpfsMb: { "/tmp": 64 },
        healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${CHAT_HEALTH_PORT}/healthz`],
      },
      // Open WebUI's namespace: the only way into and out of the UI.
      namespaceOf: this.webuiService,
      entrypoint: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`, "-g", "daemon off;"],
      // nginx resolves upstream names at start: the sidecars must exist first.
      dependsOn: props.inference.upstreamServices.map((s) => s.container),
    });
    this.proxy = this.proxyService.container;

    if (props.relayAuditLog ?? true) this.auditRelayService = this.auditRelay(proxyImage, allowUnpinned);

    // The UI is one more caller of every sidecar, with its own identity; it forwards verified users.
    if (valid) props.inference.addCaller(this.proxyService, { forwardsIdentity: true });

    if (publish && valid) {
      // The chat site on the edge, and the edge -> proxy flow (its network), in one call.
      props.inference.edge.publishSite(this.proxyService, CHAT_EDGE_PORT, {
        hostnames: [props.hostname],
        paths: [],
        upstreamServerName: CHAT_SERVER_NAME,
        browser: true,
        // Browsers without a client certificate only when OIDC stands in front; otherwise mTLS.
        clientCertMode: props.inference.gate ? ClientCertMode.VERIFY_IF_GIVEN : ClientCertMode.REQUIRE_AND_VERIFY,
      });
      // Users sign in on the chat hostname too (register https://<hostname>/oauth2/callback at the IdP).
      props.inference.gate?.addHostname(props.hostname);
    }
  }

  /**
   * Connects a tunnel's network to the UI and opens the tunnel listener for sources in `cidr`.
   * Called by CloudflareTunnel; returns what cloudflared needs to reach and verify the UI.
   */
  public attachTunnel(network: Network, cidr: string): TunnelOrigin {
    this.webuiService.joinTrustNetwork({ name: network.name, aliases: [this.name] });
    this.tunnelCidrs.push(cidr);
    return {
      service: `https://${this.name}:${CHAT_TUNNEL_PORT}`,
      serverName: CHAT_SERVER_NAME,
      caCertPem: this.inference.ca.certPem,
    };
  }

  /** Records the tunnel's flow: cloudflared on the origin network, admitted by source address, behind Cloudflare Access. */
  public acceptTunnel(cloudflared: HardenedService, network: Network): void {
    this.proxyService.allowFrom(cloudflared, {
      port: CHAT_TUNNEL_PORT,
      authentication: Authentication.ACCESS_JWT,
      via: network,
    });
  }

  /** A tunnel reaches the UI through its own origin network (the browser path). */
  public describeTunnelTarget(): TunnelTargetDescription {
    return { kind: "chat-ui", dockerName: this.name, app: this };
  }

  /** True when some path in front of the UI vouches for users by email (OIDC gate or Cloudflare Access). */
  public get trustsIdentityHeader(): boolean {
    return this.inference.gate !== undefined || this.tunnelCidrs.length > 0;
  }

  /** The rendered proxy config (no secrets: keys are files beside it). */
  public get nginxConfig(): string {
    return renderChatProxyNginxConfig({
      clientPort: CHAT_CLIENT_PORT,
      inferenceUpstreams: this.inference.upstreams,
      inferenceServerName: this.inference.upstreamServerName,
      webuiUpstream: `127.0.0.1:${WEBUI_PORT}`,
      // Only when the edge routes here: with publishOnEdge false the edge's certificate opens nothing.
      edgeListenPort: this.publishOnEdge ? CHAT_EDGE_PORT : undefined,
      edgeSubjects: [this.inference.edge.clientSubjectDn],
      tunnelListenPort: this.tunnelCidrs.length > 0 ? CHAT_TUNNEL_PORT : undefined,
      tunnelSourceCidrs: this.tunnelCidrs,
      healthPort: CHAT_HEALTH_PORT,
      configDir: CONFIG_DIR,
      runDir: "/tmp",
      accessLog: "/dev/stdout",
      errorLog: "/dev/stderr",
      maxRequestBodyMb: this.maxRequestBodyMb,
      generationTimeoutSeconds: this.inference.generationTimeoutSeconds,
    });
  }

  /**
   * The audit relay: Open WebUI 0.6.36 writes its audit records to a file on the data volume only, and
   * only stdout reaches the AuditLog's collector (Docker's syslog driver), so busybox `tail` copies the
   * file to stdout. `-F` follows the name: across Loguru's rotation (at 10 MB it renames the file and
   * opens a new one, read from its start) and before the file exists (it waits for it). `-n +1` sends
   * the whole current file at every (re)start: no record is lost across a relay restart, and repeated
   * ones carry the same record `id` (deduplicate by it). busybox polls once a second; a record written
   * to the old file just before the rename still comes out (busybox 1.35: the e2e suite runs this exact
   * command with the host's busybox, rotation and a late record included).
   *
   * The catalog's Alpine nginx (its busybox; already on the host) as nginx's uid 101: Open WebUI runs as
   * root, and Loguru creates the file with Python's open() and no mode (its _file_sink.py, read), so
   * 0666 minus Docker's umask 022 = 0644, in the data volume's root-owned 0755 directory (the image's
   * /app/backend/data, made by RUN and COPY under the default umask: its Dockerfile, read; the engine
   * stand-in mimics it): readable by any uid, so the relay needs no root. No network, the volume
   * read-only: it can read the file and nothing else.
   */
  private auditRelay(image: string, allowUnpinned: boolean): HardenedService {
    const file = `${AUDIT_RELAY_DATA_DIR}/${WEBUI_AUDIT_LOG_FILE}`;
    return new HardenedService(this, "audit-relay", {
      name: `${this.name}-audit-relay`,
      role: ServiceRole.CHAT_AUDIT_RELAY,
      catalogImage: IMAGES.nginx,
      image,
      imageProp: "proxyImage",
      allowUnpinnedImages: allowUnpinned,
      networkMode: "none",
      entrypoint: ["tail", "-n", "+1", "-F", file],
      hardening: {
        memoryMb: 32,
        cpuShares: 64,
        tmpfsMb: { "/tmp": 1 },
        // Healthy while the file is absent (no record yet) or readable by the relay's uid; unhealthy if unreadable.
        healthcheck: ["sh", "-c", `test ! -e ${file} || test -r ${file}`],
        healthStartPeriod: "10s",
      },
      volumes: [{ volumeName: this.dataVolume.name, containerPath: AUDIT_RELAY_DATA_DIR, readOnly: true }],
      // Open WebUI's container mounts the fresh volume first (Docker copies the image's data directory into it).
      dependsOn: [this.webui],
    });
  }

  /**
   * Open WebUI's environment: every day-one default that matters overridden. Names read in
   * open_webui/env.py and config.py (see docs/exposure.md for what was verified and how).
   */
  private environment(secretKey: string): string[] {
    const origin = `https://${this.hostname}`;
    const env: Record<string, string> = {
      ENV: "prod",
      WEBUI_URL: origin,
      WEBUI_AUTH: "True",
      // Off: nobody self-registers. Trusted-header sign-in creates accounts through the same signup
      // path (routers/auths.py), so with it off an admin adds users first, unless autoProvisionUsers.
      ENABLE_SIGNUP: this.autoProvisionUsers ? "True" : "False",
      // Only while no account exists (releases that gate the first admin on ENABLE_SIGNUP need it):
      // the first person the edge/Access let through becomes admin.
      ENABLE_INITIAL_ADMIN_SIGNUP: "True",
      DEFAULT_USER_ROLE: "pending",
      WEBUI_SECRET_KEY: secretKey,
      WEBUI_SESSION_COOKIE_SECURE: "True",
      WEBUI_AUTH_COOKIE_SECURE: "True",
      WEBUI_SESSION_COOKIE_SAME_SITE: "lax",
      CORS_ALLOW_ORIGIN: origin,
      ENABLE_COMMUNITY_SHARING: "False",
      ENABLE_VERSION_UPDATE_CHECK: "False",
      ENABLE_CODE_EXECUTION: "False",
      ENABLE_CODE_INTERPRETER: "False",
      // The environment wins over settings saved in the database.
      ENABLE_PERSISTENT_CONFIG: "False",
      ENABLE_OLLAMA_API: "False",
      ENABLE_OPENAI_API: "True",
      OPENAI_API_BASE_URL: `http://127.0.0.1:${CHAT_CLIENT_PORT}/v1`,
      // Empty on purpose: the mTLS proxy is the credential, it drops Authorization, and the sidecar
      // injects vLLM's key. (A placeholder literal would look like a leaked secret to the policy rules.)
      OPENAI_API_KEY: "",
      ENABLE_FORWARD_USER_INFO_HEADERS: "True",
      // The internal network has no route out: no update checks, no model downloads, no telemetry.
      OFFLINE_MODE: "True",
      HF_HUB_OFFLINE: "1",
      ANONYMIZED_TELEMETRY: "False",
      DO_NOT_TRACK: "True",
      SCARF_NO_ANALYTICS: "True",
      ENABLE_WEBSOCKET_SUPPORT: "True",
      // Websocket pings every 25 s keep a long generation's connection under Cloudflare's ~100 s idle limit.
      WEBSOCKET_SERVER_PING_INTERVAL: "25",
      // The audit trail (docs/audit.md, event config.change): one record per state-changing API call of a
      // signed-in user (admin settings, users and roles among them), metadata only: no bodies, no prompts.
      // The pinned 0.6.36 writes it to this file on the data volume only (utils/logger.py, read): the
      // audit relay (relayAuditLog) copies it to its stdout, hence to the collector. ENABLE_AUDIT_STDOUT
      // exists from 0.7.0 on (its changelog, read) and sends it to Open WebUI's own stdout as well (then
      // turn the relay off, or records arrive twice). The file stays on: the relay reads it.
      AUDIT_LOG_LEVEL: "METADATA",
      AUDIT_LOGS_FILE_PATH: `${WEBUI_DATA_DIR}/${WEBUI_AUDIT_LOG_FILE}`,
      ENABLE_AUDIT_LOGS_FILE: "True",
      ENABLE_AUDIT_STDOUT: "True",
    };
    if (this.trustsIdentityHeader) {
      // Set only by the proxy in this namespace, from the gate's or Access's verified email.
      env.WEBUI_AUTH_TRUSTED_EMAIL_HEADER = WEBUI_TRUSTED_EMAIL_HEADER;
    }
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }
}
