import { envOf, isExpression, record, strings } from "../docker";
import { looksLikeSecretName, secretValueKind, secretsInCommand } from "../../sensitive";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM } from "./common";

export const secretInEnv: PolicyRule = {
  meta: {
    id: "ZTA-CTR-012",
    title: "Secret-looking literal in environment or command",
    explanation:
      "A literal secret in `env`, `command`, `entrypoint` or the healthcheck is written into the synthesized JSON, the Terraform state, version control and `docker inspect`, and is inherited by every child process (including model-generated code).",
    fix: "Pass secrets as files (upload into a config volume, mode 0400) from a sensitive Terraform variable or a generated value; never as a literal.",
    severity: RuleSeverity.HIGH,
    references: [
      CIS("4.10", "Ensure secrets are not stored in Dockerfiles"),
      OWASP_LLM("LLM02", "Sensitive Information Disclosure"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const env = envOf(c);
    const commands: [string, string[]][] = [
      ["command", strings(c.config.command)],
      ["entrypoint", strings(c.config.entrypoint)],
      ["healthcheck", strings(record(c.config.healthcheck).test)],
    ];
    if (env.length === 0 && commands.every(([, args]) => args.length === 0))
      return notApplicable("no environment or command");
    const found: string[] = [];
    for (const [where, args] of commands) found.push(...secretsInCommand(args).map((f) => `${where}: ${f}`));
    for (const { name, value } of env) {
      if (value === "" || isExpression(value)) continue;
      const kind = secretValueKind(value);
      // The value is never echoed: the report itself must not leak it.
      if (kind) found.push(`${name} holds what looks like ${kind}`);
      else if (looksLikeSecretName(name)) found.push(`${name} (a secret-looking name) holds a literal value`);
    }
    return found.length ? nonCompliant(found.join("; ")) : compliant();
  },
};
