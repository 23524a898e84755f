import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Password } from "@cdktf/provider-random/lib/password";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { ClientCertMode } from "../lib/caddyfile";
import { Problems, addStackCheck, isUnresolved, whereIs } from "../lib/errors";
import { secretValueKind, secretsInCommand } from "../lib/sensitive";
import {
  checkNoCredentialLiterals,
  readBoolean,
  readList,
  readNumber,
  readObject,
  readString,
  readStrings,
} from "../lib/shape";
import { flagHasWhitespace, selectsFlag, vllmFlagName } from "../lib/vllm-args";
import { ServiceIdentities } from "../lib/identities";
import { IMAGES, checkImagePinned } from "../lib/images";
import { SidecarCaller } from "../lib/nginx";
import { dnsNameFix, isCommitSha, isDnsName, isDockerName, isEmail } from "../lib/validate";
import { EdgeProxy } from "./edge-proxy";
import { HardenedService } from "./hardened-service";
import { IInferenceApi, ITunnelTarget, InferenceCallerOptions, TunnelTargetDescription } from "./interfaces";
import { InternalCa, InternalCaProps, IssuedCertificate } from "./internal-ca";
import { MtlsSidecar, RateLimitProps, SidecarLimits, readSidecarLimits } from "./mtls-sidecar";

// Declared with the sidecar that applies it; re-exported for the importers of this module.
export type { RateLimitProps } from "./mtls-sidecar";
import { OidcGate, OidcSettings } from "./oidc-gate";
import { PinnedImages } from "./pinned-images";
import { ModelFetch, VllmServer } from "./vllm-server";

/** Named sets of vLLM's OpenAI-compatible routes the chain forwards. */
export class InferenceRoutes {
  /** Chat, completions, embeddings and the model list. */
  public static readonly DEFAULT: string[] = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
  ];
  /** Every OpenAI-compatible route vLLM serves under /v1 that the library knows. */
  public static readonly ALL_OPENAI: string[] = [
    ...InferenceRoutes.DEFAULT,
    "/v1/responses",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/rerank",
    "/v1/score",
  ];
}

export interface ModelProps {
  /** Hugging Face repository id, e.g. `meta-llama/Llama-3.1-8B-Instruct`. */
  readonly name: string;
  /** The 40-hex commit sha to serve (a branch or tag can move under you). */
  readonly revision: string;
  /** Accept a revision that is not a commit sha (a branch or tag). @default false */
  readonly allowUnpinnedRevision?: boolean;
  /** Name clients use in the `model` field. @default the repository id */
  readonly servedModelName?: string;
  /** Context length limit (`--max-model-len`). @default the model's own */
  readonly maxModelLen?: number;
  /**
   * Run the repository's own Python code (`--trust-remote-code`), pinned to the same revision.
   * A supply-chain risk: only for repositories you have reviewed. @default false
   */
  readonly trustRemoteCode?: boolean;
  /**
   * Download the revision with a one-shot job before vLLM starts. With false the cache volume
   * must already hold it (vLLM always runs offline). @default true
   */
  readonly prefetch?: boolean;
}

export interface OperatorProps {
  /** Lowercase name of the person or device, e.g. `devops-laptop`; the certificate's CN. */
  readonly name: string;
  /** Email, written into the certificate subject. @default none */
  readonly email?: string;
}

export interface VllmProps {
  /** Docker `gpus` for every replica, e.g. `"all"` or `"device=0"`; `"none"` runs on CPU. @default "all" */
  readonly gpus?: string;
  /** Per-replica `gpus` (one entry per replica); overrides `gpus`. @default none */
  readonly replicaGpus?: string[];
  /** Memory limit per replica in MB. @default 32768 */
  readonly memoryMb?: number;
  /** CPU weight per replica. @default 2048 */
  readonly cpuShares?: number;
  /** /dev/shm size in MB. @default 4096 */
  readonly shmSizeMb?: number;
  /** More `vllm serve` arguments (e.g. `["--gpu-memory-utilization", "0.85"]`). Security-relevant ones are refused. @default none */
  readonly extraArgs?: string[];
}

