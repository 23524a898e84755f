// A stack file with two mistakes in two places, run by test/stacks/default-stack.test.ts the way
// cdktf.json runs stacks/main.ts.
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, TerraformStack } from "cdktf";
import { SecureInference, synthOrExit } from "../../index";

const app = new App({ outdir: process.env.CDKTF_OUTDIR });
const stack = new TerraformStack(app, "broken");
new DockerProvider(stack, "docker", {});
new TlsProvider(stack, "tls", {});
new RandomProvider(stack, "random", {});
new SecureInference(stack, "inference", {
  model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "main" },
  domain: "ai.example.internal",
  operators: [{ name: "devops-laptop", email: "devops@example.com" }],
  oidc: { issuerUrl: "https://idp.example.com/realms/prod", clientId: "local-ai", clientSecret: "hunter2" },
});
synthOrExit(app);
