import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");
const COMMITTED = path.join(ROOT, "docs", "api");

/** Every file under `dir`, relative, sorted. */
function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe("the API reference (docs/api, typedoc from index.ts)", () => {
  test("is what `npm run docs` generates from the current TSDoc", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "zta-api-"));
    try {
      // typedoc.json's settings, only the output elsewhere; typedoc is ESM, so it runs as its own process.
      const run = spawnSync(
        process.execPath,
        [path.join(ROOT, "node_modules", "typedoc", "bin", "typedoc"), "--out", out],
        { cwd: ROOT, encoding: "utf8" },
      );
      expect({ status: run.status, output: `${run.stdout}${run.stderr}`.trim() }).toEqual({ status: 0, output: "" });
      const fresh = files(out);
      expect(fresh).toContain("classes/SecurityPolicy.md");
      const stale = [...new Set([...fresh, ...files(COMMITTED)])].filter((f) => {
        const a = path.join(out, f);
        const b = path.join(COMMITTED, f);
        return !fs.existsSync(a) || !fs.existsSync(b) || fs.readFileSync(a, "utf8") !== fs.readFileSync(b, "utf8");
      });
      // On a difference: `npm run docs` regenerates docs/api.
      expect({ stale, regenerateWith: "npm run docs" }).toEqual({ stale: [], regenerateWith: "npm run docs" });
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