export interface ImageOverrides {
  /** @default IMAGES.vllm */
  readonly vllm?: string;
  /** @default IMAGES.caddy */
  readonly caddy?: string;
  /** @default IMAGES.nginx */
  readonly nginx?: string;
  /** @default IMAGES.oauth2Proxy */
  readonly oauth2Proxy?: string;
}

export interface SecureInferenceProps {
  readonly model: ModelProps;
  /** The hostname clients use (a SAN of the edge certificate). */
  readonly domain: string;
  /** People or devices that get a client certificate for the edge. At least one. */
  readonly operators: OperatorProps[];
  /** OIDC sign-in in front of the API. @default none: the client certificate is the identity */
  readonly oidc?: OidcSettings;
  /** Prefix of every Docker name. @default the construct id */
  readonly namePrefix?: string;
  /** vLLM replicas, each with its own sidecar, load-balanced by the edge. @default 1 */
  readonly replicas?: number;
  /** Routes forwarded to vLLM. @default InferenceRoutes.DEFAULT */
  readonly routes?: string[];
  /** Host address the edge is published on. @default "127.0.0.1" */
  readonly bindAddress?: string;
  /** Allow bindAddress 0.0.0.0 / ::. @default false */
  readonly allowAllInterfaces?: boolean;
  /** Host port of the edge. @default 443 */
  readonly hostPort?: number;
  /** @default ClientCertMode.REQUIRE_AND_VERIFY */
  readonly clientCertMode?: ClientCertMode;
  /** Your own edge certificate instead of one from the internal CA. @default issued internally */
  readonly edgeCertificate?: IssuedCertificate;
  /** Issue a client certificate for a Prometheus scraper, the only identity that may read /metrics. @default false */
  readonly metricsScraper?: boolean;
  /** @default 60 per minute, burst 20, 8 concurrent, per identity and replica */
  readonly rateLimit?: RateLimitProps;
  /** Request body limit in MB (413 above it). @default 4 */
  readonly maxRequestBodyMb?: number;
  /** Longest generation in seconds before the sidecar gives up. @default 1800 */
  readonly generationTimeoutSeconds?: number;
  /** Hugging Face token for gated models: a sensitive variable's value. @default anonymous */
  readonly hfToken?: string;
  readonly vllm?: VllmProps;
  readonly images?: ImageOverrides;
  /** Accept image references that are not pinned by digest. @default false */
  readonly allowUnpinnedImages?: boolean;
  /** Validity and renewal of the internal CA's certificates. @default see InternalCaProps */
  readonly certificates?: InternalCaProps;
}

/**
 * vLLM arguments the construct owns; setting them through extraArgs would undo a guarantee.
 * Matched the way vLLM reads flags (lib/vllm-args.ts): `--a_b`, `--a-b=x`, `--a.key` and
 * abbreviations all select the owned flag.
 */
const OWNED_VLLM_ARGS: Record<string, string> = {
  "--host": "vLLM must listen on 127.0.0.1 only; the sidecar is its only client.",
  "--port": "The sidecar expects vLLM on port 8000.",
  "--uds": "The sidecar expects vLLM on 127.0.0.1:8000, not a unix socket.",
  "--api-key": "The key is generated and injected by the sidecar.",
  "--model": "Use model.name.",
  "--tokenizer": "The tokenizer comes from model.name at model.revision.",
  "--revision": "Use model.revision.",
  "--tokenizer-revision": "The tokenizer is pinned to model.revision.",
  "--code-revision": "Remote code is pinned to model.revision.",
  "--trust-remote-code": "Use model.trustRemoteCode.",
  "--served-model-name": "Use model.servedModelName.",
  "--max-model-len": "Use model.maxModelLen.",
  "--hf-token": "Use hfToken (a sensitive variable's value); it reaches vLLM as a file.",
  "--download-dir": "Models live in the cache volume the fetch job fills.",
  "--config": "A YAML config file can set any flag, the owned ones included: pass flags in extraArgs instead.",
  "--allowed-origins": "Browsers never talk to vLLM directly.",
  "--allowed-methods": "Browsers never talk to vLLM directly.",
  "--allowed-headers": "Browsers never talk to vLLM directly.",
  "--allow-credentials": "Browsers never talk to vLLM directly.",
  "--ssl-keyfile": "TLS is terminated by the sidecar.",
  "--ssl-certfile": "TLS is terminated by the sidecar.",
  "--ssl-ca-certs": "TLS is terminated by the sidecar.",
  "--ssl-cert-reqs": "TLS is terminated by the sidecar.",
  "--enable-ssl-refresh": "TLS is terminated by the sidecar.",
};

