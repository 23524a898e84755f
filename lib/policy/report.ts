import { Finding } from "./engine";
import { PolicyRule } from "./types";

/**
 * The machine-readable reports every synth writes next to the stack's cdk.tf.json:
 * `security-report.json` (this library's own shape) and `security-report.sarif` (SARIF 2.1.0,
 * for code-scanning tools such as GitHub code scanning).
 */

export const JSON_REPORT_FILE = "security-report.json";
export const SARIF_REPORT_FILE = "security-report.sarif";
export const TOOL_NAME = "cdktf-zero-trust-ai SecurityPolicy";
const TOOL_URI = "https://github.com/cdktf-zero-trust-ai/cdktf-zero-trust-ai#security-policy";

export interface ReportInput {
  readonly stack: string;
  readonly profile: string;
  readonly rules: PolicyRule[];
  readonly findings: Finding[];
  /** Resources checked, for the summary. */
  readonly resourcesChecked: number;
}

export function jsonReport(input: ReportInput): Record<string, unknown> {
  const open = input.findings.filter((f) => f.suppression === undefined);
  return {
    tool: TOOL_NAME,
    stack: input.stack,
    profile: input.profile,
    summary: {
      resourcesChecked: input.resourcesChecked,
      errors: open.filter((f) => f.level === "error").length,
      warnings: open.filter((f) => f.level === "warning").length,
      suppressed: input.findings.length - open.length,
    },
    findings: input.findings.map((f) => ({
      ruleId: f.ruleId,
      title: f.title,
      level: f.level,
      status: f.suppression ? "suppressed" : "open",
      path: f.path,
      resource: f.resource,
      detail: f.detail,
      fix: f.fix,
      ...(f.suppression ? { suppression: { reason: f.suppression.reason, on: f.suppression.path } } : {}),
      ...(f.ruleError ? { ruleError: true } : {}),
    })),
    rules: input.rules.map((r) => ({ ...r.meta })),
  };
}

export function sarifReport(input: ReportInput): Record<string, unknown> {
  const ruleIndex = new Map(input.rules.map((r, i) => [r.meta.id, i]));
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: TOOL_NAME,
            informationUri: TOOL_URI,
            rules: input.rules.map((r) => ({
              id: r.meta.id,
              name: r.meta.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) =>
                c ? c.toUpperCase() : "",
              ),
              shortDescription: { text: r.meta.title },
              fullDescription: { text: r.meta.explanation },
              help: { text: `${r.meta.fix}\n\nReferences:\n${r.meta.references.map((x) => `- ${x}`).join("\n")}` },
              defaultConfiguration: {
                level: r.meta.severity === "low" ? "note" : r.meta.severity === "medium" ? "warning" : "error",
              },
              properties: { tags: ["security", r.meta.severity], severity: r.meta.severity },
            })),
          },
        },
        properties: { stack: input.stack, profile: input.profile },
        results: input.findings.map((f) => ({
          ruleId: f.ruleId,
          ...(ruleIndex.has(f.ruleId) ? { ruleIndex: ruleIndex.get(f.ruleId) } : {}),
          level: f.level === "error" ? "error" : "warning",
          message: { text: `${f.title}: ${f.detail}. Fix: ${f.fix}` },
          locations: [
            {
              // The synthesized stack file sits next to this report.
              physicalLocation: { artifactLocation: { uri: "cdk.tf.json" } },
              logicalLocations: [{ fullyQualifiedName: f.path, name: f.resource, kind: "resource" }],
            },
          ],
          ...(f.suppression ? { suppressions: [{ kind: "inSource", justification: f.suppression.reason }] } : {}),
        })),
      },
    ],
  };
}
