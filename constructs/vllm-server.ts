import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Construct } from "constructs";
import { CONFIG_DIR, MODEL_REVISION_LABEL, ServiceRole } from "../lib/identities";
import { IMAGES } from "../lib/images";
import { HardenedJob, HardenedService } from "./hardened-service";

/** vLLM's port, on the loopback of its own network namespace only. */
export const VLLM_PORT = 8000;
/** The model cache volume's mount point. */
export const MODEL_CACHE_DIR = "/models";

export interface VllmServerProps {
  /** Docker name of the vLLM container (also its DNS name on the internal network). */
  readonly name: string;
  /** The vLLM image reference. @default IMAGES.vllm */
  readonly image?: string;
  /** @default false */
  readonly allowUnpinnedImages?: boolean;
  /** The shared model cache (a named volume). */
  readonly modelCache: Volume;
  /** Hugging Face repository id. */
  readonly modelName: string;
  /** Commit sha (or, when the user opted out of pinning, a branch or tag). */
  readonly modelRevision: string;
  /** The generated API key (a Terraform reference); written to a file, never to the environment. */
  readonly apiKey: string;
  /** Arguments after `vllm serve <model>` chosen by the user (served name, max length, extra args). */
  readonly engineArgs: string[];
  /** Value of docker's `gpus`; undefined runs without GPUs. */
  readonly gpus?: string;
  readonly memoryMb: number;
  readonly cpuShares: number;
  readonly shmSizeMb: number;
  /** The fetch job, when the revision is downloaded by one: the replica waits for its marker. */
  readonly fetch?: ModelFetch;
}

/**
 * Cache and compile directories. vLLM JIT-compiles kernels (Triton, torch.compile, FlashInfer)
 * and loads them with dlopen, which a `noexec` tmpfs refuses, so every cache points into the
 * model volume; HOME is the tmpfs for anything else that insists on writing there.
 */
export function vllmEnvironment(offline: boolean): string[] {
  return [
    `HF_HOME=${MODEL_CACHE_DIR}/hf`,
    `XDG_CACHE_HOME=${MODEL_CACHE_DIR}/cache`,
    `VLLM_CACHE_ROOT=${MODEL_CACHE_DIR}/cache/vllm`,
    `TRITON_CACHE_DIR=${MODEL_CACHE_DIR}/cache/triton`,
    `TORCHINDUCTOR_CACHE_DIR=${MODEL_CACHE_DIR}/cache/torchinductor`,
    `CUDA_CACHE_PATH=${MODEL_CACHE_DIR}/cache/nv`,
    "HOME=/tmp",
    // No phoning home: usage statistics and Hugging Face telemetry off.
    "VLLM_NO_USAGE_STATS=1",
    "DO_NOT_TRACK=1",
    "HF_HUB_DISABLE_TELEMETRY=1",
    ...(offline ? ["HF_HUB_OFFLINE=1"] : []),
  ];
}

/** The labels naming the model and revision a container serves or fetches (ZTA-AI-004 reads the revision). */
function modelLabels(modelName: string, revision: string): { label: string; value: string }[] {
  return [
    { label: "zta.model", value: modelName },
    { label: MODEL_REVISION_LABEL, value: revision },
  ];
}

/** Where the fetch job records that a revision is complete (on the model volume). */
export function fetchMarkerPath(modelName: string, revision: string): string {
  return `${MODEL_CACHE_DIR}/zta-fetched/${modelName.replace(/\//g, "--")}@${revision}`;
}

/** How long a replica waits for the fetch job before giving up (exit 1, restarted on failure). */
const FETCH_WAIT_SECONDS = 24 * 3600;

/**
 * Waits for the fetch job's marker (when there is a fetch job), reads the API key from the config
 * volume into VLLM_API_KEY (vLLM's own variable; it never appears in `docker inspect`) and starts
 * the server. Arguments are passed positionally, so nothing the user configures is shell-parsed.
 */
const LAUNCHER = `set -eu
if [ -n "$ZTA_WAIT_FOR" ]; then
  waited=0
  while [ ! -f "$ZTA_WAIT_FOR" ]; do
    if [ "$waited" -ge ${FETCH_WAIT_SECONDS} ]; then echo "model not fetched: $ZTA_WAIT_FOR" >&2; exit 1; fi
    sleep 2; waited=$((waited + 2))
  done
fi
VLLM_API_KEY="$(cat ${CONFIG_DIR}/api-key)"
export VLLM_API_KEY
exec vllm serve "$@"`;

/**
 * One vLLM replica: internal network only, listening on its own loopback, the model loaded
 * offline from the cache at a pinned revision, hardened like every other container. vLLM's
 * image defines no non-root user and the cache volume is root-owned, so it runs as uid 0 with
 * every capability dropped, no-new-privileges and a read-only root filesystem.
 */
export class VllmServer extends Construct {
  public readonly service: HardenedService;
  public readonly container: Container;
  /** `127.0.0.1:8000`, as seen from inside its network namespace (the sidecar's upstream). */
  public readonly loopbackAddress = `127.0.0.1:${VLLM_PORT}`;

