import { hostPathsOf } from "../docker";
import { engineSocketIn } from "../../sensitive";
import { PolicyRule, RuleSeverity, compliant, nonCompliant } from "../types";
import { CIS, OWASP_LLM } from "./common";

export const dockerSocket: PolicyRule = {
  meta: {
    id: "ZTA-CTR-009",
    title: "Container engine socket mounted",
    explanation:
      "Whoever can talk to the Docker (or containerd, Podman) socket can start a privileged container that mounts `/`: the socket is root on the host, read-only mount or not.",
    fix: "Remove the mount. If something must manage containers, give it a narrowly filtered socket proxy, or run it outside the host's engine.",
    severity: RuleSeverity.HIGH,
    references: [
      CIS("5.31", "Ensure that the Docker socket is not mounted inside any containers"),
      OWASP_LLM("LLM06", "Excessive Agency"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const sockets = hostPathsOf(c).filter((p) => engineSocketIn(p) !== undefined);
    return sockets.length ? nonCompliant(`mounts ${sockets.join(", ")}`) : compliant();
  },
};
