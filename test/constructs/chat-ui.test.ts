import { AuditLog, ChatUi, ClientCertMode } from "../../index";
import { IMAGES } from "../../lib/images";
import { containerNamed, label, resources, synth, uploaded } from "../helpers";
import {
  allInterfaceAddresses,
  expectConfigError,
  gapRuleIds,
  hardeningGaps,
  inferenceStack,
} from "../exposure-helpers";

/** Env as a map; `KEY=VALUE` entries. */
function envOf(c: Record<string, any>): Record<string, string> {
  return Object.fromEntries((c.env as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

function chatStack(inferenceOverrides = {}, chatOverrides = {}) {
  const { stack, ai } = inferenceStack(inferenceOverrides);
  const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com", ...chatOverrides });
  return { stack, ai, chat, json: synth(stack) };
}

describe("ChatUi: Open WebUI's defaults", () => {
  const { json } = chatStack();
  const env = envOf(containerNamed(json, "inference-chat"));

  test.each([
    ["WEBUI_AUTH", "True"],
    ["ENABLE_SIGNUP", "False"],
    ["WEBUI_SESSION_COOKIE_SECURE", "True"],
    ["WEBUI_AUTH_COOKIE_SECURE", "True"],
    ["CORS_ALLOW_ORIGIN", "https://chat.example.com"],
    ["ENABLE_COMMUNITY_SHARING", "False"],
    ["ENABLE_VERSION_UPDATE_CHECK", "False"],
    ["ENABLE_CODE_EXECUTION", "False"],
    ["ENABLE_CODE_INTERPRETER", "False"],
    ["ENABLE_PERSISTENT_CONFIG", "False"],
    ["ENABLE_OLLAMA_API", "False"],
    ["OFFLINE_MODE", "True"],
    ["ENABLE_FORWARD_USER_INFO_HEADERS", "True"],
    ["OPENAI_API_BASE_URL", "http://127.0.0.1:8090/v1"],
    // The audit trail (docs/audit.md, config.change): metadata only, the file on the data volume, stdout too.
    ["AUDIT_LOG_LEVEL", "METADATA"],
    ["AUDIT_LOGS_FILE_PATH", "/app/backend/data/audit.log"],
    ["ENABLE_AUDIT_LOGS_FILE", "True"],
    ["ENABLE_AUDIT_STDOUT", "True"],
  ])("%s=%s", (key, value) => {
    expect(env[key]).toBe(value);
  });

  test("the secret key is a generated random_password reference, never a literal", () => {
    expect(env.WEBUI_SECRET_KEY).toMatch(/^\$\{random_password\.[^.]+\.result\}$/);
    const pw = Object.values(resources(json, "random_password")).find((p) => p.length === 48);
    expect(pw?.special).toBe(false);
  });

  test("Open WebUI holds no OpenAI key at all: the proxy drops Authorization and the sidecar injects vLLM's", () => {
    expect(env.OPENAI_API_KEY).toBe("");
    expect(uploaded(json, "inference-chat-proxy-config-loader", "nginx.conf")).toContain(
      'proxy_set_header Authorization "";',
    );
  });

  test("trusted identity header: set with an OIDC gate (the edge strips client copies and sets it)", () => {
    expect(env.WEBUI_AUTH_TRUSTED_EMAIL_HEADER).toBe("X-ZTA-Webui-User");
  });

  test("signup stays off unless autoProvisionUsers opts in (new users then wait as pending)", () => {
    expect(env.ENABLE_SIGNUP).toBe("False");
    expect(env.DEFAULT_USER_ROLE).toBe("pending");
    const { json: open } = chatStack({}, { autoProvisionUsers: true });
    expect(envOf(containerNamed(open, "inference-chat")).ENABLE_SIGNUP).toBe("True");
  });

  test("trusted identity header: absent when nothing in front vouches for an email", () => {
    const { json: noGate } = chatStack({ oidc: undefined });
    expect(envOf(containerNamed(noGate, "inference-chat")).WEBUI_AUTH_TRUSTED_EMAIL_HEADER).toBeUndefined();
  });
});

describe("ChatUi: containers", () => {
  const { json, ai, chat } = chatStack();
  const webui = containerNamed(json, "inference-chat");
  const proxy = containerNamed(json, "inference-chat-proxy");

  test("both containers are hardened; Open WebUI's root filesystem is read-only with exactly these writable paths", () => {
    expect(hardeningGaps(webui)).toEqual([]);
    expect(hardeningGaps(proxy)).toEqual([]);
    expect(Object.keys(webui.tmpfs).sort()).toEqual(["/root/.cache", "/tmp"]);
    expect(webui.volumes).toEqual([expect.objectContaining({ container_path: "/app/backend/data", read_only: false })]);
    expect(proxy.user).toBe(IMAGES.nginx.user);
  });

  test("the hardening check itself fails on a writable, capable container", () => {
    expect(
      gapRuleIds({
        ...webui,
        read_only: false,
        capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] },
        ports: [{ internal: 8080 }],
      }),
    ).toEqual(expect.arrayContaining(["ZTA-CTR-005", "ZTA-CTR-003", "ZTA-CTR-001"]));
  });

  test("pinned images on internal networks only (one per relationship: to each sidecar, from the edge), no host port, Open WebUI bound to loopback", () => {
    expect(webui.ports ?? []).toEqual([]);
    expect(webui.networks_advanced).toEqual([
      { name: expect.stringContaining("inference-chat-to-inference-vllm-0") },
      { name: expect.stringContaining("inference-edge-to-inference-chat"), aliases: ["inference-chat"] },
    ]);
    const nets = resources(json, "docker_network");
    for (const n of ["inference-chat-to-inference-vllm-0", "inference-edge-to-inference-chat"]) {
      expect(Object.values(nets).find((x) => x.name === n)).toEqual(expect.objectContaining({ internal: true }));
    }
    expect(webui.entrypoint).toEqual(
      expect.arrayContaining(["--host", "127.0.0.1", "--forwarded-allow-ips", "127.0.0.1"]),
    );
    expect(proxy.network_mode).toMatch(/^container:\$\{docker_container\.chat_webui_[^.]+\.id\}$/);
    const images = Object.values(resources(json, "docker_image")).map((i) => i.name);
    expect(images).toEqual(expect.arrayContaining([IMAGES.openWebui.reference, IMAGES.nginx.reference]));
    expect(allInterfaceAddresses(json)).toEqual([]);
  });

  test("every sidecar accepts the chat identity and trusts the user it forwards", () => {
    for (const sidecar of ai.sidecars) {
      expect(sidecar.nginxConfig).toContain(`"${chat.clientSubjectDn}" chat;`);
      expect(sidecar.nginxConfig).toContain('"~^chat:(?<id>.+)$" $id;');
    }
    expect(chat.clientSubjectDn).toBe("CN=zta-chat,OU=zta-services,O=cdktf-zero-trust-ai");
  });

  test("its own client certificate (CN zta-chat, OU zta-services) and a server certificate for chat.zta.internal", () => {
    const requests = JSON.stringify(resources(json, "tls_cert_request"));
    expect(requests).toContain('"common_name":"zta-chat"');
    expect(requests).toContain('"dns_names":["chat.zta.internal","inference-chat"]');
    for (const f of ["client.crt", "client.key", "server.crt", "server.key", "ca.crt"]) {
      expect(uploaded(json, "inference-chat-proxy-config-loader", f)).toMatch(/^\$\{/);
    }
  });

  test("the proxy config on the volume is the construct's nginxConfig, with every replica as an upstream", () => {
    expect(uploaded(json, "inference-chat-proxy-config-loader", "nginx.conf")).toBe(chat.nginxConfig);
    expect(label(proxy, "zta.config-sha256")).toMatch(/^\$\{sha256\(/);
    const { chat: two } = chatStack({ replicas: 2, vllm: { replicaGpus: ["device=0", "device=1"] } });
    expect(two.nginxConfig).toContain("server inference-vllm-0:8443;\n        server inference-vllm-1:8443;");
  });
});

describe("ChatUi: the audit relay (Open WebUI's audit log file to the collector)", () => {
  const { json } = chatStack();
  const relay = containerNamed(json, "inference-chat-audit-relay");
  const webui = containerNamed(json, "inference-chat");

  test("present by default: busybox tail -F of the audit log from its first line, as nginx's uid, hardened", () => {
    expect(relay.entrypoint).toEqual(["tail", "-n", "+1", "-F", "/data/audit.log"]);
    // The chat proxy's image (the catalog's Alpine nginx: busybox sh, test and tail).
    expect(relay.image).toBe(containerNamed(json, "inference-chat-proxy").image);
    expect(label(relay, "zta.role")).toBe("chat-audit-relay");
    expect(relay.user).toBe(IMAGES.nginx.user);
    expect(hardeningGaps(relay)).toEqual([]);
    expect(relay.read_only).toBe(true);
    expect(relay.capabilities).toEqual({ drop: ["ALL"] });
    expect(relay.healthcheck.test).toEqual(["CMD", "sh", "-c", "test ! -e /data/audit.log || test -r /data/audit.log"]);
    // The file it follows is the one Open WebUI writes, on the volume both mount.
    expect(envOf(webui).AUDIT_LOGS_FILE_PATH).toBe("/app/backend/data/audit.log");
  });

  test("no network at all, and the chat data volume mounted read-only (nothing else)", () => {
    expect(relay.network_mode).toBe("none");
    expect(relay.networks_advanced ?? []).toEqual([]);
    expect(relay.ports ?? []).toEqual([]);
    expect(relay.volumes).toEqual([
      { volume_name: webui.volumes[0].volume_name, container_path: "/data", read_only: true },
    ]);
    expect(relay.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^docker_container\.chat_webui/)]));
  });

  test("the hardening check fails on a relay with capabilities or a writable root", () => {
    expect(
      gapRuleIds({ ...relay, read_only: false, capabilities: { drop: [], add: ["DAC_READ_SEARCH"] } }).sort(),
    ).toEqual(["ZTA-CTR-003", "ZTA-CTR-005"]);
  });

  test("relayAuditLog: false leaves it out", () => {
    const { json: off, chat } = chatStack({}, { relayAuditLog: false });
    expect(Object.values(resources(off, "docker_container")).map((c) => c.name)).not.toContain(
      "inference-chat-audit-relay",
    );
    expect(chat.auditRelayService).toBeUndefined();
  });

  test("relayAuditLog that is no boolean is a ConfigError", () => {
    const { stack, ai } = inferenceStack();
    expectConfigError(
      () =>
        new ChatUi(stack, "c", {
          inference: ai,
          hostname: "chat.example.com",
          relayAuditLog: "yes" as unknown as boolean,
        }),
      "relayAuditLog",
      /^a string .*Use true or false/,
    );
  });

  test("with an AuditLog in the stack it is routed to the collector (syslog driver) like every container", () => {
    const { stack, ai } = inferenceStack();
    new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    new AuditLog(stack, "audit", { ca: ai.ca });
    const audited = synth(stack);
    const r = containerNamed(audited, "inference-chat-audit-relay");
    expect(r.log_driver).toBe("syslog");
    expect(r.log_opts["syslog-address"]).toMatch(/^tcp\+tls:\/\/127\.0\.0\.1:/);
    expect(r.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^docker_container\.audit_collector/)]));
    expect(containerNamed(audited, "inference-chat").log_driver).toBe("syslog");
  });
});

