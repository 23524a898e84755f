import { Aspects } from "cdktf";
import { ApiGateway, ApiGatewayProps, AuditLog, ConfigError, PolicyProfile, SecurityPolicy } from "../../index";
import { containerNamed, expectConfigError, hardeningGaps, label, resources, synth, uploaded, REVISION } from "../helpers";
import { inferenceStack } from "../exposure-helpers";

const MODEL = { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, servedModelName: "qwen-0.5b" };
const APPS = [
  { name: "nightly-summaries", models: ["qwen-0.5b"], monthlyBudgetUsd: 20, requestsPerMinute: 30 },
  { name: "ide-assistant", models: ["qwen-0.5b"], requestsPerMinute: 120, tokensPerMinute: 200000, rotateAfterDays: 90 },
];
const PRICED = [{ name: "qwen-0.5b", inputCostPerMillionTokensUsd: 0.1, outputCostPerMillionTokensUsd: 0.4 }];

function gatewayStack(overrides: Partial<ApiGatewayProps> = {}, inferenceOverrides = {}) {
  const { stack, ai } = inferenceStack({ model: MODEL, ...inferenceOverrides });
  const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
  Aspects.of(stack).add(policy);
  const gw = new ApiGateway(stack, "gateway", { inference: ai, hostname: "api.example.internal", apps: APPS, models: PRICED, ...overrides });
  return { stack, ai, gw, policy, json: synth(stack) };
}

/** Docker network names a container joins (references resolved to the networks' names). */
function networksOf(json: ReturnType<typeof synth>, container: Record<string, any>): string[] {
  const nets = resources(json, "docker_network");
  return (container.networks_advanced ?? []).map((n: { name: string }) => Object.entries(nets).find(([id]) => n.name.includes(`.${id}.`))?.[1].name ?? n.name);
}

