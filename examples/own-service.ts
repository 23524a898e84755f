// Adding your own container the hardened way (README "Add your own container"): a RAG worker that calls the
// inference API with its own client identity, on its own network to each sidecar, passing the production policy.
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, Aspects, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { HardenedService, PolicyProfile, SecureInference, SecurityPolicy, ServiceIdentities } from "../index";

export class OwnServiceStack extends TerraformStack {
  public readonly worker: HardenedService;
  public readonly inference: SecureInference;

  constructor(scope: App, id: string) {
    super(scope, id);
    // State holds every private key: keep it out of the tree (cdktf's default is an absolute path in the
    // project root). Relative to cdktf.out/stacks/<id>/; use an encrypted remote backend for real work.
    new LocalBackend(this, { path: `../../../.terraform-state/${id}.tfstate` });
    new DockerProvider(this, "docker", {});
    new TlsProvider(this, "tls", {});
    new RandomProvider(this, "random", {});
    const clientSecret = new TerraformVariable(this, "oidc_client_secret", { type: "string", sensitive: true });
    this.inference = new SecureInference(this, "inference", {
      model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
      domain: "ai.example.internal",
      operators: [{ name: "devops-laptop", email: "devops@example.com" }],
      oidc: {
        issuerUrl: "https://idp.example.com/realms/prod",
        clientId: "local-ai",
        clientSecret: clientSecret.value,
      },
      vllm: { gpus: "none" },
    });

    this.worker = new HardenedService(this, "rag-worker", {
      name: "rag-worker",
      role: "rag-worker",
      // Pinned by digest; the uid:gid the image runs as (an image that needs root says why in rootReason).
      catalogImage: {
        reference:
          "ghcr.io/example/rag-worker:1.4.2@sha256:3f1e0c6b6c2f3d1a9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a49382",
        user: "10001:10001",
      },
      ca: this.inference.ca,
      // CN=zta-rag: ca.crt, client.crt and client.key land in its read-only /etc/zta.
      clientIdentity: ServiceIdentities.custom("rag"),
      hardening: { memoryMb: 512, cpuShares: 256, healthcheck: ["/app/healthcheck"] },
      env: [`INFERENCE_URL=https://${this.inference.upstreams[0]}`, "TLS_DIR=/etc/zta"],
    });
    // Every sidecar admits CN=zta-rag; the trust graph gives the worker its own network to each replica.
    this.inference.addCaller(this.worker);

    Aspects.of(this).add(new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false }));
  }
}
