/**
 * Rendering: builds the real construct tree as a stack file would and takes the configs the
 * constructs render (the edge's Caddyfile, the sidecar's nginx.conf) and the names of the files
 * they upload to their config volumes, then localizes the configs for loopback: container paths,
 * Docker DNS names and ports become temp dirs and 127.0.0.1 ports.
 * Every replacement must match, so a renderer change the localization no longer covers fails.
 */
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import * as path from "path";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import { EDGE_HEALTH_PORT, EDGE_METRICS_PORT, EDGE_PORT } from "../../constructs/edge-proxy";
import { HardenedService } from "../../constructs/hardened-service";
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
  /** The edge's Docker name (what its metrics listener's certificate names). */
  readonly edgeName: string;
  readonly nginxConfig: string;
  /** The names of the files the edge uploads to its config volume (Caddyfile and its certificates). */
  readonly edgeFiles: readonly string[];
  /** The names of the files the sidecar uploads to its config volume. */
  readonly sidecarFiles: readonly string[];
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

/** A stack with the providers a stack file declares (stacks/default-stack.ts), to build constructs into. */
export function e2eStack(id = "e2e"): TerraformStack {
  const stack = new TerraformStack(new App(), id);
  new DockerProvider(stack, "docker", {});
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  return stack;
}

/** SecureInference as the suite renders it: E2E_DOMAIN, E2E_OPERATOR, the metrics scraper, the gate unless `oidc: false`. */
export function e2eInference(stack: TerraformStack, props: ChainProps = {}): SecureInference {
  const secret = new TerraformVariable(stack, "oidc_client_secret", { type: "string", sensitive: true });
  return new SecureInference(stack, "inference", {
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
}

/** The names of the files `service` uploads to its config volume, from its loader's upload list. */
export function uploadedFileNames(service: HardenedService): string[] {
  const uploads = service.config?.loader.uploadInput;
  if (!Array.isArray(uploads)) throw new Error(`${service.node.path} uploads no list of files`);
  return uploads.map((u) => path.posix.basename(u.file));
}

/** What the constructs of `ai` render for the chain (its first replica), before localization. */
export function renderedChainOf(ai: SecureInference): RenderedChain {
  const sidecar = ai.sidecars[0];
  const cookieArg = ai.gate?.args.find((a) => a.startsWith("--cookie-name="));
  return {
    caddyfile: ai.edge.caddyfile,
    edgeName: ai.edge.name,
    nginxConfig: sidecar.nginxConfig,
    edgeFiles: uploadedFileNames(ai.edge.service),
    sidecarFiles: uploadedFileNames(sidecar.service),
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

/** Builds the real construct tree, as a stack file would (stacks/default-stack.ts), and returns its configs. */
export function renderChain(props: ChainProps = {}): RenderedChain {
  return renderedChainOf(e2eInference(e2eStack(), props));
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
  /** The edge's metrics listener, when the rendering has one (Observability scrapes the edge). */
  readonly edgeMetrics?: number;
  readonly sidecar: number;
  readonly sidecarHealth: number;
  readonly vllm: number;
  readonly gate?: number;
}

export interface LocalPaths {
  /** The edge's config volume: the files of RenderedChain.edgeFiles. */
  readonly edgeDir: string;
  /** The sidecar's config volume: the files of RenderedChain.sidecarFiles. */
  readonly sidecarDir: string;
  /** nginx's pid file and temp directories. */
  readonly sidecarRunDir: string;
  readonly sidecarAccessLog: string;
  readonly sidecarErrorLog: string;
}

/** Further sites of the edge (ChatUi's, Grafana's): their hostname and the upstream they proxy to, as rendered. */
export interface EdgeSite {
  readonly hostname: string;
  /** `host:port` the edge dials, as rendered (e.g. `chat:8445`). */
  readonly upstream: string;
  /** The loopback port that upstream listens on here. */
  readonly port: number;
}

/** Whether a rendered Caddyfile has the metrics listener (EdgeProxy.allowMetricsScraper). */
export function hasMetricsListener(caddyfile: string): boolean {
  return caddyfile.includes(`https://:${EDGE_METRICS_PORT} {`);
}

export function localizeCaddyfile(
  r: Pick<RenderedChain, "caddyfile" | "sidecarAddress" | "gateAddress" | "pkiNames">,
  ports: Partial<LoopbackPorts> & Pick<LoopbackPorts, "edge" | "edgeHealth" | "sidecar">,
  paths: Partial<LocalPaths> & Pick<LocalPaths, "edgeDir">,
  sites: readonly EdgeSite[] = [],
): string {
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
      from: `https://:${EDGE_PORT} {`,
      to: `https://:${ports.edge} {\n\tbind 127.0.0.1`,
      why: "the sites port's catch-all (every other name: client certificate required, nothing served)",
    },
    {
      from: `http://127.0.0.1:${EDGE_HEALTH_PORT} {`,
      to: `http://127.0.0.1:${ports.edgeHealth} {`,
      why: "edge health port",
    },
  ];
  if (hasMetricsListener(r.caddyfile)) {
    if (ports.edgeMetrics === undefined)
      throw new Error("localizeCaddyfile: the edge has a metrics listener but no metrics port was given");
    replacements.push(
      {
        from: `https://:${EDGE_METRICS_PORT} {`,
        to: `https://:${ports.edgeMetrics} {\n\tbind 127.0.0.1`,
        why: "edge metrics listener port (every interface of its namespace in the container)",
      },
      {
        // Caddy matches a servers block by the listener address as written: with the bind, 127.0.0.1:<port>.
        from: `servers :${EDGE_METRICS_PORT} {`,
        to: `servers 127.0.0.1:${ports.edgeMetrics} {`,
        why: "the metrics listener's own server options",
      },
    );
  }
  if (r.gateAddress) {
    if (ports.gate === undefined) throw new Error("localizeCaddyfile: the chain has a gate but no gate port was given");
    replacements.push({ from: r.gateAddress, to: `127.0.0.1:${ports.gate}`, why: "gate's Docker DNS name" });
  }
  for (const site of sites) {
    replacements.push(
      {
        from: `https://${site.hostname}:${EDGE_PORT} {`,
        to: `https://${site.hostname}:${ports.edge} {\n\tbind 127.0.0.1`,
        why: `${site.hostname}'s site port`,
      },
      { from: site.upstream, to: `127.0.0.1:${site.port}`, why: `${site.hostname}'s upstream (a Docker DNS name)` },
    );
  }
  return localize(r.caddyfile, replacements, "Caddyfile");
}

export function localizeNginxConfig(
  r: Pick<RenderedChain, "nginxConfig" | "vllmAddress">,
  ports: Partial<LoopbackPorts> & Pick<LoopbackPorts, "sidecar" | "sidecarHealth" | "vllm">,
  paths: Partial<LocalPaths> &
    Pick<LocalPaths, "sidecarDir" | "sidecarRunDir" | "sidecarAccessLog" | "sidecarErrorLog">,
): string {
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