/** Upper bounds that keep a typo from becoming a denial of service (or a 10 GB request body). */
const LIMITS = {
  replicas: { min: 1, max: 64 },
  memoryMb: { min: 256, max: 4194304, unit: "MB" },
  cpuShares: { min: 2, max: 262144 },
  shmSizeMb: { min: 64, max: 1048576, unit: "MB" },
  maxModelLen: { min: 1, max: 16777216, unit: "tokens" },
  hostPort: { min: 1, max: 65535 },
};

const OPERATOR_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HF_REPO = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;

function hasProvider(scope: IConstruct, type: new (...args: never[]) => unknown): boolean {
  return TerraformStack.of(scope)
    .node.findAll()
    .some((c) => c instanceof type);
}

/**
 * vLLM behind a Caddy edge with client-certificate mTLS, an optional OIDC gate and an nginx mTLS
 * sidecar per replica, on an internal Docker network, every certificate issued by an internal CA.
 *
 *   client --TLS+client cert--> edge --forward_auth--> gate (OIDC)
 *                                 '--mTLS--> sidecar --loopback--> vLLM (127.0.0.1:8000)
 */
export class SecureInference extends Construct implements IInferenceApi, ITunnelTarget {
  public readonly ca: InternalCa;
  public readonly edge: EdgeProxy;
  /** One per replica, in replica order. */
  public readonly sidecars: MtlsSidecar[];
  /** The OIDC gate; undefined without `oidc`. */
  public readonly gate?: OidcGate;
  public readonly replicas: VllmServer[];
  /** Prefix of every Docker name of this construct (and of the constructs that build on it, e.g. "<prefix>-chat"). */
  public readonly prefix: string;
  /** Operators' bundles: output names for `terraform output -json <name>`. */
  public readonly operatorOutputs: string[];
  /** The metrics scraper's client certificate, when `metricsScraper` is set. */
  public readonly metricsScraperCertificate?: IssuedCertificate;
  public readonly routes: string[];
  /**
   * The request limits every sidecar applies (defaults filled in); services that proxy to the sidecars
   * (ChatUi, ApiGateway) take the generation timeout and body limit from here.
   */
  public readonly limits: SidecarLimits;
  /** `limits.generationTimeoutSeconds` (IInferenceApi). */
  public readonly generationTimeoutSeconds: number;
  /** The model name vLLM serves (`--served-model-name`): what callers put in `model`. */
  public readonly servedModelName: string;

