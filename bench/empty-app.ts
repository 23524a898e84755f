/**
 * The baseline of the synth benchmark: a cdktf app with one empty TerraformStack. Imports only
 * cdktf, so its process start measures node + cdktf, nothing of this library.
 */
import { App, TerraformStack } from "cdktf";

export function synthesizeEmpty(outdir?: string): void {
  const app = new App(outdir ? { outdir } : {});
  new TerraformStack(app, "empty");
  app.synth();
}

if (require.main === module) {
  synthesizeEmpty();
}
