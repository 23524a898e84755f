import { parse } from "yaml";
import {
  LOKI_DATA_DIR,
  LOKI_HTTP_PORT,
  LOKI_GRPC_PORT,
  renderLokiConfig,
  renderLokiGatewayNginxConfig,
} from "../../lib/loki";

// Loki cannot run here: its config is checked against the keys Loki 3.7's docs and config_wrapper.go name (read).
describe("renderLokiConfig", () => {
  const config = parse(renderLokiConfig({ retentionDays: 365, schemaFrom: "2025-01-01" }));

  test("one tenant, listening on the loopback only, no usage reports", () => {
    expect(config.auth_enabled).toBe(false);
    expect(config.server).toMatchObject({
      http_listen_address: "127.0.0.1",
      http_listen_port: LOKI_HTTP_PORT,
      grpc_listen_address: "127.0.0.1",
      grpc_listen_port: LOKI_GRPC_PORT,
    });
    expect(config.common.instance_addr).toBe("127.0.0.1");
    expect(config.analytics).toEqual({ reporting_enabled: false });
  });

  test("filesystem storage on the volume, a TSDB index with schema v13 and a 24 h period", () => {
    expect(config.common.storage.filesystem).toEqual({
      chunks_directory: `${LOKI_DATA_DIR}/chunks`,
      rules_directory: `${LOKI_DATA_DIR}/rules`,
    });
    expect(config.common.ring.kvstore.store).toBe("inmemory");
    expect(config.schema_config.configs).toEqual([
      {
        from: "2025-01-01",
        store: "tsdb",
        object_store: "filesystem",
        schema: "v13",
        index: { prefix: "index_", period: "24h" },
      },
    ]);
  });

  test("retention is the compactor's, with the delete request store Loki 3 requires, for the trail's days", () => {
    expect(config.compactor).toMatchObject({
      retention_enabled: true,
      delete_request_store: "filesystem",
      working_directory: `${LOKI_DATA_DIR}/compactor`,
    });
    expect(config.limits_config.retention_period).toBe(`${365 * 24}h`);
    expect(
      parse(renderLokiConfig({ retentionDays: 90, schemaFrom: "2025-01-01" })).limits_config.retention_period,
    ).toBe("2160h");
  });

  test("a schema start that is not a date is refused", () => {
    expect(() => renderLokiConfig({ retentionDays: 90, schemaFrom: "yesterday" })).toThrow(/YYYY-MM-DD/);
  });
});

describe("renderLokiGatewayNginxConfig", () => {
  const base = {
    listenPort: 3100,
    healthPort: 8081,
    lokiUpstream: "127.0.0.1:3101",
    configDir: "/etc/zta",
    runDir: "/tmp",
    accessLog: "/dev/stdout",
    errorLog: "/dev/stderr",
  };
  const writer = "CN=zta-audit-collector,OU=zta-services,O=cdktf-zero-trust-ai";
  const reader = "CN=zta-grafana,OU=zta-services,O=cdktf-zero-trust-ai";

  test("roles come from the subject alone; the path checked is the path passed on", () => {
    const conf = renderLokiGatewayNginxConfig({ ...base, writerSubjects: [writer], readerSubjects: [reader] });
    expect(conf).toContain(`"${writer}" writer;`);
    expect(conf).toContain(`"${reader}" reader;`);
    expect(conf).toContain("proxy_pass http://zta_loki$uri$is_args$args;");
    expect(conf).toContain("ssl_verify_client on;");
  });

  test("no writer, or one subject both writing and reading, is refused", () => {
    expect(() => renderLokiGatewayNginxConfig({ ...base, writerSubjects: [], readerSubjects: [reader] })).toThrow(
      /no writer/,
    );
    expect(() => renderLokiGatewayNginxConfig({ ...base, writerSubjects: [writer], readerSubjects: [writer] })).toThrow(
      /both write and read/,
    );
  });
});
