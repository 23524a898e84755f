import { hostPathsOf, isExpression } from "../docker";
import { engineSocketIn, sensitiveHostPath } from "../../sensitive";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM } from "./common";

export const sensitiveHostPathMounted: PolicyRule = {
  meta: {
    id: "ZTA-CTR-010",
    title: "Sensitive host path mounted",
    explanation:
      "Host directories such as `/`, `/etc`, `/root`, `/home` and each home directory itself, the shared `/tmp`, `~/.ssh`, `~/.aws`, `~/.config/gcloud`, `~/.kube`, `/var/run`, `/proc` or `/var/lib/docker` hold credentials and host configuration; a container that can read them can impersonate you, and one that can write them owns the host.",
    fix: "Mount only a dedicated project directory (e.g. /srv/agent/repo), read-only where possible; pass credentials as files from a secret store, not by mounting your home directory.",
    severity: RuleSeverity.HIGH,
    references: [
      CIS("5.5", "Ensure sensitive host system directories are not mounted on containers"),
      OWASP_LLM("LLM02", "Sensitive Information Disclosure"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    // A socket file itself is ZTA-CTR-009's finding; do not report it twice. Directories that
    // contain a socket (/var/run, /) are reported by both: they expose more than the socket.
    // A path Terraform computes cannot be judged here (SandboxRunner accepts a variable workspace).
    const paths = hostPathsOf(c).filter((p) => !isExpression(p));
    if (paths.length === 0)
      return hostPathsOf(c).length ? notApplicable("every host path is a Terraform expression") : compliant();
    const bad = paths
      .filter((p) => !(engineSocketIn(p) !== undefined && p.endsWith(".sock")))
      .map((p) => ({ p, why: sensitiveHostPath(p) }))
      .filter((x) => x.why !== undefined);
    return bad.length ? nonCompliant(bad.map((x) => `${x.p}: ${x.why}`).join("; ")) : compliant();
  },
};
