import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn, Lazy } from "cdktf";
import { Construct } from "constructs";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import { CONFIG_DIR, GATE_SERVER_NAME, ServiceRole } from "../lib/identities";
import { IMAGES } from "../lib/images";
import { readObject, readString, readStrings } from "../lib/shape";
import { isDnsName } from "../lib/validate";
import { HardenedService } from "./hardened-service";
import { InternalCa } from "./internal-ca";

/** The gate's TLS port on the internal network. */
export const GATE_PORT = 4443;

/**
 * oauth2-proxy's auth log line as JSON (`--auth-logging-format`): sign-ins (`AuthSuccess`), failed ones
 * (`AuthFailure`, `AuthError`) with the account. A Go text/template over oauth2-proxy's pre-formatted strings
 * (pkg/logger/logger.go, v7.15.3, read): `printf "%q"` quotes the values a client can influence; UserAgent
 * arrives already `%q`-quoted. Go's quoting is JSON for printable text; a control character other than
 * `\b \f \n \r \t` becomes `\x..`, which no JSON parser takes: such a line is stored raw, not lost.
 * Keys: lib/audit-events.ts (`auth.signin`, `auth.failed`). Verified by reading: oauth2-proxy cannot run here.
 */
export const GATE_AUTH_LOG_FORMAT =
  '{"gate":"auth","time":"{{.Timestamp}}","client":"{{.Client}}","request_id":{{printf "%q" .RequestID}},' +
  '"user":{{printf "%q" .Username}},"status":"{{.Status}}","method":{{printf "%q" .RequestMethod}},' +
  '"host":{{printf "%q" .Host}},"user_agent":{{.UserAgent}},"message":{{printf "%q" .Message}}}';

/**
 * oauth2-proxy's request log line as JSON (`--request-logging-format`): every `forward_auth` check and the
 * sign-out, which has no auth line of its own (SignOut in oauthproxy.go logs none). RequestURI and
 * UserAgent arrive `%q`-quoted, StatusCode, ResponseSize and RequestDuration as numbers.
 * Keys: lib/audit-events.ts (`auth.signout`, `gate.request`). Verified by reading.
 */
export const GATE_REQUEST_LOG_FORMAT =
  '{"gate":"request","time":"{{.Timestamp}}","client":"{{.Client}}","request_id":{{printf "%q" .RequestID}},' +
  '"user":{{printf "%q" .Username}},"method":{{printf "%q" .RequestMethod}},"host":{{printf "%q" .Host}},' +
  '"uri":{{.RequestURI}},"upstream":{{printf "%q" .Upstream}},"status":{{.StatusCode}},' +
  '"response_bytes":{{.ResponseSize}},"duration":{{.RequestDuration}},"user_agent":{{.UserAgent}}}';

/** What the user says about their identity provider. */
export interface OidcSettings {
  /** The issuer, e.g. `https://idp.example.com/realms/prod` (discovery must be served under it). */
  readonly issuerUrl: string;
  readonly clientId: string;
  /** The client secret: pass a sensitive variable's value, never a literal. */
  readonly clientSecret: string;
  /**
   * Email domains allowed to sign in. `["*"]` allows every account the IdP authenticates.
   * @default the domains of the operators' emails; an error if there are none and no allowedGroups
   */
  readonly emailDomains?: string[];
  /** IdP groups allowed to sign in (from the `groups` claim). @default any group */
  readonly allowedGroups?: string[];
  /** More JWT issuers accepted for machine clients, as `issuer=audience`. @default only this client's issuer */
  readonly extraJwtIssuers?: string[];
  /** Session lifetime in hours. @default 8 */
  readonly sessionHours?: number;
}

export interface OidcGateProps {
  readonly ca: InternalCa;
  /** Docker name of the gate container. */
  readonly name: string;
  /** A network with outbound access for discovery, token and JWKS calls to the IdP (no inbound ports). */
  readonly egressNetwork: Network;
  /** The public hostname users sign in on (the callback is `https://<hostname>/oauth2/callback`). */
  readonly publicHostname: string;
  readonly oidc: OidcSettings;
  /** Email domains derived from elsewhere (the operators), used when `oidc.emailDomains` is unset. */
  readonly defaultEmailDomains?: string[];
  /** @default the catalog's pinned oauth2-proxy (alpine variant: it has wget for the healthcheck) */
  readonly image?: string;
  /** Accept an image that is not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** @default 128 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
}

/**
 * oauth2-proxy as the edge's `forward_auth` endpoint: OIDC sign-in with PKCE, secure `__Host-`
 * cookies with a generated secret, IdP-issued JWT bearer tokens for machine clients, and the
 * verified identity handed back in `X-Auth-Request-*` headers. It serves TLS (a certificate from
 * the internal CA) on the internal network only; its plain listener is bound to its own loopback.
 */
export class OidcGate extends Construct {
  public readonly service: HardenedService;
  public readonly container: Container;
  /** `host:port` the edge dials (TLS). */
  public readonly address: string;
  /** The name the gate's certificate carries. */
  public readonly serverName = GATE_SERVER_NAME;
  private readonly staticArgs: string[];
  private readonly hostnameList: string[];

