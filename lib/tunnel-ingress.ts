/**
 * Invariants of a Cloudflare Tunnel ingress list, as one pure check the construct (and a policy
 * rule) can run: cloudflared matches rules top-down, so a catch-all must come last and be a 404,
 * and every other rule must name its hostname (a rule without one matches everything after it).
 */
export interface IngressRule {
  readonly hostname?: string;
  readonly service: string;
  /** Whether the rule makes cloudflared validate Cloudflare Access JWTs (origin_request.access.required). */
  readonly accessRequired?: boolean;
}

export const CATCH_ALL_SERVICE = "http_status:404";

/** Human-readable violations; empty when the list is sound. */
export function ingressProblems(rules: IngressRule[]): string[] {
  const problems: string[] = [];
  if (rules.length < 2) problems.push("at least one routed rule and the catch-all are needed");
  const last = rules[rules.length - 1];
  if (!last || last.hostname !== undefined || last.service !== CATCH_ALL_SERVICE) {
    problems.push(`the last rule must be the catch-all { service: "${CATCH_ALL_SERVICE}" } without a hostname`);
  }
  rules.slice(0, -1).forEach((rule, i) => {
    if (rule.hostname === undefined) problems.push(`rule ${i} has no hostname: it would catch every request`);
    if (rule.service === CATCH_ALL_SERVICE) problems.push(`rule ${i} is a catch-all before the end`);
    if (rule.accessRequired !== true) problems.push(`rule ${i} (${rule.hostname}) does not require a valid Access JWT`);
  });
  return problems;
}
