import { list, record, strings } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant } from "../types";
import { CIS, skipNonServices } from "./common";

export const healthcheck: PolicyRule = {
  meta: {
    id: "ZTA-CTR-013",
    title: "No healthcheck",
    explanation:
      "Without a healthcheck Docker reports a hung service as running: the edge keeps routing to it and `wait = true` cannot work. One-shot jobs (`must_run = false`) and never-started containers are not applicable.",
    fix: "Add a `healthcheck` that probes the service on its own loopback (e.g. `wget -q -O /dev/null http://127.0.0.1:8081/healthz`).",
    severity: RuleSeverity.LOW,
    references: [CIS("5.26", "Ensure that container health is checked at runtime")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNonServices(c);
    if (skip) return skip;
    const hc = list(c.config.healthcheck).map(record)[0];
    const test = hc ? strings(hc.test) : [];
    if (test.length === 0) return nonCompliant("no healthcheck");
    if (test[0].toUpperCase() === "NONE") return nonCompliant('healthcheck disabled (test = ["NONE"])');
    return compliant();
  },
};
