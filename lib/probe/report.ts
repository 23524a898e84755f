/**
 * What a probe run produced, and its three renderings: the live table (one line per check as it
 * finishes), a JSON report and a JUnit XML report (for CI dashboards).
 */
import { Check, CheckGroup } from "./checks";

export type CheckStatus = "PASS" | "FAIL" | "SKIP";

export interface CheckResult {
  readonly id: string;
  readonly group: CheckGroup;
  readonly title: string;
  readonly status: CheckStatus;
  readonly sent: string;
  readonly expected: string;
  readonly got: string;
  readonly ms: number;
}

export interface ProbeReport {
  readonly target: string;
  readonly startedAt: string;
  readonly ms: number;
  readonly requests: number;
  readonly results: CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

export function skipped(check: Check, why: string): CheckResult {
  return {
    id: check.id,
    group: check.group,
    title: check.title,
    status: "SKIP",
    sent: "nothing",
    expected: "-",
    got: why,
    ms: 0,
  };
}

const ID_WIDTH = 24;

export function tableHeader(): string {
  return `${"RESULT".padEnd(6)}  ${"CHECK".padEnd(ID_WIDTH)}  SENT -> EXPECTED -> GOT`;
}

/** One line per check; a failure's evidence is never cut. */
export function tableLine(r: CheckResult): string {
  return `${r.status.padEnd(6)}  ${r.id.padEnd(ID_WIDTH)}  ${r.sent} -> ${r.expected} -> ${r.got}`;
}

export function summaryLine(report: ProbeReport): string {
  const verdict = report.failed > 0 ? "FAILED" : "PASSED";
  const skips = report.skipped > 0 ? `, ${report.skipped} skipped (see SKIP lines: what to pass to run them)` : "";
  return `${verdict}: ${report.passed} passed, ${report.failed} failed${skips}; ${report.requests} requests in ${(report.ms / 1000).toFixed(1)} s`;
}

export function toJson(report: ProbeReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function xml(text: string): string {
  return (
    text
      .replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!)
      // XML 1.0 has no way to write most control characters.
      // eslint-disable-next-line no-control-regex -- matching them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "?")
  );
}

export function toJunit(report: ProbeReport): string {
  const cases = report.results.map((r) => {
    const open = `    <testcase classname="zta-probe.${xml(r.group)}" name="${xml(r.id)}: ${xml(r.title)}" time="${(r.ms / 1000).toFixed(3)}"`;
    const evidence = `sent: ${r.sent}\nexpected: ${r.expected}\ngot: ${r.got}`;
    if (r.status === "PASS") return `${open}>\n      <system-out>${xml(evidence)}</system-out>\n    </testcase>`;
    if (r.status === "SKIP") return `${open}>\n      <skipped message="${xml(r.got)}"/>\n    </testcase>`;
    return `${open}>\n      <failure message="${xml(`expected ${r.expected}, got ${r.got}`)}">${xml(evidence)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="zta-probe" tests="${report.results.length}" failures="${report.failed}" skipped="${report.skipped}" time="${(report.ms / 1000).toFixed(3)}">`,
    `  <testsuite name="zta-probe ${xml(report.target)}" tests="${report.results.length}" failures="${report.failed}" skipped="${report.skipped}" timestamp="${report.startedAt}" time="${(report.ms / 1000).toFixed(3)}">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