describe("ApiGateway: the service model and the production policy", () => {
  const { json, policy } = gatewayStack();
  const names = ["inference-gateway", "inference-gateway-proxy", "inference-gateway-db", "inference-gateway-keys"];

  test("passes the production policy: no open finding on any gateway container, no hardening gap", () => {
    const open = policy.results.flatMap((r) => r.findings).filter((f) => !f.suppression && f.path.includes("/gateway/"));
    expect(open).toEqual([]);
    for (const n of names) expect(hardeningGaps(containerNamed(json, n))).toEqual([]);
  });

  test("broken copies fail: a writable root or an added capability is a hardening gap", () => {
    const litellm = containerNamed(json, "inference-gateway");
    expect(hardeningGaps({ ...litellm, read_only: false }).join("\n")).toMatch(/ZTA-CTR-005/);
    const db = containerNamed(json, "inference-gateway-db");
    expect(hardeningGaps({ ...db, capabilities: [{ drop: ["ALL"], add: ["SYS_ADMIN"] }] }).join("\n")).toMatch(/ZTA-CTR-003/);
  });

  test("LiteLLM runs as root only with the catalog's reason; Postgres as uid 70; the reconcile job as nobody", () => {
    const findings = policy.results.flatMap((r) => r.findings).filter((f) => f.ruleId === "ZTA-CTR-011" && f.path.includes("/gateway/"));
    expect(findings).toEqual([expect.objectContaining({ suppression: expect.objectContaining({ reason: expect.stringContaining("Prisma") }) })]);
    expect(containerNamed(json, "inference-gateway-db").user).toBe("70:70");
    expect(containerNamed(json, "inference-gateway-keys").user).toBe("65534:65534");
  });

  test("nothing of the gateway publishes a host port", () => {
    for (const n of names) expect(containerNamed(json, n).ports).toBeUndefined();
  });

  test("Postgres: one network, shared with LiteLLM alone; its callers label names LiteLLM only", () => {
    const db = containerNamed(json, "inference-gateway-db");
    expect(networksOf(json, db)).toEqual(["inference-gateway-to-inference-gateway-db"]);
    const members = Object.values(resources(json, "docker_container")).filter((c) =>
      networksOf(json, c).includes("inference-gateway-to-inference-gateway-db"),
    );
    expect(members.map((c) => c.name).sort()).toEqual(["inference-gateway", "inference-gateway-db"]);
    expect(JSON.parse(label(db, "zta.callers")!)).toEqual([
      { caller: "inference-gateway", port: 5432, auth: "network-only", network: "inference-gateway-to-inference-gateway-db" },
    ]);
    const network = Object.values(resources(json, "docker_network")).find((n) => n.name === "inference-gateway-to-inference-gateway-db");
    expect(network?.internal).toBe(true);
  });

  test("the proxy and the reconcile job live in LiteLLM's namespace (by container id); LiteLLM owns the networks", () => {
    for (const n of ["inference-gateway-proxy", "inference-gateway-keys"]) {
      expect(containerNamed(json, n).network_mode).toMatch(/^container:\$\{docker_container\.[^.]+\.id\}$/);
      expect(containerNamed(json, n).networks_advanced).toBeUndefined();
    }
    expect(networksOf(json, containerNamed(json, "inference-gateway")).sort()).toEqual([
      "inference-edge-to-inference-gateway",
      "inference-gateway-to-inference-gateway-db",
      "inference-gateway-to-inference-vllm-0",
    ]);
  });

  test("LiteLLM listens on loopback only; admin UI and docs off; the salt key comes from its file, not the environment", () => {
    const c = containerNamed(json, "inference-gateway");
    const script = c.entrypoint.join(" ");
    expect(script).toContain("--host 127.0.0.1 --port 4000");
    expect(script).toContain('export LITELLM_SALT_KEY="$(cat /etc/zta/salt-key)"');
    expect(c.env).toEqual(expect.arrayContaining(["DISABLE_ADMIN_UI=True", "NO_DOCS=True"]));
    expect(c.env.join("\n")).not.toMatch(/SALT|MASTER|DATABASE_URL|random_password/);
    expect(uploaded(json, "inference-gateway-config-loader", "salt-key")).toMatch(/^\$\{random_password\.[^.]+\.result\}$/);
  });

  test("config.yaml: generated sk- master key and the database URL, both references; telemetry off, /metrics authenticated", () => {
    const config = uploaded(json, "inference-gateway-config-loader", "config.yaml");
    expect(config).toMatch(/master_key: "sk-\$\{random_password\.gateway_master-key_[^.]+\.result\}"/);
    expect(config).toMatch(
      /database_url: "postgresql:\/\/litellm:\$\{random_password\.gateway_db-password_[^.]+\.result\}@inference-gateway-db:5432\/litellm"/,
    );
    expect(config).toContain("require_auth_for_metrics_endpoint: true");
    expect(config).toContain("telemetry: false");
    expect(config).toContain("add_user_information_to_llm_headers: true");
    expect(config).toContain('model: "hosted_vllm/qwen-0.5b"');
    expect(config).toContain('api_base: "http://127.0.0.1:8090/v1"');
    expect(config).toContain("input_cost_per_token: 1e-7");
    const passwords = resources(json, "random_password");
    const master = Object.entries(passwords).find(([id]) => id.includes("master-key"))![1];
    expect(master).toMatchObject({ length: 48, special: false });
  });

  test("Postgres gets its password as a file (POSTGRES_PASSWORD_FILE), its data on a named volume", () => {
    const db = containerNamed(json, "inference-gateway-db");
    expect(db.env).toEqual(["POSTGRES_USER=litellm", "POSTGRES_DB=litellm", "POSTGRES_PASSWORD_FILE=/etc/zta/db-password"]);
    expect(uploaded(json, "inference-gateway-db-config-loader", "db-password")).toMatch(/^\$\{random_password\.gateway_db-password_[^.]+\.result\}$/);
    expect(db.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ container_path: "/var/lib/postgresql/data", read_only: false })]));
    expect(db.tmpfs["/var/run/postgresql"]).toMatch(/uid=70,gid=70/);
  });

  test("keys.json: each app's alias, models, 30-day budget, RPM, TPM and lifetime; the job holds the master key", () => {
    const keys = JSON.parse(uploaded(json, "inference-gateway-keys-config-loader", "keys.json"));
    expect(keys.managed_by).toBe("cdktf-zero-trust-ai");
    expect(keys.keys).toEqual([
      expect.objectContaining({ alias: "nightly-summaries", models: ["qwen-0.5b"], maxBudget: 20, budgetDuration: "30d", rpmLimit: 30, tpmLimit: null, duration: null }),
      expect.objectContaining({ alias: "ide-assistant", maxBudget: null, budgetDuration: null, rpmLimit: 120, tpmLimit: 200000, duration: "90d" }),
    ]);
    for (const k of keys.keys) expect(k.key).toMatch(/^sk-\$\{random_password\.gateway_key-[a-z-]+_[^.]+\.result\}$/);
    expect(uploaded(json, "inference-gateway-keys-config-loader", "master-key")).toMatch(/^sk-\$\{random_password\.gateway_master-key/);
    expect(containerNamed(json, "inference-gateway-keys").entrypoint).toEqual(["python", "/etc/zta/reconcile.py"]);
    expect(containerNamed(json, "inference-gateway-keys").must_run).toBe(false);
  });

  test("rotation: a key with rotateAfterDays is replaced when its clock (a self-signed cert with early renewal) is", () => {
    const passwords = resources(json, "random_password");
    const rotated = Object.entries(passwords).find(([id]) => id.includes("key-ide-assistant"))![1];
    expect(rotated.keepers.rotation).toMatch(/^\$\{tls_self_signed_cert\.gateway_rotation-clock-ide-assistant_[^.]+\.validity_start_time\}$/);
    const clock = Object.entries(resources(json, "tls_self_signed_cert")).find(([id]) => id.includes("rotation-clock-ide-assistant"))![1];
    expect(clock).toMatchObject({ validity_period_hours: 2160, early_renewal_hours: 216 });
    const plain = Object.entries(passwords).find(([id]) => id.includes("key-nightly-summaries"))![1];
    expect(plain.keepers).toBeUndefined();
  });

  test("every app key and app bundle is a sensitive output, named after the app", () => {
    const outputs = json.output!;
    for (const name of ["gateway_key_nightly_summaries", "gateway_key_ide_assistant", "gateway_app_nightly_summaries_bundle", "gateway_app_ide_assistant_bundle"]) {
      expect(outputs[name]?.sensitive).toBe(true);
    }
    expect(outputs.gateway_endpoint.value).toBe("https://api.example.internal/v1");
    expect(JSON.stringify(resources(json, "tls_cert_request"))).toContain('"common_name":"app-nightly-summaries"');
  });
});

