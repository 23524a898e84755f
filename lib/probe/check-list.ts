import { Check } from "./checks";

/**
 * The list of probe checks in docs/probe.md, rendered from the check table (lib/probe/checks.ts) so it is
 * never written twice. `npx ts-node scripts/probe-checks.ts --write docs/probe.md` refreshes it between
 * the markers; a test fails when the committed list differs from what this renders.
 */

export const CHECKS_START = "<!-- probe-checks:start -->";
export const CHECKS_END = "<!-- probe-checks:end -->";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

const NEED_FLAGS: Record<string, string> = {
  session: "`--token` (or `--no-oidc`)",
  oidc: "an OIDC gate",
  "scraper-bundle": "`--scraper-bundle`",
  sidecar: "`--sidecar`",
  chat: "`--chat`",
  "audit-log": "`--audit-log`",
};

export function renderCheckList(checks: Check[]): string {
  return [
    "| Check | Group | Sends | Expects | Why it matters | Runs with |",
    "| --- | --- | --- | --- | --- | --- |",
    ...checks.map(
      (c) =>
        `| \`${c.id}\` | ${c.group} | ${cell(c.sends)} | ${cell(c.expects)} | ${cell(c.meaning)} | ${c.needs.length ? c.needs.map((n) => NEED_FLAGS[n]).join(", ") : "always"} |`,
    ),
  ].join("\n");
}

/** `document` with the text between the markers replaced by the list; an error if a marker is missing. */
export function replaceCheckList(document: string, checks: Check[]): string {
  const start = document.indexOf(CHECKS_START);
  const end = document.indexOf(CHECKS_END);
  if (start < 0 || end < start) throw new Error(`the document has no ${CHECKS_START} ... ${CHECKS_END} block`);
  return `${document.slice(0, start + CHECKS_START.length)}\n${renderCheckList(checks)}\n${document.slice(end)}`;
}
