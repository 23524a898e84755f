/**
 * Before any engine test: the engine must answer (no engine fails the suite, never skips), a crashed
 * run's leftovers are removed, and every stand-in image is built (cached by content hash).
 *
 * scripts/engine-tests.sh runs two groups at once. The first prepares for both (removes every group's
 * leftovers, builds the stand-ins) and writes "ready" to ZTA_ENGINE_READY_FILE; the second waits for that
 * file (ZTA_ENGINE_WAIT_FOR), so the two never build the same image at once.
 */
import * as fs from "fs";
import { call, ENGINE_GROUP } from "./docker-api";
import { removeLeftovers } from "./applier";
import { buildAllStandins } from "./standins";

async function waitForReady(file: string): Promise<void> {
  // Bounded: 10 minutes (the stand-ins build in about 30 s on a fresh engine).
  for (let i = 0; i < 2400; i++) {
    if (fs.existsSync(file)) {
      const state = fs.readFileSync(file, "utf8");
      if (state === "ready") return;
      if (state.startsWith("failed")) throw new Error(`the other engine group's setup failed: ${state}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the other engine group did not prepare the engine within 10 minutes (${file})`);
}

export default async function globalSetup(): Promise<void> {
  const version = (await call("GET", "/version")).json();
  const started = Date.now();
  const readyFile = process.env.ZTA_ENGINE_READY_FILE;
  const waitFor = process.env.ZTA_ENGINE_WAIT_FOR;
  try {
    if (waitFor) await waitForReady(waitFor);
    await removeLeftovers(waitFor === undefined);
    await buildAllStandins();
  } catch (err) {
    if (readyFile) fs.writeFileSync(readyFile, `failed: ${(err as Error).message}`);
    throw err;
  }
  if (readyFile) fs.writeFileSync(readyFile, "ready");
  console.log(`\nengine: Docker ${version.Version} (API ${version.ApiVersion}), group ${ENGINE_GROUP}; stand-ins ready in ${Date.now() - started} ms`);
}
