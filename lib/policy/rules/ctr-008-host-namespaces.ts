import { PolicyRule, RuleSeverity, compliant, nonCompliant } from "../types";
import { CIS, OWASP_LLM } from "./common";

const MODES: [string, string][] = [
  ["network_mode", "network"],
  ["pid_mode", "PID"],
  ["ipc_mode", "IPC"],
  ["userns_mode", "user"],
];

export const hostNamespaces: PolicyRule = {
  meta: {
    id: "ZTA-CTR-008",
    title: "Host namespace shared (network, PID, IPC or user)",
    explanation:
      "`host` network mode puts the container on the host's interfaces (every loopback service, no port isolation); `host` PID lets it see and signal host processes; `host` IPC shares host shared memory; `host` userns disables user-namespace remapping.",
    fix: 'Remove `network_mode = "host"`, `pid_mode = "host"`, `ipc_mode = "host"` and `userns_mode = "host"`; use a Docker network and published ports.',
    severity: RuleSeverity.HIGH,
    references: [
      CIS("5.9", "Ensure that the host's network namespace is not shared"),
      CIS("5.15", "Ensure that the host's process namespace is not shared"),
      CIS("5.16", "Ensure that the host's IPC namespace is not shared"),
      CIS("5.30", "Ensure that the host's user namespaces are not shared"),
      OWASP_LLM("LLM06", "Excessive Agency"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const shared = MODES.filter(([attr]) => c.config[attr] === "host").map(
      ([attr, what]) => `${what} (${attr} = "host")`,
    );
    return shared.length ? nonCompliant(`shares the host's ${shared.join(", ")}`) : compliant();
  },
};
