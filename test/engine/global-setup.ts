/**
 * Before any engine test: the engine must answer (no engine fails the suite, never skips), a crashed
 * run's leftovers are removed, and every stand-in image is built (cached by content hash).
 */
import { call } from "./docker-api";
import { removeLeftovers } from "./applier";
import { buildAllStandins } from "./standins";

export default async function globalSetup(): Promise<void> {
  const version = (await call("GET", "/version")).json();
  const started = Date.now();
  await removeLeftovers();
  await buildAllStandins();
  console.log(`\nengine: Docker ${version.Version} (API ${version.ApiVersion}); stand-ins ready in ${Date.now() - started} ms`);
}