  constructor(scope: Construct, id: string, props: VllmServerProps) {
    super(scope, id);
    const args = [
      props.modelName,
      "--revision",
      props.modelRevision,
      "--tokenizer-revision",
      props.modelRevision,
      "--host",
      "127.0.0.1",
      "--port",
      String(VLLM_PORT),
      ...props.engineArgs,
    ];
    // "Default": cdktf leaves it out of logical ids, so the resources keep the addresses they had.
    this.service = new HardenedService(this, "Default", {
      name: props.name,
      role: ServiceRole.INFERENCE,
      catalogImage: IMAGES.vllm,
      image: props.image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ids: { config: "secrets" },
      configVolumeName: `${props.name}-secrets`,
      files: [{ name: "api-key", content: props.apiKey, mode: "0400" }],
      hardening: {
        memoryMb: props.memoryMb,
        cpuShares: props.cpuShares,
        tmpfsMb: { "/tmp": 1024 },
        // The image ships python3 (not always curl); probe vLLM's own /health on loopback.
        healthcheck: [
          "python3",
          "-c",
          `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${VLLM_PORT}/health', timeout=4)`,
        ],
        // Loading weights and compiling kernels takes minutes before /health answers.
        healthStartPeriod: "900s",
        // Let in-flight generations finish before the container is stopped.
        stopGraceSeconds: 30,
      },
      entrypoint: ["/bin/sh", "-c", LAUNCHER, "zta-vllm"],
      command: args,
      env: [
        ...vllmEnvironment(true),
        // Empty when there is no fetch job. (No "\${...}" in the script: Terraform would interpolate it.)
        `ZTA_WAIT_FOR=${props.fetch ? fetchMarkerPath(props.modelName, props.modelRevision) : ""}`,
      ],
      gpus: props.gpus,
      // PyTorch workers exchange tensors through /dev/shm; Docker's 64 MB default is too small.
      shmSizeMb: props.shmSizeMb,
      // No network of its own: the trust graph attaches one per caller of its sidecar.
      volumes: [{ volumeName: props.modelCache.name, containerPath: MODEL_CACHE_DIR, readOnly: false }],
      labels: modelLabels(props.modelName, props.modelRevision),
      dependsOn: props.fetch ? [props.fetch.container] : [],
    });
    this.container = this.service.container;
  }
}

export interface ModelFetchProps {
  readonly name: string;
  /** The vLLM image reference (it carries huggingface_hub). @default IMAGES.vllm */
  readonly image?: string;
  /** @default false */
  readonly allowUnpinnedImages?: boolean;
  /** A network with outbound access (no inbound ports), used by this job only. */
  readonly egressNetwork: Network;
  readonly modelCache: Volume;
  readonly modelName: string;
  readonly modelRevision: string;
  /** Hugging Face token (a sensitive Terraform reference). @default anonymous */
  readonly hfToken?: string;
}

/**
 * Downloads exactly one revision into the cache, then writes the marker the replicas wait for.
 * Arguments are positional, never shell-parsed.
 */
const FETCH_SCRIPT = [
  "import os, sys",
  "from huggingface_hub import snapshot_download",
  "print(snapshot_download(repo_id=sys.argv[1], revision=sys.argv[2]), flush=True)",
  "os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True)",
  "open(sys.argv[3], 'w').close()",
].join("\n");

/**
 * A one-shot job that downloads the pinned model revision into the cache volume, so the vLLM
 * replicas never need a network path out (they run with HF_HUB_OFFLINE=1 on the internal network).
 *
 * It is not attached: `attach = true` would hold `terraform apply` inside the provider's 20-minute
 * create timeout, which a large model outlasts, and a non-zero exit would not fail the apply
 * anyway. Instead it retries on failure a bounded number of times, marks completion with a file,
 * and the replicas wait for that file. `must_run = false` keeps Terraform from recreating it after
 * it exits; a new revision (a new command) replaces it.
 */
export class ModelFetch extends Construct {
  public readonly job: HardenedJob;
  public readonly container: Container;

  constructor(scope: Construct, id: string, props: ModelFetchProps) {
    super(scope, id);
    this.job = new HardenedJob(this, "Default", {
      name: props.name,
      role: ServiceRole.MODEL_FETCH,
      catalogImage: IMAGES.vllm,
      image: props.image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      ids: { config: "secrets" },
      configVolumeName: `${props.name}-secrets`,
      // The token, when there is one, is a file (HF_TOKEN_PATH), never an environment variable.
      files: props.hfToken ? [{ name: "hf-token", content: props.hfToken, mode: "0400" }] : [],
      hardening: { memoryMb: 4096, cpuShares: 512, tmpfsMb: { "/tmp": 256 } },
      entrypoint: ["python3", "-c", FETCH_SCRIPT],
      command: [props.modelName, props.modelRevision, fetchMarkerPath(props.modelName, props.modelRevision)],
      env: [...vllmEnvironment(false), ...(props.hfToken ? [`HF_TOKEN_PATH=${CONFIG_DIR}/hf-token`] : [])],
      networks: [{ name: props.egressNetwork.name }],
      volumes: [{ volumeName: props.modelCache.name, containerPath: MODEL_CACHE_DIR, readOnly: false }],
      labels: modelLabels(props.modelName, props.modelRevision),
    });
    this.container = this.job.container;
  }
}
