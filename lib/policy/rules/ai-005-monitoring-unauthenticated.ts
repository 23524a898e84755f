import { ServiceRole } from "../../identities";
import { envOf, filesInMountedVolumes, imageNameOf, list, roleOf, strings } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { OWASP_LLM } from "./common";

/** Which monitoring server a container runs: by the library's role label, else by image name. */
function monitoringKind(role: string | undefined, image: string): "prometheus" | "grafana" | undefined {
  if (role === ServiceRole.PROMETHEUS || (role === undefined && /(^|\/)prometheus[:@]/.test(image)))
    return "prometheus";
  if (role === ServiceRole.GRAFANA || (role === undefined && /(^|\/)grafana(-oss|-enterprise)?[:@]/.test(image)))
    return "grafana";
  return undefined;
}

/** What is wrong with a Prometheus web config, or [] when it demands credentials. */
export function prometheusWebConfigProblems(webConfig: string): string[] {
  const mtls = /client_auth_type:\s*"?RequireAndVerifyClientCert"?/.test(webConfig);
  const users =
    /basic_auth_users:\s*\n\s+\S+:\s*"?\$2[aby]?\$/.test(webConfig) ||
    /basic_auth_users:\s*\n\s+\S+:\s*"?\$\{/.test(webConfig);
  return mtls || users ? [] : ["its web config requires neither a verified client certificate nor a basic-auth user"];
}

/** `[section]` -> key -> value of an ini text (enough for grafana.ini). */
function iniValue(ini: string, section: string, key: string): string | undefined {
  let current = "";
  for (const raw of ini.split("\n")) {
    const line = raw.trim();
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1];
    const kv = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
    if (kv && current === section && kv[1] === key) return kv[2].trim();
  }
  return undefined;
}

export const monitoringUnauthenticated: PolicyRule = {
  meta: {
    id: "ZTA-AI-005",
    title: "Prometheus or Grafana reachable without authentication",
    explanation:
      "Prometheus' API and UI have no authentication unless a web config demands it, and Grafana ships with anonymous access available, self sign-up and admin/admin. Either one leaks the capacity, load patterns and model names of the inference service, and Prometheus' admin endpoints can delete data.",
    fix: "Use the Observability construct: Prometheus with --web.config.file (client certificate from the internal CA + bcrypt basic auth), Grafana with anonymous access and sign-up off, the admin password from a file, and neither on a host port.",
    severity: RuleSeverity.HIGH,
    references: [
      OWASP_LLM("LLM02", "Sensitive Information Disclosure"),
      "Prometheus documentation: HTTPS and authentication (web configuration)",
      "Grafana documentation: configure security",
    ],
    resourceTypes: ["docker_container"],
  },
  check(c, stack) {
    if (c.config.start === false) return notApplicable("created but never started (start = false)");
    const kind = monitoringKind(roleOf(c), imageNameOf(c, stack) ?? "");
    if (!kind) return notApplicable("neither Prometheus nor Grafana");
    const problems: string[] = [];
    if (list(c.config.ports).length > 0) problems.push(`the ${kind} container publishes a host port`);
    const files = filesInMountedVolumes(c, stack);
    if (kind === "prometheus") {
      const flag = strings(c.config.command).find((a) => a.startsWith("--web.config.file="));
      if (!flag) {
        problems.push("it runs without --web.config.file: its API and UI answer anyone");
      } else {
        const name = flag.slice("--web.config.file=".length).split("/").pop()!;
        const file = files.find((f) => f.name === name || f.name.endsWith(`/${name}`));
        if (!file) problems.push(`its web config ${name} is not among the files uploaded to its volumes`);
        else problems.push(...prometheusWebConfigProblems(file.content));
      }
    } else {
      const env = Object.fromEntries(envOf(c).map((e) => [e.name, e.value]));
      const ini = files.find((f) => f.name.endsWith(".ini"))?.content ?? "";
      const setting = (section: string, key: string): string | undefined =>
        env[`GF_${section.replace(/\./g, "_").toUpperCase()}_${key.toUpperCase()}`] ?? iniValue(ini, section, key);
      if (setting("auth.anonymous", "enabled") !== "false")
        problems.push("anonymous access is not turned off ([auth.anonymous] enabled = false)");
      if (setting("users", "allow_sign_up") !== "false")
        problems.push("self sign-up is not turned off ([users] allow_sign_up = false)");
      if (
        env.GF_SECURITY_ADMIN_PASSWORD__FILE === undefined &&
        env.GF_SECURITY_ADMIN_PASSWORD === undefined &&
        iniValue(ini, "security", "admin_password") === undefined
      ) {
        problems.push("no admin password is set: Grafana creates admin/admin");
      }
    }
    return problems.length ? nonCompliant(problems.join("; ")) : compliant();
  },
};
