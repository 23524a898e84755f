import * as fs from "fs";
import * as path from "path";
import { PolicyProfile } from "../../../lib/policy/profiles";
import { RULES_END, RULES_START, renderRuleTable, replaceRuleTable } from "../../../lib/policy/rule-table";
import { SecurityPolicy } from "../../../lib/policy/security-policy";
import { RuleSeverity } from "../../../lib/policy/types";

const ROOT = path.join(__dirname, "..", "..", "..");

const README = path.join(ROOT, "README.md");

describe("the documented rule table", () => {
  test("README.md carries the table, equal to the one rendered from the rules (scripts/rule-table.ts --write README.md refreshes it)", () => {
    const text = fs.readFileSync(README, "utf8");
    expect(text).toContain(RULES_START);
    expect(text).toBe(replaceRuleTable(text, SecurityPolicy.rules));
  });

  test("one row per rule, pipes escaped", () => {
    const table = renderRuleTable(SecurityPolicy.rules);
    expect(table.split("\n")).toHaveLength(SecurityPolicy.rules.length + 2);
    expect(renderRuleTable([{ ...SecurityPolicy.rules[0], title: "a | b" }])).toContain("a \\| b");
  });

  test("a document without markers is an error, not a silent no-op", () => {
    expect(() => replaceRuleTable("# README\n", SecurityPolicy.rules)).toThrow(RULES_START);
    expect(replaceRuleTable(`x\n${RULES_START}\nold\n${RULES_END}\ny`, SecurityPolicy.rules)).not.toContain("old");
  });

  test("the documented profile table matches the presets", () => {
    const text = fs.readFileSync(README, "utf8");
    for (const profile of PolicyProfile.ALL) {
      const row = text.split("\n").find((l) => l.startsWith(`| \`${profile.name}\``));
      const levels = [RuleSeverity.HIGH, RuleSeverity.MEDIUM, RuleSeverity.LOW].map((s) => profile.levelFor(s));
      expect(row?.split("|").slice(2, 5).map((c) => c.trim())).toEqual(levels);
    }
  });
});