describe("ChatUi: publishing", () => {
  test("with a gate: its own edge site for browsers (client certificate optional, OIDC sign-in on its hostname)", () => {
    const { ai } = chatStack();
    const caddyfile = ai.edge.caddyfile;
    expect(caddyfile).toContain("https://chat.example.com:8443 {");
    const site = caddyfile.slice(caddyfile.indexOf("https://chat.example.com:8443 {"));
    expect(site).toContain("mode verify_if_given");
    expect(site).toContain("reverse_proxy inference-chat:8443");
    expect(site).toContain("tls_server_name chat.zta.internal");
    expect(ai.gate?.hostnames).toContain("chat.example.com");
    expect(ai.edge.hostnames).toContain("chat.example.com");
  });

  test("without a gate: the chat site requires a client certificate like the API", () => {
    const { ai } = chatStack({ oidc: undefined });
    const site = ai.edge.caddyfile.slice(ai.edge.caddyfile.indexOf("https://chat.example.com:8443 {"));
    expect(site).toContain(`mode ${ClientCertMode.REQUIRE_AND_VERIFY}`);
  });

  test("publishOnEdge: false adds no site (a tunnel is then the only way in)", () => {
    const { ai } = chatStack({}, { publishOnEdge: false });
    expect(ai.edge.caddyfile).not.toContain("chat.example.com");
  });
});

