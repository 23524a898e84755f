/**
 * Rendering: builds the real construct tree as a stack file would and takes the configs the
 * constructs render (the edge's Caddyfile, the sidecar's nginx.conf), then localizes them for
 * loopback: container paths, Docker DNS names and ports become temp dirs and 127.0.0.1 ports.
 * Every replacement must match, so a renderer change the localization no longer covers fails.
 */
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import { EDGE_HEALTH_PORT, EDGE_PORT } from "../../constructs/edge-proxy";
import { SIDECAR_HEALTH_PORT, SIDECAR_PORT } from "../../constructs/mtls-sidecar";
import { RateLimitProps, SecureInference } from "../../constructs/secure-inference";
import { CONFIG_DIR, GATE_SERVER_NAME } from "../../lib/identities";
import { PkiNames } from "./pki";

export const E2E_DOMAIN = "ai.example.internal";
export const E2E_OPERATOR = { name: "devops-laptop", email: "devops@example.com" };

export interface ChainProps {
  /** Put the OIDC gate in front (forward_auth to the stub). @default true */
  readonly oidc?: boolean;
  readonly rateLimit?: RateLimitProps;
  readonly maxRequestBodyMb?: number;
}

/** What the constructs rendered, before localization. */
export interface RenderedChain {
  readonly caddyfile: string;
  readonly nginxConfig: string;
  /** `host:port` the edge dials for the sidecar, e.g. `inference-vllm-0:8443`. */
  readonly sidecarAddress: string;
  /** vLLM's address as the sidecar sees it, `127.0.0.1:8000`. */
  readonly vllmAddress: string;
  /** `host:port` of the gate, when oidc is on. */
  readonly gateAddress?: string;
  /** The session cookie name the gate is configured with (from its oauth2-proxy arguments). */
  readonly sessionCookieName?: string;
  readonly pkiNames: PkiNames;
}

/** Builds the real construct tree, as a stack file would (stacks/default-stack.ts), and returns its configs. */
export function renderChain(props: ChainProps = {}): RenderedChain {
  const app = new App();
  const stack = new TerraformStack(app, "e2e");
  new DockerProvider(stack, "docker", {});
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  const secret = new TerraformVariable(stack, "oidc_client_secret", { type: "string", sensitive: true });
  const ai = new SecureInference(stack, "inference", {
    model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
    domain: E2E_DOMAIN,
    operators: [E2E_OPERATOR],
    oidc:
      props.oidc === false
        ? undefined
        : { issuerUrl: "https://idp.example.com/realms/prod", clientId: "local-ai", clientSecret: secret.value },
    metricsScraper: true,
    rateLimit: props.rateLimit,
    maxRequestBodyMb: props.maxRequestBodyMb,
  });
  const sidecar = ai.sidecars[0];
  const cookieArg = ai.gate?.args.find((a) => a.startsWith("--cookie-name="));
  return {
    caddyfile: ai.edge.caddyfile,
    nginxConfig: sidecar.nginxConfig,
    sidecarAddress: sidecar.address,
    vllmAddress: ai.replicas[0].loopbackAddress,
    gateAddress: ai.gate?.address,
    sessionCookieName: cookieArg?.slice("--cookie-name=".length),
    pkiNames: {
      domain: E2E_DOMAIN,
      sidecarHostname: sidecar.address.split(":")[0],
      // Without a gate its certificate is never served; the name only has to be a valid SAN.
      gateHostname: ai.gate ? ai.gate.address.split(":")[0] : GATE_SERVER_NAME,
      operatorName: E2E_OPERATOR.name,
      operatorEmail: E2E_OPERATOR.email,
    },
  };
}

export interface Replacement {
  readonly from: string | RegExp;
  readonly to: string;
  /** Why this part is environment-specific; shown when it no longer matches. */
  readonly why: string;
}

/**
 * Applies each replacement to every occurrence; throws when one matches nothing, so a renderer
 * change that the localization no longer covers is caught instead of silently ignored.
 */