describe("ApiGateway: the path in and out", () => {
  const { json, ai, gw } = gatewayStack();

  test("the sidecar admits CN=zta-gateway and trusts its identity header (gateway:<app>)", () => {
    const conf = ai.sidecars[0].nginxConfig;
    expect(conf).toContain('"CN=zta-gateway,OU=zta-services,O=cdktf-zero-trust-ai" gateway;');
    expect(conf).toContain('"~^gateway:(?<id>.+)$" $id;');
  });

  test("the gateway proxy: edge subject only on 8443, OpenAI routes only, alias -> identity, unknown alias 403", () => {
    const conf = uploaded(json, "inference-gateway-proxy-config-loader", "nginx.conf");
    expect(conf).toBe(gw.nginxConfig);
    expect(conf).toContain('"CN=zta-edge,OU=zta-services,O=cdktf-zero-trust-ai" 1;');
    expect(conf).toContain("location = /v1/chat/completions {");
    expect(conf).not.toMatch(/location [=~]? ?\/key/);
    expect(conf).toContain('"nightly-summaries" "gateway:nightly-summaries";');
    expect(conf).toContain("map $http_x_litellm_user_api_key_alias $zta_app_identity {");
    expect(conf).toMatch(/if \(\$zta_app_identity = ""\) \{\s+return 403;/);
    expect(conf).toContain("underscores_in_headers on;");
    expect(conf).toContain("proxy_ssl_certificate /etc/zta/client.crt;");
    expect(conf.match(/proxy_buffering off;/g)?.length).toBe(2);
  });

  test("the edge: the gateway site needs a client certificate and skips the gate; the API site keeps forward_auth", () => {
    const caddyfile = ai.edge.caddyfile;
    const site = caddyfile.slice(caddyfile.indexOf("https://api.example.internal:8443 {"));
    const apiSite = caddyfile.slice(caddyfile.indexOf("https://ai.example.internal:8443 {"), caddyfile.indexOf("https://api.example.internal:8443 {"));
    expect(site).toContain("mode require_and_verify");
    expect(site).not.toContain("forward_auth");
    expect(site).not.toContain("/oauth2/*");
    expect(site).toContain("reverse_proxy inference-gateway:8443");
    expect(site).toContain("tls_server_name gateway.zta.internal");
    expect(apiSite).toContain("forward_auth");
    expect(JSON.parse(label(containerNamed(json, "inference-gateway-proxy"), "zta.callers")!)).toEqual([
      expect.objectContaining({ caller: "inference-edge", port: 8443, auth: "mtls", identity: "zta-edge" }),
    ]);
  });
});

describe("ApiGateway: validation names prop, value and fix", () => {
  const bad: [string, Partial<ApiGatewayProps>, string, RegExp][] = [
    ["no apps", { apps: [] }, "apps", /at least one app/],
    ["apps not a list", { apps: "x" as never }, "apps", /Give a list/],
    ["upper-case app name", { apps: [{ name: "Nightly", models: ["qwen-0.5b"] }] }, "apps[0].name", /lowercase/],
    ["duplicate app", { apps: [APPS[1], { ...APPS[1] }] }, "apps[1].name", /Each app once/],
    ["model not offered", { apps: [{ name: "a", models: ["gpt-4"] }] }, "apps[0].models", /qwen-0.5b/],
    ["no models for an app", { apps: [{ name: "a", models: [] }] }, "apps[0].models", /at least one model/],
    ["budget on unpriced models", { models: [{ name: "qwen-0.5b" }], apps: [{ name: "a", models: ["qwen-0.5b"], monthlyBudgetUsd: 5 }] }, "apps[0].monthlyBudgetUsd", /never be reached/],
    ["negative budget", { apps: [{ name: "a", models: ["qwen-0.5b"], monthlyBudgetUsd: -1 }] }, "apps[0].monthlyBudgetUsd", /0.01/],
    ["fractional rpm", { apps: [{ name: "a", models: ["qwen-0.5b"], requestsPerMinute: 1.5 }] }, "apps[0].requestsPerMinute", /whole number/],
    ["zero tpm", { apps: [{ name: "a", models: ["qwen-0.5b"], tokensPerMinute: 0 }] }, "apps[0].tokensPerMinute", /from 1/],
    ["one-day rotation", { apps: [{ name: "a", models: ["qwen-0.5b"], rotateAfterDays: 1 }] }, "apps[0].rotateAfterDays", /from 2 to 3650/],
    ["bad hostname", { hostname: "API_host" }, "hostname", /DNS name|lowercase/],
    ["the API's own hostname", { hostname: "ai.example.internal" }, "hostname", /already has a site/],
    ["unknown upstream model", { models: [{ name: "x", upstreamModel: "llama" }] }, "models[0].upstreamModel", /serves one model/],
    ["negative price", { models: [{ name: "qwen-0.5b", inputCostPerMillionTokensUsd: -2 }] }, "models[0].inputCostPerMillionTokensUsd", /from 0/],
    ["duplicate model", { models: [{ name: "qwen-0.5b" }, { name: "qwen-0.5b" }], apps: [{ name: "a", models: ["qwen-0.5b"] }] }, "models[1].name", /once/],
    ["unpinned image", { image: "ghcr.io/berriai/litellm:main-latest" }, "image", /Pin the image by digest/],
    ["unpinned postgres", { postgresImage: "postgres:15" }, "postgresImage", /Pin the image by digest/],
    ["bad name", { name: "-gw" }, "name", /letters, digits/],
  ];
  test.each(bad)("%s", (_what, overrides, prop, fix) => {
    expectConfigError(() => {
      const { stack, ai } = inferenceStack({ model: MODEL });
      new ApiGateway(stack, "gateway", { inference: ai, hostname: "api.example.internal", apps: APPS, models: PRICED, ...overrides });
      return stack;
    }, prop, fix);
  });

  test("a literal key-shaped value anywhere in the props is refused", () => {
    expectConfigError(() => {
      const { stack, ai } = inferenceStack({ model: MODEL });
      new ApiGateway(stack, "gateway", { inference: ai, hostname: "api.example.internal", apps: [{ ...APPS[0], name: "sk-abcdefghijklmnopqrstuvwxyz123456" }], models: PRICED });
      return stack;
    }, "apps[0].name", /literal credential/);
  });

  test("no inference: one problem naming it, nothing built", () => {
    const { stack } = inferenceStack({ model: MODEL });
    new ApiGateway(stack, "gateway", { inference: {} as never, hostname: "api.example.internal", apps: APPS });
    let err: unknown;
    try {
      synth(stack);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.prop)).toEqual(["inference"]);
  });

  test("the valid stack of the issue synthesizes (default models: the inference's served name)", () => {
    const { stack, ai } = inferenceStack({ model: MODEL });
    new ApiGateway(stack, "gateway", { inference: ai, hostname: "api.example.internal", apps: APPS.map((a) => ({ ...a, monthlyBudgetUsd: undefined })) });
    expect(() => synth(stack)).not.toThrow();
  });
});

