import { RuleMetadata } from "./types";

/**
 * RULES.md, rendered from the rules' own metadata so nothing about a rule is written twice.
 * `npm run docs` (scripts/rule-table.ts --write RULES.md) refreshes it; a test fails when the
 * committed file differs from what this renders.
 */

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Markdown heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to dashes. */
function anchor(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");
}

/** One row per rule: id (linked to its section), severity, resource types, title. */
export function renderRuleTable(rules: RuleMetadata[]): string {
  return [
    "| ID | Severity | Checks | Title |",
    "| --- | --- | --- | --- |",
    ...rules.map(
      (r) =>
        `| [${r.id}](#${anchor(r.id)}) | ${r.severity} | ${r.resourceTypes.map((t) => `\`${t}\``).join(", ")} | ${cell(r.title)} |`,
    ),
  ].join("\n");
}

/** The whole RULES.md: the table, then one section per rule with why, the fix and the references. */
export function renderRulesDocument(rules: RuleMetadata[]): string {
  const sorted = [...rules].sort((a, b) => a.id.localeCompare(b.id));
  const sections = sorted.map((r) =>
    [
      `## ${r.id}`,
      "",
      `**${r.title}** — severity ${r.severity}; checks ${r.resourceTypes.map((t) => `\`${t}\``).join(", ")}.`,
      "",
      r.explanation,
      "",
      `Fix: ${r.fix}`,
      "",
      "References:",
      "",
      ...r.references.map((ref) => `- ${ref}`),
    ].join("\n"),
  );
  return [
    "# SecurityPolicy rules",
    "",
    "<!-- Generated from the rules' metadata by `npm run docs` (scripts/rule-table.ts); do not edit by hand. -->",
    "",
    "Every rule `SecurityPolicy` checks, with why it matters and the fix. Severities map to finding levels",
    "per profile (docs/policy.md); add your own rules with `additionalRules` (examples/custom-rule.ts).",
    "",
    renderRuleTable(sorted),
    "",
    ...sections.map((s) => `${s}\n`),
  ].join("\n");
}
