// Homelab: one machine, nothing published on any host port, reached only over a tailnet.
// The API and the chat UI are two tailnet names (two small tailscale containers) in front of the
// same edge; every request still needs an operator's client certificate (mTLS), and the chat UI
// talks to vLLM through the same mTLS sidecars with its own identity.
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { ChatUi, SecureInference, TailscaleExposure, TailscaleProvider } from "../index";

const TAILNET = "tailnet-abc.ts.net";

export class HomelabStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    // State holds every private key: keep it out of the tree (cdktf's default is an absolute path in the
    // project root). Relative to cdktf.out/stacks/<id>/; use an encrypted remote backend for real work.
    new LocalBackend(this, { path: `../../../.terraform-state/${id}.tfstate` });
    new DockerProvider(this, "docker", {});
    new TlsProvider(this, "tls", {});
    new RandomProvider(this, "random", {});
    // An OAuth client with the auth_keys scope; the provider creates one short-lived key per node.
    const tsClientId = new TerraformVariable(this, "tailscale_oauth_client_id", { type: "string" });
    const tsClientSecret = new TerraformVariable(this, "tailscale_oauth_client_secret", {
      type: "string",
      sensitive: true,
    });
    new TailscaleProvider(this, "tailscale", {
      oauthClientId: tsClientId.value,
      oauthClientSecret: tsClientSecret.value,
    });

    const ai = new SecureInference(this, "inference", {
      model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
      domain: `ai.${TAILNET}`,
      operators: [{ name: "laptop", email: "me@example.com" }],
      vllm: { gpus: "all" },
    });
    new ChatUi(this, "chat", { inference: ai, hostname: `chat.${TAILNET}` });
    new TailscaleExposure(this, "tailnet-api", {
      target: ai.edge,
      hostname: "ai",
      tailnetDomain: TAILNET,
      createAuthKey: {},
      acl: { allow: ["autogroup:member"] },
    });
    new TailscaleExposure(this, "tailnet-chat", {
      target: ai.edge,
      hostname: "chat",
      tailnetDomain: TAILNET,
      createAuthKey: {},
    });
  }
}

if (require.main === module) {
  const app = new App();
  new HomelabStack(app, "homelab");
  app.synth();
}