  constructor(scope: Construct, id: string, props: OidcGateProps) {
    super(scope, id);
    const problems = new Problems(whereIs("OidcGate", this.node.path), this);
    const raw = readObject<OidcSettings>(
      problems,
      "oidc",
      props.oidc,
      true,
      "{ issuerUrl, clientId, clientSecret }",
    ) as OidcSettings;
    const oidc: OidcSettings = {
      ...raw,
      issuerUrl: readString(
        problems,
        "oidc.issuerUrl",
        raw.issuerUrl,
        true,
        '"https://idp.example.com/realms/prod"',
      ) as string,
      clientId: readString(problems, "oidc.clientId", raw.clientId, true, '"local-ai"') as string,
      clientSecret: raw.clientSecret,
      emailDomains:
        raw.emailDomains === undefined
          ? undefined
          : readStrings(problems, "oidc.emailDomains", raw.emailDomains, false, '["example.com"]'),
      allowedGroups:
        raw.allowedGroups === undefined
          ? undefined
          : readStrings(problems, "oidc.allowedGroups", raw.allowedGroups, false, '["ai-users"]'),
      extraJwtIssuers:
        raw.extraJwtIssuers === undefined
          ? undefined
          : readStrings(problems, "oidc.extraJwtIssuers", raw.extraJwtIssuers, false, '["https://issuer=audience"]'),
    };
    if (oidc.issuerUrl !== "" && !isUnresolved(oidc.issuerUrl)) {
      problems.check(
        /^https:\/\/[^\s/@?#]+(\/[^\s?#]*)?$/.test(oidc.issuerUrl),
        "oidc.issuerUrl",
        oidc.issuerUrl,
        "Use the issuer's https URL, e.g. https://idp.example.com/realms/prod (plain http would expose tokens; no query, fragment or credentials).",
      );
      problems.check(
        !/\/\.well-known(\/|$)/.test(oidc.issuerUrl),
        "oidc.issuerUrl",
        oidc.issuerUrl,
        `That is a discovery document, not the issuer: use the URL before "/.well-known/" (${oidc.issuerUrl.split("/.well-known")[0]}); oauth2-proxy appends the discovery path itself.`,
      );
    }
    problems.check(
      isUnresolved(oidc.clientSecret),
      "oidc.clientSecret",
      oidc.clientSecret === undefined
        ? undefined
        : oidc.clientSecret === ""
          ? ""
          : typeof oidc.clientSecret === "string"
            ? "a literal string"
            : `a ${typeof oidc.clientSecret}`,
      "Pass a Terraform reference, e.g. new TerraformVariable(stack, 'oidc_client_secret', { sensitive: true }).value, " +
        "so the secret never appears in the synthesized JSON.",
    );
    const emailDomains = oidc.emailDomains ?? props.defaultEmailDomains ?? [];
    const groups = oidc.allowedGroups ?? [];
    problems.check(
      emailDomains.length > 0 || groups.length > 0,
      "oidc.emailDomains",
      oidc.emailDomains,
      'Say who may sign in: emailDomains (e.g. ["example.com"], or ["*"] for every account of the IdP) or allowedGroups.',
    );
    for (const domain of emailDomains) {
      problems.check(
        domain === "*" || isDnsName(domain),
        "oidc.emailDomains",
        domain,
        'Use a domain like "example.com", or "*".',
      );
    }
    for (const issuer of oidc.extraJwtIssuers ?? []) {
      problems.check(
        /^https:\/\/\S+=\S+$/.test(issuer),
        "oidc.extraJwtIssuers",
        issuer,
        'Use "https://issuer=audience".',
      );
    }
    const sessionHours = oidc.sessionHours ?? 8;
    problems.check(
      Number.isInteger(sessionHours) && sessionHours >= 1 && sessionHours <= 168,
      "oidc.sessionHours",
      sessionHours,
      "Use 1 to 168 hours.",
    );
    const image = props.image ?? IMAGES.oauth2Proxy.reference;
    problems.report();

    this.address = `${props.name}:${GATE_PORT}`;
    // 32 ASCII characters = a 32-byte AES key, as oauth2-proxy requires for cookie encryption.
    const cookieSecret = new Password(this, "cookie-secret", { length: 32, special: false });

    this.hostnameList = [props.publicHostname];
    this.staticArgs = [
      "--provider=oidc",
      `--oidc-issuer-url=${oidc.issuerUrl}`,
      `--client-id=${oidc.clientId}`,
      ...(emailDomains.length > 0 ? emailDomains : ["*"]).map((d) => `--email-domain=${d}`),
      ...groups.map((g) => `--allowed-group=${g}`),
      "--oidc-groups-claim=groups",
      "--code-challenge-method=S256",
      "--skip-provider-button=true",
      // Machine clients present IdP-issued JWTs (audience = this client) instead of a cookie.
      "--skip-jwt-bearer-tokens=true",
      ...(oidc.extraJwtIssuers && oidc.extraJwtIssuers.length > 0
        ? [`--extra-jwt-issuers=${oidc.extraJwtIssuers.join(",")}`]
        : []),
      // forward_auth only: answer 202 with X-Auth-Request-* headers, proxy nothing.
      "--upstream=static://202",
      "--set-xauthrequest=true",
      "--reverse-proxy=true",
      // __Host- cookies are Secure, host-only and Path=/: no subdomain can set or read them.
      "--cookie-name=__Host-zta-session",
      "--cookie-secure=true",
      "--cookie-httponly=true",
      "--cookie-samesite=lax",
      `--cookie-expire=${sessionHours}h`,
      "--cookie-refresh=1h",
      // TLS only: with certificate files set, oauth2-proxy serves no plain HTTP listener at all.
      // Every interface of the gate's own namespace, i.e. the internal network: no host binding.
      `--https-address=:${GATE_PORT}`,
      `--tls-cert-file=${CONFIG_DIR}/server.crt`,
      `--tls-key-file=${CONFIG_DIR}/server.key`,
      "--tls-min-version=TLS1.2",
      "--silence-ping-logging=true",
      // The audit trail (docs/audit.md): JSON lines on stdout, which Docker's syslog driver ships to the collector.
      "--auth-logging=true",
      `--auth-logging-format=${GATE_AUTH_LOG_FORMAT}`,
      "--request-logging=true",
      `--request-logging-format=${GATE_REQUEST_LOG_FORMAT}`,
      // UTC timestamps (Timestamp has no zone: "2006/01/02 15:04:05").
      "--logging-local-time=false",
      // Secrets come from a file on the config volume, not from arguments or environment.
      `--config=${CONFIG_DIR}/oauth2-proxy.cfg`,
    ];

    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    this.service = new HardenedService(this, "Default", {
      name: props.name,
      role: ServiceRole.GATE,
      catalogImage: IMAGES.oauth2Proxy,
      image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ca: props.ca,
      serverIdentity: { commonName: props.name, dnsNames: [GATE_SERVER_NAME, props.name] },
      files: [
        {
          name: "oauth2-proxy.cfg",
          // jsonencode quotes and escapes the secret; a JSON string is a valid TOML basic string.
          content: `client_secret = ${Fn.jsonencode(oidc.clientSecret)}\ncookie_secret = ${Fn.jsonencode(cookieSecret.result)}\n`,
        },
      ],
      hardening: {
        memoryMb: props.memoryMb ?? 128,
        cpuShares: props.cpuShares ?? 256,
        // Liveness on its own loopback; the certificate is ours and names gate.zta.internal, not 127.0.0.1.
        healthcheck: ["wget", "--no-check-certificate", "-q", "-O", "/dev/null", `https://127.0.0.1:${GATE_PORT}/ping`],
      },
      command: Lazy.listValue({ produce: () => this.args }),
      // Its way to the IdP; the edge reaches it on the network of that relationship (EdgeProxy declares it).
      networks: [{ name: props.egressNetwork.name }],
    });
    this.container = this.service.container;
  }

  /** Hostnames users sign in on. */
  public get hostnames(): string[] {
    return [...this.hostnameList];
  }

  /**
   * Lets users sign in on another hostname of the edge (e.g. a chat UI's). Register
   * `https://<hostname>/oauth2/callback` at the IdP too.
   */
  public addHostname(hostname: string): void {
    const problems = new Problems(whereIs("OidcGate.addHostname", this.node.path));
    if (!isUnresolved(hostname)) problems.check(isDnsName(hostname), "hostname", hostname, "Use a lowercase DNS name.");
    problems.throwIfAny();
    if (!this.hostnameList.includes(hostname)) this.hostnameList.push(hostname);
  }

  /**
   * The oauth2-proxy arguments (no secret among them: those are in a config file on the volume).
   * With one hostname the callback URL is fixed; with several it is left out, so oauth2-proxy
   * builds it from the request's Host (which the edge checks against the TLS SNI), and every
   * hostname is allowed as a post-sign-in redirect target.
   */
  public get args(): string[] {
    const hosts = this.hostnameList;
    const callback = hosts.length === 1 ? [`--redirect-url=https://${hosts[0]}/oauth2/callback`] : [];
    return [
      ...this.staticArgs.slice(0, 3),
      ...callback,
      ...hosts.map((h) => `--whitelist-domain=${h}`),
      ...this.staticArgs.slice(3),
    ];
  }
}