  constructor(scope: Construct, id: string, rawProps: SecureInferenceProps) {
    super(scope, id);
    // Checked props: problems are recorded for synth, and what follows builds from safe values.
    const { props, prefix, replicas: replicaCount, routes, limits, operatorEmails } = validate(this, id, rawProps);
    this.routes = routes;
    this.servedModelName = props.model.servedModelName ?? props.model.name;

    // Providers are declared by the stack file; say so clearly instead of failing at `terraform init`.
    // (A ConfigError problem, listed with the others, instead of cdktf's generic provider message.)
    addStackCheck(this, `providers:${this.node.path}`, () =>
      (
        [
          [DockerProvider, "DockerProvider", "@cdktf/provider-docker/lib/provider"],
          [TlsProvider, "TlsProvider", "@cdktf/provider-tls/lib/provider"],
          [RandomProvider, "RandomProvider", "@cdktf/provider-random/lib/provider"],
        ] as const
      )
        .filter(([type]) => !hasProvider(this, type))
        .map(([, name, module]) => ({
          prop: "stack",
          received: `no ${name}`,
          fix:
            `SecureInference "${this.node.path}" needs a ${name} in its stack: add ` +
            `new ${name}(stack, "${name.replace("Provider", "").toLowerCase()}", {}) (import from "${module}").`,
          where: whereIs("SecureInference", this.node.path),
        })),
    );

    const allowUnpinned = props.allowUnpinnedImages ?? false;
    const images = PinnedImages.of(this);
    const outputPrefix = prefix.replace(/[^A-Za-z0-9_]/g, "_");
    this.ca = new InternalCa(this, "ca", { outputPrefix, ...props.certificates });
    this.prefix = prefix;
    const modelCache = new Volume(this, "model-cache", { name: `${prefix}-models` });
    const apiKey = new Password(this, "vllm-api-key", { length: 48, special: false });
    // First, as before the service model: PinnedImages numbers its image resources in the order of first use.
    images.imageId(props.images?.vllm ?? IMAGES.vllm.reference);

    const fetch =
      props.model.prefetch === false
        ? undefined
        : new ModelFetch(this, "model-fetch", {
            name: `${prefix}-model-fetch`,
            image: props.images?.vllm,
            allowUnpinnedImages: allowUnpinned,
            egressNetwork: new Network(this, "model-egress-network", { name: `${prefix}-model-egress` }),
            modelCache,
            modelName: props.model.name,
            modelRevision: props.model.revision,
            hfToken: props.hfToken,
          });

    // The scraper identity is admitted by every sidecar even before a scraper of the stack calls it
    // (a Prometheus of the user's own joins with addCaller, or Observability's).
    const callers: SidecarCaller[] = [];
    if (props.metricsScraper) {
      const scraper = ServiceIdentities.METRICS_SCRAPER;
      callers.push({
        role: scraper.name,
        subjectDn: scraper.subjectDn,
        forwardsIdentity: false,
        mayScrapeMetrics: true,
      });
      this.metricsScraperCertificate = this.ca.issueClientCertificate(this, "metrics-scraper", {
        commonName: scraper.commonName,
        organizationalUnit: scraper.organizationalUnit,
      });
      new TerraformOutput(this, "metrics_scraper_bundle", {
        description: "mTLS client bundle for the Prometheus scraper (the only identity allowed on /metrics)",
        sensitive: true,
        value: {
          certificate_pem: this.metricsScraperCertificate.certPem,
          private_key_pem: this.metricsScraperCertificate.privateKeyPem,
          ca_certificate_pem: this.ca.certPem,
        },
      }).overrideLogicalId(`${outputPrefix}_metrics_scraper_bundle`);
    }

    this.limits = limits;
    this.generationTimeoutSeconds = limits.generationTimeoutSeconds;
    this.replicas = [];
    this.sidecars = [];
    for (let i = 0; i < replicaCount; i++) {
      const vllm = new VllmServer(this, `vllm-${i}`, {
        name: `${prefix}-vllm-${i}`,
        image: props.images?.vllm,
        allowUnpinnedImages: allowUnpinned,
        modelCache,
        modelName: props.model.name,
        modelRevision: props.model.revision,
        apiKey: apiKey.result,
        engineArgs: engineArgs(props),
        gpus: gpusFor(props.vllm, i),
        memoryMb: props.vllm?.memoryMb ?? 32768,
        cpuShares: props.vllm?.cpuShares ?? 2048,
        shmSizeMb: props.vllm?.shmSizeMb ?? 4096,
        fetch,
      });
      this.replicas.push(vllm);
      this.sidecars.push(
        new MtlsSidecar(this, `sidecar-${i}`, {
          ca: this.ca,
          name: `${prefix}-vllm-${i}-mtls`,
          target: vllm.service,
          targetHostname: `${prefix}-vllm-${i}`,
          upstream: vllm.loopbackAddress,
          upstreamApiKey: apiKey.result,
          routes: this.routes,
          callers,
          rateLimit: props.rateLimit,
          maxRequestBodyMb: props.maxRequestBodyMb,
          generationTimeoutSeconds: props.generationTimeoutSeconds,
          image: props.images?.nginx,
          allowUnpinnedImages: allowUnpinned,
        }),
      );
    }

    if (props.oidc) {
      this.gate = new OidcGate(this, "gate", {
        ca: this.ca,
        name: `${prefix}-gate`,
        egressNetwork: new Network(this, "gate-egress-network", { name: `${prefix}-gate-egress` }),
        publicHostname: props.domain,
        oidc: props.oidc,
        defaultEmailDomains: operatorEmailDomains(operatorEmails),
        image: props.images?.oauth2Proxy,
        allowUnpinnedImages: allowUnpinned,
      });
    }

    this.edge = new EdgeProxy(this, "edge", {
      ca: this.ca,
      name: `${prefix}-edge`,
      hostnames: [props.domain],
      upstreams: this.sidecars.map((s) => s.address),
      upstreamServerName: this.sidecars[0].serverName,
      routes: this.routes,
      gate: this.gate,
      bindAddress: props.bindAddress,
      allowAllInterfaces: props.allowAllInterfaces,
      hostPort: props.hostPort,
      clientCertMode: props.clientCertMode,
      // A coarse guard with headroom: the sidecar enforces the exact limit and answers 413.
      maxRequestBodyMb: this.limits.maxRequestBodyMb * 2,
      serverCertificate: props.edgeCertificate,
      image: props.images?.caddy,
      allowUnpinnedImages: allowUnpinned,
    });
    // The edge calls every sidecar with its own identity and forwards the verified user.
    this.addCaller(this.edge.service, { forwardsIdentity: true });

    this.operatorOutputs = props.operators.map((op) => this.ca.addOperator(op.name, op.email).outputName);
    new TerraformOutput(this, "ca_certificate", {
      description: "The internal CA's root certificate (public): trust it in clients",
      value: this.ca.certPem,
    }).overrideLogicalId(`${outputPrefix}_ca_certificate`);
    new TerraformOutput(this, "endpoint", {
      description: "Where clients reach the API (with an operator's client certificate)",
      value: `https://${props.domain}${(props.hostPort ?? 443) === 443 ? "" : `:${props.hostPort}`}/v1`,
    }).overrideLogicalId(`${outputPrefix}_endpoint`);
  }

