// The cdktf app entry (cdktf.json "app"): synthesizes the default stack into cdktf.out/.
import { App } from "cdktf";
import { synthOrExit } from "../lib/errors";
import { writeAppRunbooks } from "../lib/runbooks";
import { writeTrustZoneDiagrams } from "../lib/trust-diagram";
import { DefaultInferenceStack } from "./default-stack";

const app = new App();
new DefaultInferenceStack(app, "zero-trust-ai");
// A ConfigError or policy violation prints as its message (each problem once), not a stack trace.
synthOrExit(app);
// Incident runbooks (runbooks/*.md next to cdk.tf.json), rendered from the JSON just written.
writeAppRunbooks(app);
// Graphviz (WebAssembly) renders asynchronously, so the diagram is drawn from the written JSON after synth.
writeTrustZoneDiagrams(app).catch((e: unknown) => {
  process.stderr.write(`trust-zone diagram: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
