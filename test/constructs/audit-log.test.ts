import { Aspects } from "cdktf";
import { AUDIT_RETENTION_LABEL, AuditLog, PolicyProfile, SecureInference, SecurityPolicy, TrustGraph } from "../../index";
import { AUDIT_PORT, DAEMON_IDENTITY } from "../../lib/audit";
import { AUDIT_COLLECTOR_IDENTITY } from "../../constructs/audit-log";
import { RECORD_JOB_SCRIPT } from "../../lib/audit-events";
import { CONFIG_HASH_LABEL } from "../../lib/identities";
import { containerNamed, expectConfigError, hardeningGaps, inferenceProps, label, resources, runningContainers, stackWithProviders, synth, uploaded } from "../helpers";

function auditedStack(props: Partial<ConstructorParameters<typeof AuditLog>[2]> = {}, withPolicy = true) {
  const stack = stackWithProviders();
  const ai = new SecureInference(stack, "inference", inferenceProps(stack));
  const audit = new AuditLog(stack, "audit", { ca: ai.ca, ...props });
  const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
  if (withPolicy) Aspects.of(stack).add(policy);
  return { stack, ai, audit, policy, json: synth(stack) };
}

describe("AuditLog", () => {
  const { json, policy, stack } = auditedStack();
  const collector = containerNamed(json, "zta-audit-collector");
  const pruner = containerNamed(json, "zta-audit-retention");

  test("the production policy passes with the audit trail in the stack; collector and pruner have no hardening gap", () => {
    expect(policy.results).toHaveLength(1);
    const open = policy.results[0].findings.filter((f) => !f.suppression && f.level === "error");
    expect(open).toEqual([]);
    expect(hardeningGaps(collector)).toEqual([]);
    expect(hardeningGaps(pruner)).toEqual([]);
  });

  test("every other started container ships its logs over syslog+TLS to 127.0.0.1, non-blocking, after the collector", () => {
    const others = runningContainers(json).filter((c) => !String(c.name).startsWith("zta-audit-"));
    expect(others.length).toBeGreaterThan(3);
    for (const c of others) {
      expect({ name: c.name, driver: c.log_driver }).toEqual({ name: c.name, driver: "syslog" });
      expect(c.log_opts).toMatchObject({
        "syslog-address": `tcp+tls://127.0.0.1:${AUDIT_PORT}`,
        "syslog-format": "rfc5424micro",
        mode: "non-blocking",
        "max-buffer-size": "4m",
        tag: "{{.Name}}",
      });
      // The daemon reads the certificates from the daemon-TLS volume on its own filesystem.
      expect(c.log_opts["syslog-tls-cert"]).toMatch(/^\$\{docker_volume\.[^}]+\.mountpoint\}\/client\.crt$/);
      expect(c.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^docker_container\.audit_collector/)]));
    }
  });

  test("the collector keeps json-file (it cannot log to itself) and the never-started loaders are left alone", () => {
    expect(collector.log_driver).toBe("json-file");
    expect(pruner.log_driver).toBe("json-file");
    for (const loader of Object.values(resources(json, "docker_container")).filter((c) => c.start === false)) {
      expect(loader.log_driver).not.toBe("syslog");
    }
  });

  test("the collector is published on 127.0.0.1 only, waits healthy, and its only caller is the host with mTLS", () => {
    expect(collector.ports).toEqual([expect.objectContaining({ internal: AUDIT_PORT, external: AUDIT_PORT, ip: "127.0.0.1" })]);
    expect(collector.wait).toBe(true);
    // Its own bridge only (published ports need a non-internal one), with no NAT out.
    const nets = resources(json, "docker_network");
    const ingress = Object.entries(nets).find(([, n]) => n.name === "zta-audit-ingress")!;
    // ...and the network of its one flow out: to the Loki gateway.
    const toLoki = Object.entries(nets).find(([, n]) => n.name === "zta-audit-collector-to-zta-audit-loki")!;
    expect(toLoki[1].internal).toBe(true);
    expect(collector.networks_advanced).toEqual([{ name: `\${docker_network.${ingress[0]}.name}` }, { name: `\${docker_network.${toLoki[0]}.name}` }]);
    expect(ingress[1]).toMatchObject({ internal: false, options: { "com.docker.network.bridge.enable_ip_masquerade": "false" } });
    const others = runningContainers(json).filter((c) => c !== collector);
    expect(others.filter((c) => JSON.stringify(c.networks_advanced ?? []).includes(ingress[0]))).toEqual([]);
    const flows = TrustGraph.of(stack).flows.filter((f) => f.callee === "zta-audit-collector");
    expect(flows).toEqual([expect.objectContaining({ caller: "host", port: AUDIT_PORT, authentication: "mtls" })]);
    expect(JSON.parse(label(collector, "zta.callers")!)).toEqual([{ caller: "host", port: AUDIT_PORT, auth: "mtls" }]);
  });

  test("no container mounts docker.sock, and the pruner has no network", () => {
    expect(JSON.stringify(json)).not.toContain("docker.sock");
    expect(pruner.network_mode).toBe("none");
  });

  test("the config requires a CA-issued client certificate and admits only the daemon's subject", () => {
    const conf = uploaded(json, "zta-audit-collector-config-loader", "syslog-ng.conf");
    expect(conf).toContain("peer-verify(required-trusted)");
    expect(conf).toContain(`trusted-dn("CN=${DAEMON_IDENTITY.commonName}, OU=zta-services, O=cdktf-zero-trust-ai")`);
    expect(JSON.stringify(resources(json, "tls_cert_request"))).toContain(`"common_name":"${DAEMON_IDENTITY.commonName}"`);
    expect(uploaded(json, "zta-audit-daemon-tls-loader", "client.key")).toContain("private_key_pem");
    const key = containerNamed(json, "zta-audit-daemon-tls-loader").upload.find((u: { file: string }) => u.file.endsWith("/client.key"));
    expect(key.permissions).toBe("0400");
  });

  test("the change-record job: hardened, no network, routed here, one entry per audited container with its image and config hash", () => {
    const job = containerNamed(json, "zta-audit-changes");
    expect(hardeningGaps(job)).toEqual([]);
    expect(job).toMatchObject({ network_mode: "none", attach: true, must_run: false, log_driver: "syslog", entrypoint: ["/bin/sh", "-c", RECORD_JOB_SCRIPT] });
    // One record (one argument, one line) per audited container.
    const others = runningContainers(json).filter((c) => !String(c.name).startsWith("zta-audit-"));
    const records = job.command as string[];
    expect(records).toHaveLength(others.length);
    for (const r of records) expect(r).toMatch(/^\$\{jsonencode\(\{"event" = "config.deployed", "stack" = "[^"]+", "service" = "[^"]+", "image" = docker_container\.[^.]+\.image, "config_sha256" = /);
    expect(records.map((r) => /"service" = "([^"]+)"/.exec(r)![1]).sort()).toEqual(others.map((c) => c.name).sort());
    // A service's hash is its config volume's, the same expression as its zta.config-sha256 label.
    const edgeHash = label(containerNamed(json, "inference-edge"), CONFIG_HASH_LABEL) as string;
    expect(edgeHash).toMatch(/^\$\{sha256\(jsonencode\(docker_container\..*\.upload\)\)\}$/);
    expect(records).toContain(`\${jsonencode({"event" = "config.deployed", "stack" = "test", "service" = "inference-edge", "image" = docker_container.inference_edge_container_44E27172.image, "config_sha256" = ${edgeHash.slice(2, -1)}})}`);
  });

  test("retention: the production default is 365 days, in the pruner's script and the collector's label", () => {
    expect(uploaded(json, "zta-audit-retention-config-loader", "prune.sh")).toContain("days=365");
    expect(label(collector, AUDIT_RETENTION_LABEL)).toBe("365");
  });
});

describe("AuditLog retention per profile", () => {
  test.each([
    [PolicyProfile.HOMELAB, 90],
    [PolicyProfile.TEAM, 90],
    [PolicyProfile.PRODUCTION, 365],
  ])("%p defaults to %i days", (profile, days) => {
    const { json } = auditedStack({ profile }, false);
    expect(uploaded(json, "zta-audit-retention-config-loader", "prune.sh")).toContain(`days=${days}`);
  });

  test("more than the minimum is accepted", () => {
    const { json } = auditedStack({ profile: PolicyProfile.TEAM, retentionDays: 400 }, false);
    expect(label(containerNamed(json, "zta-audit-collector"), AUDIT_RETENTION_LABEL)).toBe("400");
  });

  test.each([
    [{ profile: PolicyProfile.PRODUCTION, retentionDays: 90 }, "retentionDays", /90.*at least 365/],
    [{ profile: PolicyProfile.TEAM, retentionDays: 30 }, "retentionDays", /30.*at least 90/],
    [{ retentionDays: 400.5 }, "retentionDays", /whole number/],
    [{ retentionDays: 5000 }, "retentionDays", /3650/],
    [{ profile: "regulated" as never }, "profile", /regulated.*homelab, team, production/],
    [{ hostPort: 514 }, "hostPort", /514.*1024/],
    [{ bufferSize: "lots" }, "bufferSize", /lots.*4m/],
    [{ pruneIntervalSeconds: 5 }, "pruneIntervalSeconds", /5.*60 to 86400/],
    [{ name: "Audit Log" }, "name", /Audit Log/],
    [{ image: "balabit/syslog-ng:latest" }, "image", /latest.*digest/],
  ])("%j is a ConfigError on %s", (props, prop, fragment) => {
    expectConfigError(() => {
      const stack = stackWithProviders();
      const ai = new SecureInference(stack, "inference", inferenceProps(stack));
      return new AuditLog(stack, "audit", { ca: ai.ca, ...(props as object) });
    }, prop, fragment);
  });
});

describe("AuditLog and the production policy, the other way", () => {
  test("a container routed to the collector with a docker.sock bind is refused (ZTA-CTR-009)", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    const audit = new AuditLog(stack, "audit", { ca: ai.ca });
    audit.collector.container.addOverride("mounts", [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }]);
    Aspects.of(stack).add(new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false }));
    expect(() => synth(stack)).toThrow(/ZTA-CTR-009/);
  });
});

