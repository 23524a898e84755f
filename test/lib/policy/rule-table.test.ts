import * as fs from "fs";
import * as path from "path";
import { PolicyProfile } from "../../../lib/policy/profiles";
import { renderRuleTable, renderRulesDocument } from "../../../lib/policy/rule-table";
import { SecurityPolicy } from "../../../lib/policy/security-policy";
import { RuleSeverity } from "../../../lib/policy/types";

const ROOT = path.join(__dirname, "..", "..", "..");

const README = path.join(ROOT, "README.md");
const RULES = path.join(ROOT, "RULES.md");

describe("the documented rule table", () => {
  test("RULES.md is what the rules' metadata renders (`npm run docs` regenerates it)", () => {
    const fresh = renderRulesDocument(SecurityPolicy.rules);
    expect({ upToDate: fs.readFileSync(RULES, "utf8") === fresh, regenerateWith: "npm run docs" }).toEqual({
      upToDate: true,
      regenerateWith: "npm run docs",
    });
  });

  test("every rule has a table row and a section with its explanation, fix and references", () => {
    const doc = renderRulesDocument(SecurityPolicy.rules);
    const table = renderRuleTable(SecurityPolicy.rules);
    expect(table.split("\n")).toHaveLength(SecurityPolicy.rules.length + 2);
    for (const r of SecurityPolicy.rules) {
      expect(doc).toContain(`| [${r.id}](#${r.id.toLowerCase()}) | ${r.severity} |`);
      const section = doc.slice(doc.indexOf(`## ${r.id}\n`)).split("\n## ")[0];
      expect(section).toContain(r.explanation);
      expect(section).toContain(`Fix: ${r.fix}`);
      for (const ref of r.references) expect(section).toContain(`- ${ref}`);
    }
    expect(renderRuleTable([{ ...SecurityPolicy.rules[0], title: "a | b" }])).toContain("a \\| b");
  });

  test("README.md points to RULES.md instead of repeating the table", () => {
    const text = fs.readFileSync(README, "utf8");
    expect(text).toContain("[RULES.md](RULES.md)");
    expect(text).not.toContain(`| ${SecurityPolicy.rules[0].id} |`);
  });

  test("the documented profile table (docs/policy.md) matches the presets", () => {
    const text = fs.readFileSync(path.join(ROOT, "docs", "policy.md"), "utf8");
    for (const profile of PolicyProfile.ALL) {
      const row = text.split("\n").find((l) => l.startsWith(`| \`${profile.name}\``));
      const levels = [RuleSeverity.HIGH, RuleSeverity.MEDIUM, RuleSeverity.LOW].map((s) => profile.levelFor(s));
      expect(
        row
          ?.split("|")
          .slice(2, 5)
          .map((c) => c.trim()),
      ).toEqual(levels);
    }
  });
});