  /** `host:port` of every replica's sidecar (what a caller load-balances over). */
  public get upstreams(): string[] {
    return this.sidecars.map((s) => s.address);
  }

  /** The sidecar services (what a caller whose proxy resolves names at start depends on). */
  public get upstreamServices(): HardenedService[] {
    return this.sidecars.map((s) => s.service);
  }

  /** A tunnel to SecureInference reaches its edge (refused unless the tunnel opts in by name). */
  public describeTunnelTarget(): TunnelTargetDescription {
    return { kind: "inference-api", dockerName: this.edge.name, edge: this.edge, caCertPem: this.ca.certPem };
  }

  /** The name every sidecar's certificate carries (what a caller verifies). */
  public get upstreamServerName(): string {
    return this.sidecars[0].serverName;
  }

  /**
   * Lets another service of the stack call the inference API: every replica's sidecar admits its client
   * identity, and the trust graph gives each pair its own network. (ChatUi and Observability use this; so can
   * a service of your own built on HardenedService.)
   */
  public addCaller(caller: HardenedService, options: InferenceCallerOptions = {}): void {
    for (const sidecar of this.sidecars) sidecar.allowCaller(caller, options);
  }
}

function engineArgs(props: SecureInferenceProps): string[] {
  const m = props.model;
  return [
    "--served-model-name",
    m.servedModelName ?? m.name,
    ...(m.maxModelLen !== undefined ? ["--max-model-len", String(m.maxModelLen)] : []),
    ...(m.trustRemoteCode ? ["--trust-remote-code", "--code-revision", m.revision] : []),
    ...(props.vllm?.extraArgs ?? []),
  ];
}

function gpusFor(vllm: VllmProps | undefined, replica: number): string | undefined {
  const gpus = vllm?.replicaGpus?.[replica] ?? vllm?.gpus ?? "all";
  return gpus === "none" ? undefined : gpus;
}

function operatorEmailDomains(operators: OperatorProps[]): string[] {
  const domains = operators
    .map((o) => o.email)
    .filter((e): e is string => e !== undefined && !isUnresolved(e) && e.includes("@"))
    .map((e) => e.split("@")[1].toLowerCase());
  return [...new Set(domains)];
}

interface Checked {
  readonly props: SecureInferenceProps;
  readonly prefix: string;
  readonly replicas: number;
  readonly routes: string[];
  readonly limits: SidecarLimits;
  /** Every operator with an email, valid or not: the gate's default email domains come from them. */
  readonly operatorEmails: OperatorProps[];
}

/**
 * Checks every prop (shapes first: stacks may be plain JavaScript), records the problems in the
 * stack (synth throws them all at once) and returns props the constructor can build from safely.
 */
