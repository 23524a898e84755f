import { AUDIT_RETENTION_DAYS, pruneHealthcheck, renderCollectorConfig, renderPruneScript, syslogDriverOptions } from "../../lib/audit";

const conf = renderCollectorConfig({ port: 6514, configDir: "/etc/zta", dataDir: "/var/lib/zta-audit", clientSubject: "CN=zta-docker-daemon, OU=zta-services, O=x" });
const script = renderPruneScript({ dataDir: "/var/lib/zta-audit", retentionDays: 365, intervalSeconds: 3600, heartbeatFile: "/tmp/hb" });

describe("audit renderers", () => {
  test("nothing rendered starts a Terraform interpolation (`${` or `%{`): the text is uploaded as a Terraform string", () => {
    for (const text of [conf, script, ...pruneHealthcheck({ heartbeatFile: "/tmp/hb", intervalSeconds: 60 })]) {
      expect(text).not.toMatch(/[$%]\{/);
    }
  });

  test("the collector admits TLS clients with a CA-issued certificate of one subject, and writes day files by receive date", () => {
    expect(conf).toContain('transport("tls")');
    expect(conf).toContain("peer-verify(required-trusted)");
    expect(conf).toContain('trusted-dn("CN=zta-docker-daemon, OU=zta-services, O=x")');
    expect(conf).toContain('file("/var/lib/zta-audit/$R_YEAR-$R_MONTH-$R_DAY.jsonl"');
    expect(conf).not.toMatch(/peer-verify\(optional/);
  });

  test("the pruner keeps the profile's days and deletes by the date in the name", () => {
    expect(script).toContain("days=365");
    expect(script).toMatch(/basename "\$f" \.jsonl/);
    expect(script).not.toContain("-mtime");
  });

  // No syslog-tls-skip-verify key (toEqual is exact): moby turns verification off on its mere presence, even "false".
  test("driver options: TLS with verification, non-blocking with a bounded buffer, the container name as tag", () => {
    expect(syslogDriverOptions({ address: "127.0.0.1:6514", tlsDir: "/v", maxBufferSize: "4m" })).toEqual({
      "syslog-address": "tcp+tls://127.0.0.1:6514",
      "syslog-format": "rfc5424micro",
      "syslog-facility": "daemon",
      "syslog-tls-ca-cert": "/v/ca.crt",
      "syslog-tls-cert": "/v/client.crt",
      "syslog-tls-key": "/v/client.key",
      tag: "{{.Name}}",
      mode: "non-blocking",
      "max-buffer-size": "4m",
    });
  });

  test("retention minimums follow the field guide: 90 days for solo and small teams, 365 for production", () => {
    expect(AUDIT_RETENTION_DAYS).toEqual({ homelab: 90, team: 90, production: 365 });
  });
});