describe("AuditLog's Loki store", () => {
  const { json, audit } = auditedStack();
  const loki = containerNamed(json, "zta-audit-loki");
  const gateway = containerNamed(json, "zta-audit-loki-gateway");

  test("Loki and its gateway are hardened, publish nothing, and Loki is on internal networks only", () => {
    expect(hardeningGaps(loki)).toEqual([]);
    expect(hardeningGaps(gateway)).toEqual([]);
    expect(loki.ports).toBeUndefined();
    expect(gateway.network_mode).toMatch(/^container:/);
    const nets = resources(json, "docker_network");
    for (const n of loki.networks_advanced) {
      const net = Object.values(nets).find((x) => `\${docker_network.${Object.keys(nets).find((k) => nets[k] === x)}.name}` === n.name)!;
      expect({ network: net.name, internal: net.internal }).toEqual({ network: net.name, internal: true });
    }
    expect(loki.user).toBe("10001:10001");
    expect(loki.image).toBeDefined();
  });

  test("the collector pushes to the gateway's name with its own client certificate; the config carries the retention", () => {
    const conf = uploaded(json, "zta-audit-collector-config-loader", "syslog-ng.conf");
    expect(conf).toContain('url("https://zta-audit-loki:3100/loki/api/v1/push")');
    expect(conf).toContain("destination(d_loki);");
    expect(uploaded(json, "zta-audit-loki-config-loader", "loki.yaml")).toContain('retention_period: "8760h"');
    expect(audit.lokiUrl).toBe("https://zta-audit-loki:3100");
  });

  test("without a reader the gateway lets the collector push and nobody read; its read lines are audited", () => {
    const conf = uploaded(json, "zta-audit-loki-gateway-config-loader", "nginx.conf");
    expect(conf).toContain('"CN=zta-audit-collector,OU=zta-services,O=cdktf-zero-trust-ai" writer;');
    expect(conf).not.toMatch(/ reader;/);
    expect(gateway.log_driver).toBe("syslog");
  });

  test("loki: false leaves the day files only", () => {
    const off = auditedStack({ loki: false }).json;
    const names = runningContainers(off).map((c) => c.name);
    expect(names.filter((n) => String(n).includes("loki"))).toEqual([]);
    expect(uploaded(off, "zta-audit-collector-config-loader", "syslog-ng.conf")).not.toContain("d_loki");
  });

  test.each([
    [{ loki: "yes" }, "loki"],
    [{ lokiSchemaFrom: "2025-13-45" }, "lokiSchemaFrom"],
    [{ lokiMemoryMb: 64 }, "lokiMemoryMb"],
    [{ lokiImage: "grafana/loki:latest" }, "lokiImage"],
  ])("%j is a ConfigError on %s", (props, prop) => {
    expectConfigError(() => auditedStack(props as never, false).stack, prop);
  });

  test("a reader cannot use the collector's identity, and loki: false has no reader", () => {
    const { audit: a, ai } = auditedStack({}, false);
    expect(() => a.allowLokiReader(a.collector, AUDIT_COLLECTOR_IDENTITY)).toThrow(/writes only/);
    const { audit: off } = auditedStack({ loki: false }, false);
    expect(() => off.allowLokiReader(ai.edge.service, AUDIT_COLLECTOR_IDENTITY)).toThrow(/loki/);
  });
});