describe("ApiGateway: the generation timeout is the inference stack's unless set", () => {
  test("it follows SecureInference's generationTimeoutSeconds, and its own prop overrides it", () => {
    const followed = gatewayStack({}, { generationTimeoutSeconds: 600 }).gw.nginxConfig;
    expect(followed).toContain("proxy_read_timeout 600s;");
    expect(followed).not.toContain("1800s");
    const own = gatewayStack({ generationTimeoutSeconds: 900 }, { generationTimeoutSeconds: 600 }).gw.nginxConfig;
    expect(own).toContain("proxy_read_timeout 900s;");
    expect(own).not.toContain("600s");
  });
});

describe("ApiGateway: the spend exporter (auditSpendLogs)", () => {
  const withAudit = (props: Partial<ApiGatewayProps> = {}, auditFirst = true) => {
    const { stack, ai } = inferenceStack({ model: MODEL });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
    if (auditFirst) new AuditLog(stack, "audit", { ca: ai.ca });
    Aspects.of(stack).add(policy);
    const gw = new ApiGateway(stack, "gateway", { inference: ai, hostname: "api.example.internal", apps: APPS, models: PRICED, ...props });
    if (!auditFirst) new AuditLog(stack, "audit", { ca: ai.ca });
    return { stack, gw, policy, json: synth(stack) };
  };
  const { json, gw, policy } = withAudit();
  const EXPORTER = "inference-gateway-spend";
  const GRANTS = "inference-gateway-spend-grants";

  test("on by default with an AuditLog, off without one (nothing of it then in the stack)", () => {
    expect(gw.auditSpendLogs).toBe(true);
    expect(containerNamed(json, EXPORTER)).toBeTruthy();
    const plain = gatewayStack();
    expect(plain.gw.auditSpendLogs).toBe(false);
    expect(plain.gw.spendExporter).toBeUndefined();
    expect(Object.values(resources(plain.json, "docker_container")).map((c) => c.name)).not.toContain(EXPORTER);
    expect(Object.keys(resources(plain.json, "random_password")).filter((id) => id.includes("spend"))).toEqual([]);
  });

  test("the exporter and the grants job are hardened like every service, pass the production policy, and the audit trail routes the exporter", () => {
    for (const n of [EXPORTER, GRANTS]) expect(hardeningGaps(containerNamed(json, n))).toEqual([]);
    const open = policy.results.flatMap((r) => r.findings).filter((f) => !f.suppression && f.path.includes("/gateway/spend"));
    expect(open).toEqual([]);
    const exporter = containerNamed(json, EXPORTER);
    expect(exporter).toMatchObject({ read_only: true, user: "70:70", security_opts: ["no-new-privileges:true"], capabilities: { drop: ["ALL"] }, memory: 64 });
    expect(exporter.ports).toBeUndefined();
    expect(exporter.image).toBe(containerNamed(json, "inference-gateway-db").image);
    expect(exporter.log_driver).toBe("syslog");
    expect(exporter.healthcheck.test.join(" ")).toContain("/tmp/zta-spend-exported-at");
    expect(exporter.tmpfs["/tmp"]).toMatch(/uid=70,gid=70/);
    // The cursor on a volume of its own, writable by uid 70 (the image's data directory).
    expect(exporter.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ container_path: "/var/lib/postgresql/data", read_only: false })]));
    expect(resources(json, "docker_volume")).toEqual(expect.objectContaining({ [Object.keys(resources(json, "docker_volume")).find((k) => k.includes("spend-cursor"))!]: { name: "inference-gateway-spend-cursor" } }));
    const grants = containerNamed(json, GRANTS);
    expect(grants).toMatchObject({ read_only: true, user: "70:70", must_run: false, entrypoint: ["/bin/sh", "/etc/zta/grants.sh"] });
  });

  test("the exporter's network is its own pair with Postgres; Postgres' network with LiteLLM stays theirs alone", () => {
    const db = containerNamed(json, "inference-gateway-db");
    expect(networksOf(json, db).sort()).toEqual(["inference-gateway-spend-to-inference-gateway-db", "inference-gateway-to-inference-gateway-db"]);
    expect(networksOf(json, containerNamed(json, EXPORTER))).toEqual(["inference-gateway-spend-to-inference-gateway-db"]);
    const members = (network: string) =>
      Object.values(resources(json, "docker_container"))
        .filter((c) => networksOf(json, c).includes(network))
        .map((c) => c.name)
        .sort();
    expect(members("inference-gateway-to-inference-gateway-db")).toEqual(["inference-gateway", "inference-gateway-db"]);
    expect(members("inference-gateway-spend-to-inference-gateway-db")).toEqual(["inference-gateway-db", EXPORTER]);
    expect(JSON.parse(label(db, "zta.callers")!).map((c: { caller: string }) => c.caller)).toEqual(["inference-gateway", EXPORTER]);
    // The grants job has no network of its own: LiteLLM's namespace, where the owner's password already is.
    expect(containerNamed(json, GRANTS).network_mode).toMatch(/^container:\$\{docker_container\.[^.]+\.id\}$/);
    expect(containerNamed(json, GRANTS).network_mode).toBe(containerNamed(json, "inference-gateway-proxy").network_mode);
  });

  test("the role is read-only: SELECT on LiteLLM_SpendLogs only, everything else revoked, writes off by default", () => {
    const sql = uploaded(json, `${GRANTS}-config-loader`, "grants.sql");
    expect(sql.match(/^GRANT .*$/gm)).toEqual([
      'GRANT CONNECT ON DATABASE :"database" TO :"reader";',
      'GRANT USAGE ON SCHEMA public TO :"reader";',
      'GRANT SELECT ON TABLE public."LiteLLM_SpendLogs" TO :"reader";',
    ]);
    expect(sql).toContain("\\set reader zta_spend_reader");
    expect(sql).toContain("NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS");
    expect(sql).toContain('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"reader";');
    expect(sql).toContain('ALTER ROLE :"reader" SET default_transaction_read_only = on;');
    // A new LiteLLM image (its migrations may recreate the table) replaces the job, so it runs again.
    expect(sql).toContain("ghcr.io/berriai/litellm:");
  });

  test("the passwords are files of the config volumes, never environment values or arguments", () => {
    const reader = uploaded(json, `${EXPORTER}-config-loader`, "spend-reader-password");
    expect(reader).toMatch(/^\$\{random_password\.gateway_spend-reader-password_[^.]+\.result\}$/);
    expect(uploaded(json, `${GRANTS}-config-loader`, "spend-reader-password")).toBe(reader);
    expect(uploaded(json, `${GRANTS}-config-loader`, "db-password")).toMatch(/^\$\{random_password\.gateway_db-password_[^.]+\.result\}$/);
    const passwords = resources(json, "random_password");
    expect(Object.entries(passwords).find(([id]) => id.includes("spend-reader-password"))![1]).toMatchObject({ length: 40, special: false });
    for (const n of [EXPORTER, GRANTS]) {
      const c = containerNamed(json, n);
      expect(JSON.stringify([c.env ?? [], c.entrypoint, c.command ?? []])).not.toMatch(/random_password|PGPASSWORD/);
    }
    // The broken copy is caught: a password in the environment would show here.
    const leaky = { ...containerNamed(json, EXPORTER), env: [`PGPASSWORD=${reader}`] };
    expect(JSON.stringify([leaky.env])).toMatch(/random_password|PGPASSWORD/);
    const script = uploaded(json, `${EXPORTER}-config-loader`, "export.sh");
    expect(script).toContain('PGUSER="zta_spend_reader"');
    expect(script).toContain("HOST=inference-gateway-db PORT=5432\n");
    expect(script).toContain('export PGPASSFILE="$RUN/pgpass"');
  });

  test("the uploaded scripts hold no Terraform template syntax besides the password references (a shell ${X:-y} would be interpolated)", () => {
    const templateSyntax = (text: string) => text.replace(/\$\{random_password\.[^.}]+\.result\}/g, "").match(/[$%]\{[^}]*\}?/g) ?? [];
    for (const [loader, file] of [
      [EXPORTER, "export.sh"],
      [EXPORTER, "export.sql"],
      [GRANTS, "grants.sh"],
      [GRANTS, "grants.sql"],
    ]) {
      expect({ file, found: templateSyntax(uploaded(json, `${loader}-config-loader`, file)) }).toEqual({ file, found: [] });
    }
    // The check finds what Terraform would choke on.
    expect(templateSyntax('CONFIG="${ZTA_CONFIG_DIR:-/etc/zta}" %{ if x }')).toEqual(["${ZTA_CONFIG_DIR:-/etc/zta}", "%{ if x }"]);
  });

  test("interval and settle lag: defaults 30 s and 60 s, both set from props and reach the script and the healthcheck", () => {
    const script = uploaded(json, `${EXPORTER}-config-loader`, "export.sh");
    expect(script).toContain("INTERVAL=30\n");
    expect(script).toContain("SETTLE=60\n");
    const tuned = withAudit({ spendLogIntervalSeconds: 10, spendLogSettleSeconds: 0 });
    const tunedScript = uploaded(tuned.json, `${EXPORTER}-config-loader`, "export.sh");
    expect(tunedScript).toContain("INTERVAL=10\n");
    expect(tunedScript).toContain("SETTLE=0\n");
    expect(containerNamed(tuned.json, EXPORTER).healthcheck.test.join(" ")).toContain("-lt 50");
  });

  test("explicit true without an AuditLog: the exporter exists (its lines in its Docker log); explicit false with one: none", () => {
    const alone = gatewayStack({ auditSpendLogs: true });
    expect(containerNamed(alone.json, EXPORTER).log_driver).toBe("json-file");
    const off = withAudit({ auditSpendLogs: false });
    expect(off.gw.spendExporter).toBeUndefined();
    expect(Object.values(resources(off.json, "docker_container")).map((c) => c.name)).not.toContain(GRANTS);
  });

  test("an AuditLog created after the gateway (default left unset) is a ConfigError; set explicitly, it is not", () => {
    expectConfigError(() => withAudit({}, false).stack, "auditSpendLogs", /created after this gateway/);
    expect(() => withAudit({ auditSpendLogs: false }, false)).not.toThrow();
    expect(() => withAudit({ auditSpendLogs: true }, false)).not.toThrow();
  });

  const badSpend: [string, Partial<ApiGatewayProps>, string, RegExp][] = [
    ["auditSpendLogs not a boolean", { auditSpendLogs: "yes" as never }, "auditSpendLogs", /true or false/],
    ["interval too short", { spendLogIntervalSeconds: 1 }, "spendLogIntervalSeconds", /from 5 to 3600/],
    ["fractional interval", { spendLogIntervalSeconds: 7.5 }, "spendLogIntervalSeconds", /whole number/],
    ["negative settle", { spendLogSettleSeconds: -1 }, "spendLogSettleSeconds", /from 0 to 3600/],
    ["settle too long", { spendLogSettleSeconds: 7200 }, "spendLogSettleSeconds", /from 0 to 3600/],
    ["interval with the exporter off", { auditSpendLogs: false, spendLogIntervalSeconds: 10 }, "spendLogIntervalSeconds", /only applies to the spend exporter/],
    ["settle with the exporter off", { auditSpendLogs: false, spendLogSettleSeconds: 10 }, "spendLogSettleSeconds", /only applies to the spend exporter/],
  ];
  test.each(badSpend)("%s", (_what, overrides, prop, fix) => {
    expectConfigError(() => withAudit(overrides).stack, prop, fix);
  });

  test("the same props within range synthesize", () => {
    expect(() => withAudit({ auditSpendLogs: true, spendLogIntervalSeconds: 5, spendLogSettleSeconds: 0 })).not.toThrow();
    expect(() => withAudit({ spendLogIntervalSeconds: 3600, spendLogSettleSeconds: 3600 })).not.toThrow();
  });
});
