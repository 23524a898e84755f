import { RuleMetadata } from "./types";

/**
 * The README's rule table, rendered from the rules' own metadata so it is never written twice.
 * `npx ts-node scripts/rule-table.ts --write README.md` refreshes it between the markers; a test
 * fails when a committed table differs from what this renders.
 */

export const RULES_START = "<!-- rules:start -->";
export const RULES_END = "<!-- rules:end -->";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function renderRuleTable(rules: RuleMetadata[]): string {
  const lines = [
    "| ID | Severity | Checks | Title | Fix | References |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rules.map(
      (r) =>
        `| ${r.id} | ${r.severity} | ${r.resourceTypes.map((t) => `\`${t}\``).join(", ")} | ${cell(r.title)} | ${cell(r.fix)} | ${cell(r.references.join("; "))} |`,
    ),
  ];
  return lines.join("\n");
}

/** `document` with the text between the markers replaced by the table; an error if a marker is missing. */
export function replaceRuleTable(document: string, rules: RuleMetadata[]): string {
  const start = document.indexOf(RULES_START);
  const end = document.indexOf(RULES_END);
  if (start < 0 || end < start) throw new Error(`the document has no ${RULES_START} ... ${RULES_END} block`);
  return `${document.slice(0, start + RULES_START.length)}\n${renderRuleTable(rules)}\n${document.slice(end)}`;
}
