import * as fs from "fs";
import * as path from "path";

/**
 * Every link a reader or a comment gives into the repository resolves: relative Markdown links
 * (and same-file `#anchors`) in README.md, RULES.md and docs/*.md, repository paths in backticks
 * there, and every `docs/...` path in the TypeScript sources.
 */

const ROOT = path.join(__dirname, "..", "..");
const SOURCE_DIRS = ["lib", "constructs", "stacks", "examples", "scripts", "bench", "test"];
/** Other projects' documentation that our comments cite by its path in their repository. */
const UPSTREAM_DOCS: Record<string, string> = {
  "docs/design/metrics.md": "vLLM",
  "docs/proxy/virtual_keys.md": "LiteLLM",
};
/** Generated and git-ignored: named in the docs, absent from a fresh clone. */
const GENERATED = /^(bench\/results|cdktf\.out|dist)\//;

function markdownFiles(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md"));
  return ["README.md", "RULES.md", ...docs.map((f) => `docs/${f}`)];
}

function sourceFiles(): string[] {
  const found = ["index.ts"];
  for (const dir of SOURCE_DIRS) {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      const rel = path.relative(ROOT, path.join(e.parentPath, e.name));
      // This file names broken paths on purpose, to show the checks fail.
      if (e.isFile() && rel.endsWith(".ts") && !GENERATED.test(rel) && rel !== path.relative(ROOT, __filename))
        found.push(rel);
    }
  }
  return found;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fence = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (m)
      anchors.add(
        m[1]
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, "")
          .replace(/ /g, "-"),
      );
  }
  return anchors;
}

/** The broken links of one Markdown file (`file` relative to the repository root). */
export function brokenLinks(file: string, text: string, exists: (rel: string) => boolean): string[] {
  const broken: string[] = [];
  const withoutCode = text.replace(/```[\s\S]*?```/g, "");
  for (const [, target] of withoutCode.matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
    const [where, anchor] = target.split("#");
    if (where === "") {
      if (!anchorsOf(text).has(anchor)) broken.push(`${target} (no such heading in ${file})`);
      continue;
    }
    const rel = path.normalize(path.join(path.dirname(file), where));
    if (!exists(rel)) broken.push(target);
  }
  for (const [, rel] of withoutCode.matchAll(
    /`((?:lib|constructs|stacks|examples|scripts|bench|test|docs)\/[\w./-]+\.(?:ts|md|sh|svg|json))`/g,
  )) {
    if (!GENERATED.test(rel) && !(rel in UPSTREAM_DOCS) && !exists(rel)) broken.push(rel);
  }
  return broken;
}

/** `docs/...` paths named in a source file. */
export function docsPathsIn(source: string): string[] {
  return [...source.matchAll(/\bdocs\/[\w./-]*\w/g)].map((m) => m[0]).filter((p) => !(p in UPSTREAM_DOCS));
}

const existsInRepo = (rel: string) => fs.existsSync(path.join(ROOT, rel));

describe("links into the repository resolve", () => {
  test.each(markdownFiles())("%s: every relative link, anchor and repository path", (file) => {
    expect(brokenLinks(file, fs.readFileSync(path.join(ROOT, file), "utf8"), existsInRepo)).toEqual([]);
  });

  test("every docs/... path in the TypeScript sources names a file or folder", () => {
    const missing = sourceFiles().flatMap((f) =>
      docsPathsIn(fs.readFileSync(path.join(ROOT, f), "utf8"))
        .filter((p) => !existsInRepo(p))
        .map((p) => `${f}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  test("the README stays a few screens: deep dives live in docs/", () => {
    const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").length;
    expect({ lines, atMost: 350 }).toEqual({ lines: Math.min(lines, 350), atMost: 350 });
  });

  test("the checks find what is broken (so a pass means something)", () => {
    const doc =
      "# Title\n\n## A section (with parens)\n\n[ok](#a-section-with-parens) [gone](#nope) [file](docs/none.md) [web](https://x.example) `lib/none.ts`\n```\n[in code](ignored.md)\n```\n";
    expect(brokenLinks("README.md", doc, () => false)).toEqual([
      "#nope (no such heading in README.md)",
      "docs/none.md",
      "lib/none.ts",
    ]);
    expect(brokenLinks("docs/x.md", "[up](../README.md)", (rel) => rel === "README.md")).toEqual([]);
    expect(docsPathsIn("// see docs/exposure.md. And docs/api/. vLLM's docs/design/metrics.md")).toEqual([
      "docs/exposure.md",
      "docs/api",
    ]);
    expect(markdownFiles()).toEqual(expect.arrayContaining(["README.md", "docs/exposure.md", "docs/benchmarks.md"]));
  });
});
