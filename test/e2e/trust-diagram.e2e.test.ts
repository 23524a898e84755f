/**
 * The trust-zone diagram through the real entry path (`ts-node stacks/main.ts`, as cdktf.json runs it)
 * and a real browser: Debian's chromium, headless, file:// URLs only, every network lookup refused.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderTrustZoneSvg, trustZoneDot } from "../../lib/trust-diagram";
import { fixtureReport, fixtureStack } from "../lib/trust-diagram.fixture";
import { makeTempDir, requireBinary } from "../support/processes";
import { countPixels, readPng } from "./png";

const ROOT = path.join(__dirname, "..", "..");
const COMMITTED_SVG = path.join(ROOT, "docs", "trust-zones.svg");

/** Not the page's white (anti-aliasing leaves near-white pixels at edges; those do not count). */
const ink = ([r, g, b]: number[]) => Math.min(r, g, b) < 235;
/** The diagram's red (#c62828) and its anti-aliased neighbours; not its orange (#e65100, #ef6c00). */
const red = ([r, g, b]: number[]) => Math.abs(r - 198) < 30 && g < 80 && b < 80 && Math.abs(g - b) < 25;

/** A screenshot of an SVG file in headless Chromium, sized to the picture. */
function screenshot(svgFile: string): ReturnType<typeof readPng> {
  const chromium = requireBinary("chromium");
  const svg = fs.readFileSync(svgFile, "utf8");
  const [w, h] = ["width", "height"].map((a) =>
    Number(new RegExp(`<svg[^>]*\\b${a}="([\\d.]+)pt"`).exec(svg)?.[1] ?? 800),
  );
  const size = [Math.ceil((w * 4) / 3) + 20, Math.ceil((h * 4) / 3) + 20];
  const dir = makeTempDir("zta-chromium-");
  const png = path.join(dir, "shot.png");
  const args = [
    "--headless",
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    `--user-data-dir=${path.join(dir, "profile")}`,
    `--window-size=${size.join(",")}`,
    `--screenshot=${png}`,
    `file://${svgFile}`,
  ];
  const run = spawnSync(chromium, args, { encoding: "utf8", timeout: 90_000 });
  if (run.status !== 0 || !fs.existsSync(png))
    throw new Error(`chromium failed (status ${run.status}):\n${run.stderr}`);
  const image = readPng(fs.readFileSync(png));
  expect([image.width, image.height]).toEqual(size);
  return image;
}

describe("the default stack's diagram, from the app entry", () => {
  const outdir = makeTempDir("zta-main-");
  let stackDir: string;

  beforeAll(() => {
    const run = spawnSync(
      process.execPath,
      [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(ROOT, "stacks", "main.ts")],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, CDKTF_OUTDIR: outdir },
        timeout: 120_000,
      },
    );
    expect([run.status, run.stderr]).toEqual([0, ""]);
    stackDir = path.join(outdir, "stacks", "zero-trust-ai");
  }, 150_000);

  test("main.ts writes trust-zones.dot and .svg next to cdk.tf.json and security-report.json", () => {
    expect(fs.readdirSync(stackDir).sort()).toEqual(
      [
        "cdk.tf.json",
        "runbooks",
        "security-report.json",
        "security-report.sarif",
        "trust-zones.dot",
        "trust-zones.svg",
      ].sort(),
    );
    const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
    const report = JSON.parse(fs.readFileSync(path.join(stackDir, "security-report.json"), "utf8"));
    expect(fs.readFileSync(path.join(stackDir, "trust-zones.dot"), "utf8")).toBe(
      trustZoneDot(json, report, "zero-trust-ai"),
    );
  });

  test("the SVG names every container and network of the stack", () => {
    const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
    const svg = fs.readFileSync(path.join(stackDir, "trust-zones.svg"), "utf8").replace(/&#45;/g, "-");
    const names = [
      ...Object.values<any>(json.resource.docker_container),
      ...Object.values<any>(json.resource.docker_network),
    ].map((r) => r.name);
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const name of names)
      expect([name, svg.includes(`>${name}<`) || svg.includes(`via ${name} (loader)`)]).toEqual([name, true]);
  });

  test("docs/trust-zones.svg (shown in the README) is the diagram main.ts draws today", () => {
    const fresh = fs.readFileSync(path.join(stackDir, "trust-zones.svg"), "utf8");
    const committed = fs.existsSync(COMMITTED_SVG) ? fs.readFileSync(COMMITTED_SVG, "utf8") : "";
    // On a difference: `npm run docs:diagram` regenerates it.
    expect({ upToDate: committed === fresh, regenerateWith: "npm run docs:diagram" }).toEqual({
      upToDate: true,
      regenerateWith: "npm run docs:diagram",
    });
  });

  test("renders in headless Chromium to a picture that is not blank, with nothing red in it", () => {
    const png = screenshot(path.join(stackDir, "trust-zones.svg"));
    const area = png.width * png.height;
    expect(countPixels(png, ink)).toBeGreaterThan(area * 0.01);
    expect(countPixels(png, red)).toBe(0);
  });
});

describe("pixels of a rendered diagram", () => {
  const dir = makeTempDir("zta-diagram-e2e-");

  test("a 0.0.0.0 publish and an open finding show red in the browser", async () => {
    const file = path.join(dir, "exposed.svg");
    fs.writeFileSync(
      file,
      await renderTrustZoneSvg(trustZoneDot(fixtureStack({ edgeIp: "0.0.0.0" }), fixtureReport(), "exposed")),
    );
    const png = screenshot(file);
    expect(countPixels(png, ink)).toBeGreaterThan(png.width * png.height * 0.01);
    expect(countPixels(png, red)).toBeGreaterThan(200);
  });

  test("the blank check can fail: an empty white SVG counts no ink", () => {
    const file = path.join(dir, "blank.svg");
    fs.writeFileSync(
      file,
      '<svg xmlns="http://www.w3.org/2000/svg" width="300pt" height="200pt"><rect width="100%" height="100%" fill="white"/></svg>',
    );
    const png = screenshot(file);
    expect(countPixels(png, ink)).toBe(0);
  });
});