function validate(scope: Construct, id: string, raw: SecureInferenceProps): Checked {
  const problems = new Problems(whereIs("SecureInference", scope.node.path), scope);
  const props = readObject<SecureInferenceProps>(
    problems,
    "props",
    raw,
    true,
    "{ model, domain, operators }",
  ) as SecureInferenceProps;
  const before = problems.count;
  const rawModel = readObject<ModelProps>(
    problems,
    "model",
    props.model,
    true,
    '{ name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "<40-hex commit>" }',
  ) as ModelProps;
  // A model of the wrong shape is one problem, not one per missing field.
  const modelShaped = problems.count === before;
  const model: ModelProps = {
    ...rawModel,
    name: modelShaped
      ? (readString(problems, "model.name", rawModel.name, true, '"meta-llama/Llama-3.1-8B-Instruct"') as string)
      : "",
    revision: modelShaped
      ? (readString(problems, "model.revision", rawModel.revision, true, "a 40-hex commit sha") as string)
      : "",
    servedModelName: readString(problems, "model.servedModelName", rawModel.servedModelName, false, '"llama-8b"'),
    maxModelLen:
      rawModel.maxModelLen === undefined
        ? undefined
        : readNumber(problems, "model.maxModelLen", rawModel.maxModelLen, 4096, LIMITS.maxModelLen),
    allowUnpinnedRevision: readBoolean(problems, "model.allowUnpinnedRevision", rawModel.allowUnpinnedRevision, false),
    trustRemoteCode: readBoolean(problems, "model.trustRemoteCode", rawModel.trustRemoteCode, false),
    prefetch: readBoolean(problems, "model.prefetch", rawModel.prefetch, true),
  };
  const m = model;
  if (m.name !== "" && !isUnresolved(m.name)) {
    problems.check(
      HF_REPO.test(m.name),
      "model.name",
      m.name,
      'Use a Hugging Face repository id like "meta-llama/Llama-3.1-8B-Instruct".',
    );
  }
  if (m.revision !== "" && !isUnresolved(m.revision)) {
    problems.check(
      isCommitSha(m.revision) || (m.allowUnpinnedRevision === true && /^[\w./-]+$/.test(m.revision)),
      "model.revision",
      m.revision,
      "Pin the model to a 40-hex commit sha (the repository's 'Files and versions' history lists them), " +
        "or set model.allowUnpinnedRevision: true to follow a branch or tag.",
    );
  }
  const domain = readString(problems, "domain", props.domain, true, '"ai.example.internal"') as string;
  if (domain !== "" && !isUnresolved(domain)) {
    problems.check(isDnsName(domain), "domain", domain, dnsNameFix(domain, "ai.example.internal"));
  }
  const prefix =
    readString(problems, "namePrefix", props.namePrefix, false, '"ai"') ??
    id.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
  problems.check(
    isDockerName(prefix),
    "namePrefix",
    prefix,
    "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
  );

  const operatorExample = '[{ name: "devops-laptop", email: "devops@example.com" }]';
  const rawOperators = readList<OperatorProps>(problems, "operators", props.operators, true, operatorExample);
  if (Array.isArray(props.operators)) {
    problems.check(
      rawOperators.length > 0,
      "operators",
      rawOperators,
      `Add at least one operator, e.g. ${operatorExample}: with no client certificate nobody can reach the edge.`,
    );
  }
  const operators: OperatorProps[] = [];
  const operatorEmails: OperatorProps[] = [];
  const seen = new Set<string>();
  rawOperators.forEach((raw, i) => {
    const op = readObject<OperatorProps>(
      problems,
      `operators[${i}]`,
      raw,
      true,
      '{ name: "devops-laptop" }',
    ) as OperatorProps;
    const name = readString(problems, `operators[${i}].name`, op.name, true, '"devops-laptop"') as string;
    const email = readString(problems, `operators[${i}].email`, op.email, false, '"devops@example.com"');
    let ok = name !== "";
    if (name !== "") {
      const nameOk = OPERATOR_NAME.test(name) && !name.startsWith("zta-") && !seen.has(name);
      problems.check(
        OPERATOR_NAME.test(name),
        `operators[${i}].name`,
        name,
        "Use lowercase letters, digits and '-' (at most 63), e.g. \"devops-laptop\".",
      );
      problems.check(
        !name.startsWith("zta-"),
        `operators[${i}].name`,
        name,
        'Names starting with "zta-" are reserved for the library\'s service identities.',
      );
      problems.check(!seen.has(name), `operators[${i}].name`, name, "Operator names must be unique.");
      seen.add(name);
      ok = ok && nameOk;
    }
    if (email !== undefined && !isUnresolved(email)) {
      problems.check(isEmail(email), `operators[${i}].email`, email, 'Use a plain address like "devops@example.com".');
      ok = ok && isEmail(email);
    }
    // Only valid operators get a certificate: the CA would refuse the others.
    if (ok) operators.push({ name, email });
    if (email !== undefined) operatorEmails.push({ name, email });
  });

  const replicas = readNumber(problems, "replicas", props.replicas, 1, LIMITS.replicas);
  let routes = InferenceRoutes.DEFAULT;
  if (props.routes !== undefined) {
    routes = readStrings(problems, "routes", props.routes, false, "InferenceRoutes.DEFAULT");
    if (Array.isArray(props.routes)) {
      problems.check(routes.length > 0, "routes", routes, "Forward at least one route, e.g. InferenceRoutes.DEFAULT.");
    }
    for (const route of routes) {
      problems.check(
        InferenceRoutes.ALL_OPENAI.includes(route),
        "routes",
        route,
        `Use routes from InferenceRoutes.ALL_OPENAI (${InferenceRoutes.ALL_OPENAI.join(", ")}); vLLM's other routes ` +
          "(/tokenize, /pause, /update_weights, ...) are administrative and stay unreachable.",
      );
    }
    routes = routes.filter((r) => InferenceRoutes.ALL_OPENAI.includes(r));
    if (routes.length === 0) routes = InferenceRoutes.DEFAULT;
  }

  // The sidecars apply these; their defaults and bounds live there.
  const limits = readSidecarLimits(problems, props);
  const hostPort = readNumber(problems, "hostPort", props.hostPort, 443, LIMITS.hostPort);

  const hfToken = readString(problems, "hfToken", props.hfToken, false, "a sensitive variable's value");
  if (hfToken !== undefined) {
    problems.check(
      isUnresolved(hfToken),
      "hfToken",
      hfToken === "" ? "" : "a literal string",
      "Pass a sensitive variable's value (new TerraformVariable(stack, 'hf_token', { sensitive: true }).value) so the token never appears in the synthesized JSON.",
    );
  }

  const rawVllm = readObject<VllmProps>(problems, "vllm", props.vllm, false, '{ gpus: "all" }') ?? {};
  const replicaGpus =
    rawVllm.replicaGpus === undefined
      ? undefined
      : readStrings(problems, "vllm.replicaGpus", rawVllm.replicaGpus, false, '["device=0", "device=1"]');
  const gpus = readString(problems, "vllm.gpus", rawVllm.gpus, false, '"all"') ?? "all";
  const extraArgs = readStrings(
    problems,
    "vllm.extraArgs",
    rawVllm.extraArgs,
    false,
    '["--gpu-memory-utilization", "0.85"]',
  );
  const vllm: VllmProps = {
    gpus,
    replicaGpus: replicaGpus && replicaGpus.length === replicas ? replicaGpus : undefined,
    memoryMb: readNumber(problems, "vllm.memoryMb", rawVllm.memoryMb, 32768, LIMITS.memoryMb),
    cpuShares: readNumber(problems, "vllm.cpuShares", rawVllm.cpuShares, 2048, LIMITS.cpuShares),
    shmSizeMb: readNumber(problems, "vllm.shmSizeMb", rawVllm.shmSizeMb, 4096, LIMITS.shmSizeMb),
    extraArgs: [],
  };
  if (replicaGpus !== undefined) {
    problems.check(
      replicaGpus.length === replicas,
      "vllm.replicaGpus",
      replicaGpus,
      `Give one entry per replica (${replicas}), e.g. ["device=0", "device=1"].`,
    );
    const shared = replicaGpus.filter((g, i) => g !== "none" && replicaGpus.indexOf(g) !== i);
    problems.check(
      shared.length === 0,
      "vllm.replicaGpus",
      replicaGpus,
      "Give each replica its own GPUs: two replicas on one device fight over its memory.",
    );
  } else if (replicas > 1 && gpus !== "none") {
    problems.add(
      "vllm.gpus",
      gpus,
      `Every one of the ${replicas} replicas would claim the same GPUs (they run on one Docker host). ` +
        'Give each its own with vllm.replicaGpus (e.g. ["device=0", "device=1"]), or use gpus: "none".',
    );
  }
  const acceptedArgs: string[] = [];
  extraArgs.forEach((arg, i) => {
    const prop = "vllm.extraArgs";
    if (isUnresolved(arg)) {
      acceptedArgs.push(arg);
      return;
    }
    if (flagHasWhitespace(arg)) {
      problems.add(
        prop,
        arg,
        'Give each argument as its own element: ["--gpu-memory-utilization", "0.85"] (vLLM gets them as they are; no shell splits them).',
      );
      return;
    }
    const flag = vllmFlagName(arg);
    const owned = flag ? Object.keys(OWNED_VLLM_ARGS).find((o) => selectsFlag(flag, o)) : undefined;
    if (owned) {
      const spelled = flag === owned ? "" : ` (vLLM reads ${JSON.stringify(arg.split("=", 1)[0])} as ${owned})`;
      // Do not echo a value that may be a secret (e.g. --api_key=sk-...).
      problems.addDescribed(
        prop,
        JSON.stringify(arg.split("=", 1)[0] + (arg.includes("=") ? "=..." : "")) + ` (element ${i})`,
        `${owned} is owned by SecureInference${spelled}: ${OWNED_VLLM_ARGS[owned]}`,
      );
      return;
    }
    const secret = secretValueKind(arg);
    if (secret) {
      problems.addDescribed(
        prop,
        `a value that looks like ${secret}`,
        "A literal credential would be written into the synthesized JSON and the state. Leave it out.",
      );
      return;
    }
    acceptedArgs.push(arg);
  });
  for (const f of secretsInCommand(acceptedArgs)) {
    problems.addDescribed(
      "vllm.extraArgs",
      f,
      "A literal credential would be written into the synthesized JSON and the state. Leave it out.",
    );
  }

  const allowUnpinned = readBoolean(problems, "allowUnpinnedImages", props.allowUnpinnedImages, false);
  const rawImages =
    readObject<ImageOverrides>(problems, "images", props.images, false, "{ vllm: IMAGES.vllm.reference }") ?? {};
  const images: ImageOverrides = {};
  for (const key of ["vllm", "caddy", "nginx", "oauth2Proxy"] as const) {
    const image = readString(problems, `images.${key}`, rawImages[key], false, "a digest-pinned reference");
    if (image === undefined) continue;
    const before = problems.count;
    checkImagePinned(problems, `images.${key}`, image, allowUnpinned);
    if (problems.count === before) (images as Record<string, string>)[key] = image;
  }
  for (const key of Object.keys(rawImages).filter((k) => !["vllm", "caddy", "nginx", "oauth2Proxy"].includes(k))) {
    problems.add(`images.${key}`, key, "Override only vllm, caddy, nginx or oauth2Proxy.");
  }

  let oidc = props.oidc;
  if (props.oidc !== undefined) {
    const o = readObject<OidcSettings>(problems, "oidc", props.oidc, false, "{ issuerUrl, clientId, clientSecret }");
    oidc = o === undefined ? undefined : o;
  }

  checkNoCredentialLiterals(problems, props, ["vllm.extraArgs", "hfToken", "oidc.clientSecret"]);
  problems.report();
  return {
    props: {
      ...props,
      model,
      domain: domain === "" ? "invalid.invalid" : domain,
      operators,
      namePrefix: prefix,
      replicas,
      routes,
      rateLimit: {
        requestsPerMinute: limits.requestsPerMinute,
        burst: limits.burst,
        maxConcurrent: limits.maxConcurrent,
      },
      maxRequestBodyMb: limits.maxRequestBodyMb,
      generationTimeoutSeconds: limits.generationTimeoutSeconds,
      hostPort,
      hfToken,
      vllm: { ...vllm, extraArgs: acceptedArgs },
      images,
      allowUnpinnedImages: allowUnpinned,
      oidc,
    },
    prefix: isDockerName(prefix) ? prefix : "invalid",
    replicas,
    routes,
    limits,
    operatorEmails,
  };
}
