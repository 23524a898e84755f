import { MODEL_REVISION_LABEL, ServiceRole } from "../../identities";
import { isCommitSha } from "../../validate";
import { isExpression, isInferenceContainer, labels, roleOf, strings } from "../docker";
import { PolicyRule, ResourceView, RuleSeverity, StackView, compliant, nonCompliant, notApplicable } from "../types";
import { OWASP_LLM } from "./common";

/** `--revision X` / `--revision=X` in the container's command or entrypoint. */
function revisionArg(c: ResourceView): string | undefined {
  const args = [...strings(c.config.entrypoint), ...strings(c.config.command)];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--revision") return args[i + 1];
    if (args[i].startsWith("--revision=")) return args[i].slice("--revision=".length);
  }
  return undefined;
}

function isModelContainer(c: ResourceView, stack: StackView): boolean {
  return roleOf(c) === ServiceRole.MODEL_FETCH || isInferenceContainer(c, stack);
}

export const modelRevision: PolicyRule = {
  meta: {
    id: "ZTA-AI-004",
    title: "Model revision not pinned",
    explanation:
      "A Hugging Face branch or tag (`main`) moves: a restart can load different weights, tokenizer or remote code than the ones you reviewed. Pin the 40-hex commit sha, in the `zta.model-revision` label (the library's containers) or vLLM's `--revision` argument.",
    fix: "Set model.revision to a commit sha (the repository's 'Files and versions' history lists them), and pass it as `--revision` (and `--tokenizer-revision`, `--code-revision`).",
    severity: RuleSeverity.MEDIUM,
    references: [OWASP_LLM("LLM03", "Supply Chain"), OWASP_LLM("LLM04", "Data and Model Poisoning")],
    resourceTypes: ["docker_container"],
  },
  check(c, stack) {
    if (!isModelContainer(c, stack)) return notApplicable("not an inference or model-fetch container");
    if (c.config.start === false) return notApplicable("created but never started (start = false)");
    const found = [labels(c)[MODEL_REVISION_LABEL], revisionArg(c)].filter((r): r is string => r !== undefined);
    if (found.length === 0)
      return nonCompliant("no zta.model-revision label and no --revision argument: vLLM follows the default branch");
    const bad = found.filter((r) => !isExpression(r) && !isCommitSha(r));
    if (bad.length)
      return nonCompliant(`revision ${bad.map((r) => JSON.stringify(r)).join(", ")} is not a 40-hex commit sha`);
    return found.every(isExpression) ? notApplicable("the revision is a Terraform expression") : compliant();
  },
};
