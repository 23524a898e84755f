// The cdktf app entry (cdktf.json "app"): synthesizes the default stack into cdktf.out/.
import { App } from "cdktf";
import { DefaultInferenceStack } from "./default-stack";

const app = new App();
new DefaultInferenceStack(app, "zero-trust-ai");
app.synth();