describe("ChatUi: bad props", () => {
  test("a hostname with a scheme, an unpinned image, a bad upload limit", () => {
    const { stack, ai } = inferenceStack();
    expectConfigError(
      () => new ChatUi(stack, "c1", { inference: ai, hostname: "https://chat.example.com" }),
      "hostname",
      /lowercase DNS name/,
    );
    expectConfigError(
      () =>
        new ChatUi(stack, "c2", {
          inference: ai,
          hostname: "chat.example.com",
          image: "ghcr.io/open-webui/open-webui:main",
        }),
      "image",
      /Pin the image by digest/,
    );
    expectConfigError(
      () => new ChatUi(stack, "c3", { inference: ai, hostname: "chat.example.com", maxRequestBodyMb: 0 }),
      "maxRequestBodyMb",
    );
  });

  test("a second ChatUi on the same sidecars is refused (one chat identity per sidecar)", () => {
    const { stack, ai } = inferenceStack();
    new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    new ChatUi(stack, "chat2", { inference: ai, hostname: "chat2.example.com" });
    expectConfigError(
      () => synth(stack),
      "identity",
      /inference-chat-proxy already calls inference-vllm-0-mtls with this identity \(already allowed\)/,
    );
  });
});

describe("ChatUi: snapshot", () => {
  test("default props", () => {
    const { stack, ai } = inferenceStack();
    const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    const json = synth(stack);
    const own = (type: string) =>
      Object.fromEntries(Object.entries(resources(json, type)).filter(([id]) => id.startsWith("chat_")));
    expect({
      containers: own("docker_container"),
      volumes: own("docker_volume"),
      nginx: chat.nginxConfig,
    }).toMatchSnapshot();
  });
});
