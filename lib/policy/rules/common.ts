import { isJob, isNeverStarted } from "../docker";
import { ResourceView, RuleOutcome, notApplicable } from "../types";

/** Shared reference strings, so every rule cites the same documents the same way. */
export const CIS = (control: string, title: string): string => `CIS Docker Benchmark v1.2.0 ${control}: ${title}`;
export const OWASP_LLM = (entry: string, title: string): string =>
  `OWASP Top 10 for LLM Applications 2025 ${entry}: ${title}`;

/** Not applicable to a container that is created but never started (a config loader). */
export function skipNeverStarted(c: ResourceView): RuleOutcome | undefined {
  return isNeverStarted(c) ? notApplicable("created but never started (start = false)") : undefined;
}

/** Not applicable to never-started containers and one-shot jobs (service-only rules). */
export function skipNonServices(c: ResourceView): RuleOutcome | undefined {
  return (
    skipNeverStarted(c) ??
    (isJob(c) ? notApplicable("a one-shot job (must_run = false): it exits by design") : undefined)
  );
}
