// Small team: the inference API on the tailnet for engineers and services (mTLS + OIDC), the chat
// UI in browsers through Cloudflare Access (no client to install), and no port open to the world.
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { ChatUi, CloudflareTunnel, SecureInference, TailscaleExposure } from "../index";

export class TeamStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    // State holds every private key: keep it out of the tree (cdktf's default is an absolute path in the
    // project root). Relative to cdktf.out/stacks/<id>/; use an encrypted remote backend for real work.
    new LocalBackend(this, { path: `../../../.terraform-state/${id}.tfstate` });
    new DockerProvider(this, "docker", {});
    new TlsProvider(this, "tls", {});
    new RandomProvider(this, "random", {});
    const cfToken = new TerraformVariable(this, "cloudflare_api_token", { type: "string", sensitive: true });
    new CloudflareProvider(this, "cloudflare", { apiToken: cfToken.value });
    const oidcSecret = new TerraformVariable(this, "oidc_client_secret", { type: "string", sensitive: true });
    const tsAuthKey = new TerraformVariable(this, "tailscale_auth_key", { type: "string", sensitive: true });

    const ai = new SecureInference(this, "inference", {
      model: { name: "meta-llama/Llama-3.1-8B-Instruct", revision: "0e9e39f249a16976918f6564b8830bc894c89659" },
      domain: "ai.tailnet-abc.ts.net",
      operators: [{ name: "ci-runner", email: "platform@example.com" }],
      oidc: {
        issuerUrl: "https://idp.example.com/realms/prod",
        clientId: "local-ai",
        clientSecret: oidcSecret.value,
        emailDomains: ["example.com"],
      },
    });
    // Browsers reach the UI through the tunnel only; the edge keeps serving the API.
    const chat = new ChatUi(this, "chat", { inference: ai, hostname: "chat.example.com", publishOnEdge: false });
    new TailscaleExposure(this, "tailnet", {
      target: ai.edge,
      hostname: "ai",
      tailnetDomain: "tailnet-abc.ts.net",
      authKey: tsAuthKey.value,
      acl: { allow: ["group:ml-engineers"] },
    });
    new CloudflareTunnel(this, "tunnel", {
      accountId: "0123456789abcdef0123456789abcdef",
      zoneId: "fedcba9876543210fedcba9876543210",
      hostname: "chat.example.com",
      target: chat,
      access: { emailDomains: ["example.com"], emails: ["alice@example.org"] },
    });
  }
}

if (require.main === module) {
  const app = new App();
  new TeamStack(app, "team");
  app.synth();
}
