import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { TerraformStack } from "cdktf";
import { renderGrafanaIni } from "../../../../lib/grafana";
import { renderPrometheusWebConfig } from "../../../../lib/prometheus";
import { monitoringUnauthenticated as rule } from "../../../../lib/policy/rules/ai-005-monitoring-unauthenticated";
import { OutcomeStatus, PINNED, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

const WEB = renderPrometheusWebConfig({
  configDir: "/etc/zta",
  grafanaPasswordBcrypt: "$2a$10$" + "a".repeat(53),
  selfPasswordBcrypt: "$2a$10$" + "b".repeat(53),
});
const INI = renderGrafanaIni({
  provisioningDir: "/etc/grafana-provisioning",
  dataDir: "/var/lib/grafana",
  publicHostname: "grafana.example.internal",
  publicPort: 443,
  adminEmail: "devops@example.com",
  autoSignUp: true,
});
const PROM_IMAGE = "prom/prometheus:v3.5.0@sha256:" + "1".repeat(64);
const GRAFANA_IMAGE = "grafana/grafana:12.1.1@sha256:" + "2".repeat(64);

/** A service with `files` uploaded into its config volume by a never-started loader, as ConfigVolume does. */
function service(
  stack: TerraformStack,
  id: string,
  image: string,
  files: Record<string, string>,
  overrides: Record<string, unknown> = {},
): void {
  const volume = new Volume(stack, `${id}-volume`, { name: `${id}-config` });
  new Container(stack, `${id}-loader`, {
    name: `${id}-loader`,
    image: PINNED,
    start: false,
    volumes: [{ volumeName: volume.name, containerPath: "/zta-load" }],
    upload: Object.entries(files).map(([name, content]) => ({ file: `/zta-load/${name}`, content })),
  });
  compliantContainer(stack, id, {
    image,
    volumes: [{ volumeName: volume.name, containerPath: "/etc/zta", readOnly: true }],
    ...overrides,
  });
}

const PROM_COMMAND = ["--config.file=/etc/zta/prometheus.yml", "--web.config.file=/etc/zta/web-config.yml"];
const GRAFANA_ENV = [
  "GF_PATHS_CONFIG=/etc/zta/grafana.ini",
  "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/zta/admin-password",
];

describe("ZTA-AI-005 monitoring without authentication", () => {
  test("the library's Prometheus (mTLS + basic auth web config) and Grafana (no anonymous, no sign-up, admin password file) are compliant", () => {
    const stack = newStack();
    service(stack, "prom", PROM_IMAGE, { "web-config.yml": WEB }, { command: PROM_COMMAND });
    service(stack, "grafana", GRAFANA_IMAGE, { "grafana.ini": INI }, { env: GRAFANA_ENV });
    expect(statusOf(rule, stack, "prom")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "grafana")).toBe(OutcomeStatus.COMPLIANT);
    compliantContainer(stack, "other");
    expect(statusOf(rule, stack, "other")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });

  test("Prometheus without a web config, with one that demands nothing, or on a host port is non-compliant", () => {
    const stack = newStack();
    service(
      stack,
      "noflag",
      PROM_IMAGE,
      { "web-config.yml": WEB },
      { command: ["--config.file=/etc/zta/prometheus.yml"] },
    );
    service(
      stack,
      "open",
      PROM_IMAGE,
      {
        "web-config.yml": 'tls_server_config:\n  cert_file: "/etc/zta/server.crt"\n  key_file: "/etc/zta/server.key"\n',
      },
      { command: PROM_COMMAND },
    );
    service(stack, "missing", PROM_IMAGE, {}, { command: PROM_COMMAND });
    service(
      stack,
      "published",
      PROM_IMAGE,
      { "web-config.yml": WEB },
      { command: PROM_COMMAND, ports: [{ internal: 9090, external: 9090, ip: "127.0.0.1" }] },
    );
    const o = outcomes(rule, stack);
    expect(o.noflag.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.noflag.detail).toMatch(/--web.config.file/);
    expect(o.open.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.open.detail).toMatch(/neither a verified client certificate nor a basic-auth user/);
    expect(o.missing.detail).toMatch(/not among the files/);
    expect(o.published.detail).toMatch(/host port/);
  });

  test("Grafana with anonymous access, sign-up, or the default admin/admin is non-compliant, by ini or by environment", () => {
    const stack = newStack();
    service(
      stack,
      "anon",
      GRAFANA_IMAGE,
      { "grafana.ini": INI },
      { env: [...GRAFANA_ENV, "GF_AUTH_ANONYMOUS_ENABLED=true"] },
    );
    service(
      stack,
      "signup",
      GRAFANA_IMAGE,
      { "grafana.ini": INI.replace("allow_sign_up = false", "allow_sign_up = true") },
      { env: GRAFANA_ENV },
    );
    service(
      stack,
      "default-admin",
      GRAFANA_IMAGE,
      { "grafana.ini": INI },
      { env: ["GF_PATHS_CONFIG=/etc/zta/grafana.ini"] },
    );
    service(stack, "bare", GRAFANA_IMAGE, {});
    const o = outcomes(rule, stack);
    expect(o.anon.detail).toMatch(/anonymous/);
    expect(o.signup.detail).toMatch(/sign-up/);
    expect(o["default-admin"].detail).toMatch(/admin\/admin/);
    expect(o.bare.detail).toMatch(/anonymous.*sign-up.*admin\/admin/);
    for (const id of ["anon", "signup", "default-admin", "bare"])
      expect(o[id].status).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
