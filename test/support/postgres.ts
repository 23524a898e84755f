/**
 * Debian's PostgreSQL 15 for the e2e suites (scripts/install-test-deps.sh installs postgresql-15). initdb
 * refuses root, so the server and its tools run as `nobody`.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const RUN_AS = "nobody";

/** Fails the suite (never skips) when one of the PostgreSQL 15 tools is missing. */
export function requirePostgres(tools: string[]): void {
  for (const b of tools) {
    if (!fs.existsSync(path.join(PG_BIN, b)))
      throw new Error(
        `PostgreSQL 15 is needed: ${PG_BIN}/${b} (apt-get install postgresql-15; scripts/install-test-deps.sh does)`,
      );
  }
}

/** Runs `args` as RUN_AS with a clean HOME, PG_BIN first on PATH (or `pathEnv`), and `env`; bounded (120 s). */
export function asNobody(
  args: string[],
  env: Record<string, string> = {},
  pathEnv = `${PG_BIN}:${process.env.PATH}`,
): SpawnSyncReturns<string> {
  return spawnSync(
    "runuser",
    [
      "-u",
      RUN_AS,
      "--",
      "env",
      `PATH=${pathEnv}`,
      "HOME=/nonexistent",
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...args,
    ],
    {
      encoding: "utf8",
      timeout: 120000,
    },
  );
}
