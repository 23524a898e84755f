/**
 * The stacks the synth benchmark measures, and a cdktf app entry that synthesizes one of them.
 *
 *   node bench/results/build/bench/synth-app.js <default|replicas-N>      (compiled)
 *   npx ts-node --transpile-only bench/synth-app.ts <default|replicas-N> (as cdktf.json runs apps)
 *
 * The output directory comes from CDKTF_OUTDIR, as when `cdktf synth` runs an app. The empty
 * baseline is bench/empty-app.ts, which imports nothing of this library.
 */
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import { SecureInference } from "../constructs/secure-inference";
import { DefaultInferenceStack } from "../stacks/default-stack";

/** The default stack's SecureInference with `replicas` vLLM replicas (each with its own sidecar). */
export function replicaStack(app: App, id: string, replicas: number): TerraformStack {
  const stack = new TerraformStack(app, id);
  new DockerProvider(stack, "docker", {});
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  const secret = new TerraformVariable(stack, "oidc_client_secret", { type: "string", sensitive: true });
  new SecureInference(stack, "inference", {
    model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
    domain: "ai.example.internal",
    operators: [{ name: "devops-laptop", email: "devops@example.com" }],
    oidc: { issuerUrl: "https://idp.example.com/realms/prod", clientId: "local-ai", clientSecret: secret.value },
    metricsScraper: true,
    replicas,
  });
  return stack;
}

/** `default` (stacks/default-stack.ts) or `replicas-N`. */
export function addStack(app: App, kind: string): void {
  if (kind === "default") {
    new DefaultInferenceStack(app, "zero-trust-ai");
    return;
  }
  const m = /^replicas-(\d+)$/.exec(kind);
  if (!m) throw new Error(`synth-app: unknown stack '${kind}'; use default or replicas-N`);
  replicaStack(app, `replicas-${m[1]}`, Number(m[1]));
}

/** Builds and synthesizes one stack into `outdir` (cdktf's default: CDKTF_OUTDIR, else cdktf.out). */
export function synthesize(kind: string, outdir?: string): void {
  const app = new App(outdir ? { outdir } : {});
  addStack(app, kind);
  app.synth();
}

if (require.main === module) {
  synthesize(process.argv[2] ?? "default");
}
