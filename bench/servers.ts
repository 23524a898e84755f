/**
 * Runs the harness's mock vLLM or stub gate in a process of its own, so the benchmark client's
 * event loop does not also serve them (on a 2-core machine that would distort every figure).
 *
 *   node servers.js mock <tokens> <tokenIntervalMs>
 *   node servers.js gate <pki.json> <sessionCookieName>
 *
 * Prints one JSON line {"port": n} when listening; exits when its stdin closes (so it never
 * outlives the benchmark, even if that one is killed) or on SIGTERM.
 */
import * as fs from "fs";
import { MockVllm, StubGate } from "../test/support/mocks";
import { TestPki } from "../test/support/pki";

interface Stoppable {
  stop(): Promise<void>;
}

async function main(): Promise<void> {
  const [kind, a, b] = process.argv.slice(2);
  let server: Stoppable & { port: number };
  if (kind === "mock") {
    const mock = new MockVllm({ tokens: Number(a), tokenIntervalMs: Number(b) });
    await mock.start();
    // The mock records every request for the e2e assertions; a benchmark does not need them.
    setInterval(() => mock.requests.splice(0), 1000).unref();
    server = mock;
  } else if (kind === "gate") {
    const pki = JSON.parse(fs.readFileSync(a, "utf8")) as TestPki;
    const gate = new StubGate(pki, b);
    await gate.start();
    setInterval(() => gate.requests.splice(0), 1000).unref();
    server = gate;
  } else {
    throw new Error(`servers: unknown kind '${kind}'; use mock or gate`);
  }
  const exit = (): void => {
    void server.stop().finally(() => process.exit(0));
  };
  process.stdin.on("end", exit);
  process.stdin.on("close", exit);
  process.stdin.resume();
  process.on("SIGTERM", exit);
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
