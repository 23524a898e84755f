// The cdktf app entry (cdktf.json "app"): synthesizes the default stack into cdktf.out/.
import { App } from "cdktf";
import { synthOrExit } from "../lib/errors";
import { DefaultInferenceStack } from "./default-stack";

const app = new App();
new DefaultInferenceStack(app, "zero-trust-ai");
// A ConfigError or policy violation prints as its message (each problem once), not a stack trace.
synthOrExit(app);