export function localize(text: string, replacements: Replacement[], what: string): string {
  let out = text;
  for (const r of replacements) {
    const pattern = typeof r.from === "string" ? new RegExp(escapeRegExp(r.from), "g") : r.from;
    if (!pattern.global) throw new Error(`localize(${what}): use a /g pattern for ${pattern}`);
    if (out.match(pattern) === null) {
      throw new Error(
        `localize(${what}): ${String(r.from)} matched nothing (${r.why}). Did the renderer change?\n${out}`,
      );
    }
    out = out.replace(pattern, r.to);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface LoopbackPorts {
  readonly edge: number;
  readonly edgeHealth: number;
  readonly sidecar: number;
  readonly sidecarHealth: number;
  readonly vllm: number;
  readonly gate?: number;
}

export interface LocalPaths {
  /** Directory with Caddyfile, ca.crt, server.crt, server.key, client.crt, client.key. */
  readonly edgeDir: string;
  /** Directory with nginx.conf, ca.crt, server.crt, server.key, upstream-auth.conf. */
  readonly sidecarDir: string;
  /** nginx's pid file and temp directories. */
  readonly sidecarRunDir: string;
  readonly sidecarAccessLog: string;
  readonly sidecarErrorLog: string;
}

export function localizeCaddyfile(r: RenderedChain, ports: LoopbackPorts, paths: LocalPaths): string {
  const replacements: Replacement[] = [
    { from: `${CONFIG_DIR}/`, to: `${paths.edgeDir}/`, why: "config volume mount point" },
    // Before the site address: the sidecar's port is the same number as the edge's.
    { from: r.sidecarAddress, to: `127.0.0.1:${ports.sidecar}`, why: "sidecar's Docker DNS name" },
    {
      from: `https://${r.pkiNames.domain}:${EDGE_PORT} {`,
      // In the container the site listens on every interface of its own namespace; here, loopback only.
      to: `https://${r.pkiNames.domain}:${ports.edge} {\n\tbind 127.0.0.1`,
      why: "edge listen port",
    },
    {
      from: `http://127.0.0.1:${EDGE_HEALTH_PORT} {`,
      to: `http://127.0.0.1:${ports.edgeHealth} {`,
      why: "edge health port",
    },
  ];
  if (r.gateAddress) {
    if (ports.gate === undefined) throw new Error("localizeCaddyfile: the chain has a gate but no gate port was given");
    replacements.push({ from: r.gateAddress, to: `127.0.0.1:${ports.gate}`, why: "gate's Docker DNS name" });
  }
  return localize(r.caddyfile, replacements, "Caddyfile");
}

export function localizeNginxConfig(r: RenderedChain, ports: LoopbackPorts, paths: LocalPaths): string {
  return localize(
    r.nginxConfig,
    [
      { from: `${CONFIG_DIR}/`, to: `${paths.sidecarDir}/`, why: "config volume mount point" },
      { from: `listen ${SIDECAR_PORT} ssl;`, to: `listen 127.0.0.1:${ports.sidecar} ssl;`, why: "sidecar listen port" },
      {
        from: `listen 127.0.0.1:${SIDECAR_HEALTH_PORT};`,
        to: `listen 127.0.0.1:${ports.sidecarHealth};`,
        why: "sidecar health port",
      },
      { from: `server ${r.vllmAddress};`, to: `server 127.0.0.1:${ports.vllm};`, why: "vLLM's loopback address" },
      { from: "access_log /dev/stdout ", to: `access_log ${paths.sidecarAccessLog} `, why: "container stdout" },
      { from: "error_log /dev/stderr ", to: `error_log ${paths.sidecarErrorLog} `, why: "container stderr" },
      // runDir: the container's /tmp tmpfs.
      { from: /(pid|_temp_path) \/tmp\//g, to: `$1 ${paths.sidecarRunDir}/`, why: "run dir (tmpfs /tmp)" },
    ],
    "nginx.conf",
  );
}
