import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformStack, Testing } from "cdktf";
import { ClientCertMode, InferenceRoutes, SecureInference } from "../../index";
import {
  REVISION,
  containerNamed,
  expectConfigError,
  gapRuleIds,
  hardeningGaps,
  inferenceProps,
  label,
  resources,
  runningContainers,
  secretVariable,
  stackWithProviders,
  synth,
  synthInference,
  uploaded,
} from "../helpers";

describe("SecureInference: networks and exposure", () => {
  const { json } = synthInference();
  const networks = resources(json, "docker_network");
  const networkByRef = (ref: string) => {
    const id = /docker_network\.([^.]+)\.name/.exec(ref)?.[1];
    return id ? networks[id] : undefined;
  };

  test("one internal network per trust relationship: edge->gate and edge->vLLM, nothing shared beyond the pair", () => {
    const internal = Object.values(networks).filter((n) => n.internal === true);
    expect(internal.map((n) => n.name).sort()).toEqual([
      "inference-edge-to-inference-gate",
      "inference-edge-to-inference-vllm-0",
    ]);
    const members = (net: string) =>
      Object.values(resources(json, "docker_container"))
        .filter((c) => (c.networks_advanced ?? []).some((n: { name: string }) => networkByRef(n.name)?.name === net))
        .map((c) => c.name)
        .sort();
    // Allowed flows are reachable (caller and callee share the pair's network) ...
    expect(members("inference-edge-to-inference-gate")).toEqual(["inference-edge", "inference-gate"]);
    expect(members("inference-edge-to-inference-vllm-0")).toEqual(["inference-edge", "inference-vllm-0"]);
    // ... and one the graph does not allow is not: vLLM (and its sidecar, in its namespace) shares no network with the gate.
    const netsOf = (name: string) =>
      containerNamed(json, name).networks_advanced.map((n: { name: string }) => networkByRef(n.name)?.name);
    expect(netsOf("inference-vllm-0").filter((n: string) => netsOf("inference-gate").includes(n))).toEqual([]);
  });

  test("the callers label says who may call each service, and how", () => {
    const callers = (name: string) => JSON.parse(label(containerNamed(json, name), "zta.callers") as string);
    expect(callers("inference-gate")).toEqual([
      { caller: "inference-edge", port: 4443, auth: "network-only", network: "inference-edge-to-inference-gate" },
    ]);
    expect(callers("inference-vllm-0-mtls")).toEqual([
      {
        caller: "inference-edge",
        port: 8443,
        auth: "mtls",
        identity: "zta-edge",
        network: "inference-edge-to-inference-vllm-0",
      },
    ]);
    expect(callers("inference-edge")).toEqual([{ caller: "host", port: 8443, auth: "mtls+oidc" }]);
  });

  test("vLLM is on internal networks only and publishes nothing", () => {
    const vllm = containerNamed(json, "inference-vllm-0");
    expect(vllm.networks_advanced).toHaveLength(1);
    expect(networkByRef(vllm.networks_advanced[0].name)?.internal).toBe(true);
    expect(vllm.ports).toBeUndefined();
    expect(vllm.command).toEqual(expect.arrayContaining(["--host", "127.0.0.1"]));
  });

  test("the sidecar shares vLLM's network namespace by container id", () => {
    const sidecar = containerNamed(json, "inference-vllm-0-mtls");
    expect(sidecar.network_mode).toMatch(
      /^container:\$\{docker_container\.inference_vllm-0_container_[A-Z0-9]+\.id\}$/,
    );
    for (const rejected of ["ports", "hostname", "dns", "networks_advanced"]) expect(sidecar[rejected]).toBeUndefined();
  });

  test("only the edge publishes a port, bound to 127.0.0.1 by default", () => {
    const publishing = runningContainers(json).filter((c) => c.ports !== undefined);
    expect(publishing.map((c) => c.name)).toEqual(["inference-edge"]);
    expect(publishing[0].ports).toEqual([{ internal: 8443, external: 443, ip: "127.0.0.1", protocol: "tcp" }]);
  });

  test("the edge's other network is its own and not internal", () => {
    const edge = containerNamed(json, "inference-edge");
    const legs = edge.networks_advanced.map((n: { name: string }) => networkByRef(n.name));
    expect(legs.map((n: any) => [n.name, n.internal])).toEqual([
      ["inference-edge-net", false],
      ["inference-edge-to-inference-gate", true],
      ["inference-edge-to-inference-vllm-0", true],
    ]);
  });

  test("0.0.0.0 is refused unless allowAllInterfaces is set", () => {
    expectConfigError(() => synthInference({ bindAddress: "0.0.0.0" }), "bindAddress", /allowAllInterfaces/);
    expectConfigError(() => synthInference({ bindAddress: "::" }), "bindAddress", /allowAllInterfaces/);
    const { json: open } = synthInference({ bindAddress: "0.0.0.0", allowAllInterfaces: true });
    expect(containerNamed(open, "inference-edge").ports[0].ip).toBe("0.0.0.0");
    const { json: lan } = synthInference({ bindAddress: "192.0.2.10", hostPort: 8443 });
    expect(containerNamed(lan, "inference-edge").ports[0]).toMatchObject({ ip: "192.0.2.10", external: 8443 });
  });
});

describe("SecureInference: container hardening", () => {
  const { json } = synthInference({ metricsScraper: true });

  test("the gap check itself catches an unhardened container", () => {
    const stack = stackWithProviders();
    new Container(stack, "plain", { name: "plain", image: "x" });
    const plain = containerNamed(synth(stack), "plain");
    expect(gapRuleIds(plain)).toEqual(
      expect.arrayContaining(["ZTA-CTR-005", "ZTA-CTR-003", "ZTA-CTR-004", "ZTA-CTR-006", "ZTA-CTR-013"]),
    );
  });

  test("every running container is hardened", () => {
    const running = runningContainers(json);
    expect(running.map((c) => c.name).sort()).toEqual([
      "inference-edge",
      "inference-gate",
      "inference-model-fetch",
      "inference-vllm-0",
      "inference-vllm-0-mtls",
    ]);
    for (const c of running) expect({ name: c.name, gaps: hardeningGaps(c) }).toEqual({ name: c.name, gaps: [] });
  });

  test("services run as non-root where the image allows it", () => {
    expect(containerNamed(json, "inference-edge").user).toBe("65532:65532");
    expect(containerNamed(json, "inference-gate").user).toBe("65532:65532");
    expect(containerNamed(json, "inference-vllm-0-mtls").user).toBe("101:101");
  });

  test("the only capability added back is the edge's NET_BIND_SERVICE", () => {
    const added = runningContainers(json).flatMap((c) =>
      (c.capabilities?.add ?? []).map((a: string) => `${c.name}:${a}`),
    );
    expect(added).toEqual(["inference-edge:NET_BIND_SERVICE"]);
  });

  test("config loaders are created but never started, and carry no network", () => {
    const loaders = Object.values(resources(json, "docker_container")).filter(
      (c) => label(c, "zta.role") === "config-loader",
    );
    expect(loaders.length).toBeGreaterThanOrEqual(4);
    for (const l of loaders)
      expect([l.name, l.start, l.must_run, l.network_mode]).toEqual([l.name, false, false, "none"]);
  });

  test("services mount their config read-only and are replaced when it changes", () => {
    for (const name of ["inference-edge", "inference-gate", "inference-vllm-0-mtls", "inference-vllm-0"]) {
      const c = containerNamed(json, name);
      const configMount = c.volumes.find((v: { container_path: string }) => v.container_path === "/etc/zta");
      expect(configMount.read_only).toBe(true);
      expect(label(c, "zta.config-sha256")).toMatch(
        /^\$\{sha256\(jsonencode\(docker_container\..+_loader_[A-Z0-9]+\.upload\)\)\}$/,
      );
    }
  });

  test("no `${` reaches Terraform unless it is a real reference", () => {
    const text = JSON.stringify(json);
    const interpolations = text.match(/\$\{[^}]{0,40}/g) ?? [];
    const accidental = interpolations.filter((s) => !/^\$\{(docker_|tls_|random_|var\.|sha256\(|jsonencode\()/.test(s));
    expect(accidental).toEqual([]);
    expect(text).not.toContain("%{");
  });
});

describe("SecureInference: vLLM", () => {
  test("the revision must be a 40-hex commit unless opted out by name", () => {
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, { model: { name: "org/model", revision: "main" } }),
        ),
      "model.revision",
      /40-hex commit.*allowUnpinnedRevision/,
    );
    const { json } = synthInference({ model: { name: "org/model", revision: "main", allowUnpinnedRevision: true } });
    expect(containerNamed(json, "inference-vllm-0").command).toEqual(expect.arrayContaining(["--revision", "main"]));
  });

  test("model, tokenizer and remote code are pinned to the same revision", () => {
    const { json } = synthInference({ model: { name: "org/model", revision: REVISION, trustRemoteCode: true } });
    const cmd: string[] = containerNamed(json, "inference-vllm-0").command;
    for (const flag of ["--revision", "--tokenizer-revision", "--code-revision"])
      expect(cmd[cmd.indexOf(flag) + 1]).toBe(REVISION);
    const { json: plain } = synthInference();
    expect(containerNamed(plain, "inference-vllm-0").command).not.toContain("--trust-remote-code");
  });

  test("the API key is generated, kept out of the environment and the command, and reaches vLLM as a file", () => {
    const { json } = synthInference();
    const passwords = resources(json, "random_password");
    const keyId = Object.keys(passwords).find((k) => k.includes("vllm-api-key"))!;
    expect(passwords[keyId]).toMatchObject({ length: 48, special: false });
    const vllm = containerNamed(json, "inference-vllm-0");
    const ref = `random_password.${keyId}.result`;
    expect(JSON.stringify([vllm.env, vllm.command, vllm.entrypoint])).not.toContain(ref);
    expect(uploaded(json, "inference-vllm-0-secrets-loader", "api-key")).toBe(`\${${ref}}`);
    expect(vllm.entrypoint.join(" ")).toContain('VLLM_API_KEY="$(cat /etc/zta/api-key)"');
    // ...and the sidecar injects it on the loopback hop.
    expect(uploaded(json, "inference-vllm-0-mtls-config-loader", "upstream-auth.conf")).toBe(
      `proxy_set_header Authorization "Bearer \${${ref}}";\n`,
    );
  });

  test("vLLM runs offline; only the one-shot fetch job has a way out", () => {
    const { json } = synthInference();
    const vllm = containerNamed(json, "inference-vllm-0");
    expect(vllm.env).toContain("HF_HUB_OFFLINE=1");
    const fetch = containerNamed(json, "inference-model-fetch");
    expect(fetch.command).toEqual(["meta-llama/Llama-3.1-8B-Instruct", REVISION, expect.stringContaining(REVISION)]);
    expect(vllm.env).toContain(`ZTA_WAIT_FOR=${fetch.command[2]}`);
    expect(fetch.must_run).toBe(false);
    expect(fetch.attach).toBeUndefined();
    const { json: noFetch } = synthInference({ model: { name: "org/model", revision: REVISION, prefetch: false } });
    expect(Object.values(resources(noFetch, "docker_container")).map((c) => c.name)).not.toContain(
      "inference-model-fetch",
    );
    expect(containerNamed(noFetch, "inference-vllm-0").env).toContain("ZTA_WAIT_FOR=");
  });

  test("the HF token must be a reference and travels as a file", () => {
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(stack, "inference", inferenceProps(stack, { hfToken: "hf_abcdefghijklmnopqrstuvwxyz" })),
      "hfToken",
      /sensitive variable/,
    );
    const s2 = stackWithProviders();
    new SecureInference(s2, "inference", inferenceProps(s2, { hfToken: secretVariable(s2, "hf_token") }));
    const json = synth(s2);
    expect(uploaded(json, "inference-model-fetch-secrets-loader", "hf-token")).toBe("${var.hf_token}");
    expect(containerNamed(json, "inference-model-fetch").env).toContain("HF_TOKEN_PATH=/etc/zta/hf-token");
    expect(JSON.stringify(containerNamed(json, "inference-model-fetch").env)).not.toContain("var.hf_token");
  });

  test("extra args may not override what the construct owns", () => {
    const stack = stackWithProviders();
    const err = expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, {
            vllm: { extraArgs: ["--host", "0.0.0.0", "--api-key=x", "--gpu-memory-utilization", "0.9"] },
          }),
        ),
      "vllm.extraArgs",
    );
    expect(err.problems.filter((p) => p.prop === "vllm.extraArgs").map((p) => p.received)).toEqual([
      '"--host" (element 0)',
      '"--api-key=..." (element 2)',
    ]);
  });

  test("GPUs: all by default, per replica when asked, none on request", () => {
    const { json } = synthInference({ replicas: 2, vllm: { replicaGpus: ["device=0", "device=1"] } });
    expect(containerNamed(json, "inference-vllm-0").gpus).toBe("device=0");
    expect(containerNamed(json, "inference-vllm-1").gpus).toBe("device=1");
    expect(containerNamed(synthInference().json, "inference-vllm-0").gpus).toBe("all");
    expect(containerNamed(synthInference({ vllm: { gpus: "none" } }).json, "inference-vllm-0").gpus).toBeUndefined();
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, { replicas: 2, vllm: { replicaGpus: ["device=0"] } }),
        ),
      "vllm.replicaGpus",
    );
  });
});

describe("SecureInference: sidecar and edge configs", () => {
  test("the rendered configs appear verbatim in the synthesized JSON", () => {
    const { json, ai } = synthInference();
    expect(uploaded(json, "inference-edge-config-loader", "Caddyfile")).toBe(ai.edge.caddyfile);
    expect(uploaded(json, "inference-vllm-0-mtls-config-loader", "nginx.conf")).toBe(ai.sidecars[0].nginxConfig);
  });

  test("the sidecar allowlists the default routes and hides /metrics without a scraper", () => {
    const { ai } = synthInference();
    const conf = ai.sidecars[0].nginxConfig;
    for (const route of InferenceRoutes.DEFAULT) expect(conf).toContain(`location = ${route} {`);
    expect(conf).not.toMatch(/location[^{]*tokenize|location[^{]*pause|location[^{]*update_weights/);
    expect(conf).toMatch(/location \/ \{\s+return 404;/);
    expect(conf).toContain("ssl_verify_client on;");
    expect(conf).toContain("proxy_buffering off;");
    expect(conf).toMatch(/map \$zta_caller \$zta_may_scrape \{\s+default 0;\s+\}/);
    const { ai: withScraper } = synthInference({ metricsScraper: true });
    expect(withScraper.sidecars[0].nginxConfig).toContain(
      '"CN=zta-metrics-scraper,OU=zta-services,O=cdktf-zero-trust-ai" metrics;',
    );
    expect(withScraper.sidecars[0].nginxConfig).toMatch(
      /map \$zta_caller \$zta_may_scrape \{\s+default 0;\s+metrics 1;/,
    );
  });

  test("routes outside the OpenAI set are refused", () => {
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, { routes: ["/v1/chat/completions", "/tokenize"] }),
        ),
      "routes",
      /administrative/,
    );
    const { ai } = synthInference({ routes: ["/v1/chat/completions"] });
    expect(ai.edge.caddyfile).toContain("@zta_routed path /v1/chat/completions\n");
  });

  test("rate, concurrency and body limits reach nginx", () => {
    const { ai } = synthInference({
      rateLimit: { requestsPerMinute: 30, burst: 5, maxConcurrent: 2 },
      maxRequestBodyMb: 2,
    });
    const conf = ai.sidecars[0].nginxConfig;
    expect(conf).toContain("rate=30r/m;");
    expect(conf).toContain("limit_req zone=zta_rate burst=5 nodelay;");
    expect(conf).toContain("limit_conn zta_conn 2;");
    expect(conf).toContain("client_max_body_size 2m;");
    const stack = stackWithProviders();
    expectConfigError(
      () => new SecureInference(stack, "inference", inferenceProps(stack, { rateLimit: { requestsPerMinute: 0 } })),
      "rateLimit.requestsPerMinute",
    );
  });

  test("the edge requires client certificates, strips identity headers and never compresses", () => {
    const { ai } = synthInference();
    const caddyfile = ai.edge.caddyfile;
    expect(caddyfile).toContain("mode require_and_verify");
    expect(caddyfile).toContain("request_header -X-Auth-Request-Email");
    expect(caddyfile).toContain("request_header -X-ZTA-Identity");
    expect(caddyfile).not.toMatch(/^\s*encode\b/m);
    expect(caddyfile).toContain("flush_interval -1");
    expect(caddyfile).toMatch(/handle \/oauth2\/\* \{\s+reverse_proxy inference-gate:4443/);
  });

  test("a relaxed client-certificate mode needs the OIDC gate", () => {
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, { oidc: undefined, clientCertMode: ClientCertMode.VERIFY_IF_GIVEN }),
        ),
      "clientCertMode",
      /configure oidc/,
    );
    const { ai } = synthInference({ clientCertMode: ClientCertMode.VERIFY_IF_GIVEN });
    expect(ai.edge.caddyfile).toContain("mode verify_if_given");
  });

  test("without oidc there is no gate and the client certificate is the identity", () => {
    const { json, ai } = synthInference({ oidc: undefined });
    expect(ai.gate).toBeUndefined();
    expect(Object.values(resources(json, "docker_container")).map((c) => c.name)).not.toContain("inference-gate");
    expect(ai.edge.caddyfile).not.toContain("forward_auth");
    expect(ai.edge.caddyfile).toContain("request_header X-ZTA-Identity {http.request.tls.client.subject}");
    expect(ai.edge.caddyfile).toContain("mode require_and_verify");
  });

  test("replicas each get a sidecar and the edge balances over all of them", () => {
    const { json, ai } = synthInference({ replicas: 3, vllm: { replicaGpus: ["device=0", "device=1", "device=2"] } });
    expect(ai.sidecars).toHaveLength(3);
    expect(ai.replicas).toHaveLength(3);
    for (let i = 0; i < 3; i++) containerNamed(json, `inference-vllm-${i}-mtls`);
    expect(ai.edge.caddyfile).toContain(
      "reverse_proxy inference-vllm-0:8443 inference-vllm-1:8443 inference-vllm-2:8443 {",
    );
    expect(ai.edge.caddyfile).toContain("health_uri /health");
    const stack = stackWithProviders();
    expectConfigError(
      () => new SecureInference(stack, "inference", inferenceProps(stack, { replicas: 0 })),
      "replicas",
    );
  });
});

describe("SecureInference: secrets and supply chain", () => {
  test("no secret appears as a literal; secret-carrying outputs are sensitive", () => {
    const { json } = synthInference({ metricsScraper: true });
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    expect(text).not.toMatch(/hf_[A-Za-z0-9]{20,}/);
    const outputs = json.output ?? {};
    const bundles = Object.entries(outputs).filter(([, o]) => JSON.stringify(o.value).includes("private_key_pem"));
    expect(bundles.length).toBe(2); // the operator and the metrics scraper
    for (const [name, o] of bundles) expect({ name, sensitive: o.sensitive }).toEqual({ name, sensitive: true });
    expect(json.variable?.oidc_client_secret?.sensitive).toBe(true);
  });

  test("images are pinned by digest; a tag is refused unless opted out by name", () => {
    const { json } = synthInference();
    for (const image of Object.values(resources(json, "docker_image"))) {
      expect(image.name).toMatch(/@sha256:[0-9a-f]{64}$/);
      expect(image.keep_locally).toBe(true);
    }
    for (const c of runningContainers(json)) expect(c.image).toMatch(/^\$\{docker_image\..+\.image_id\}$/);
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(stack, "inference", inferenceProps(stack, { images: { vllm: "vllm/vllm-openai:latest" } })),
      "images.vllm",
      /allowUnpinnedImages/,
    );
    const { json: loose } = synthInference({ images: { vllm: "vllm/vllm-openai:latest" }, allowUnpinnedImages: true });
    expect(Object.values(resources(loose, "docker_image")).map((i) => i.name)).toContain("vllm/vllm-openai:latest");
  });

  test("one docker_image per distinct reference, shared by replicas, fetch job and loaders", () => {
    const { json } = synthInference({ replicas: 2, vllm: { replicaGpus: ["device=0", "device=1"] } });
    expect(Object.keys(resources(json, "docker_image"))).toHaveLength(4);
  });
});

describe("SecureInference: props validation", () => {
  test("every problem is reported at once, naming prop, value and fix", () => {
    const stack = stackWithProviders();
    const err = expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, {
            model: { name: "not a repo", revision: "abc" },
            domain: "https://ai.example.internal",
            operators: [],
          }),
        ),
      "model.revision",
    );
    // The gate's problem (no operator email to take domains from) is listed with the rest, not after a fix.
    expect(err.problems.map((p) => p.prop)).toEqual([
      "model.name",
      "model.revision",
      "domain",
      "operators",
      "oidc.emailDomains",
    ]);
    expect(err.message).toContain('domain: received "https://ai.example.internal". Use a lowercase DNS name');
  });

  test("operator names are unique, well-formed and not reserved", () => {
    const stack = stackWithProviders();
    const err = expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, {
            operators: [
              { name: "zta-edge" },
              { name: "Alice" },
              { name: "bob" },
              { name: "bob", email: "not-an-email" },
            ],
          }),
        ),
      "operators[0].name",
    );
    expect(err.problems.map((p) => `${p.prop}=${p.received}`)).toEqual([
      'operators[0].name="zta-edge"',
      'operators[1].name="Alice"',
      'operators[3].name="bob"',
      'operators[3].email="not-an-email"',
      // No operator has a valid email to derive the gate's domains from: listed together.
      "oidc.emailDomains=nothing (the prop is missing)",
    ]);
  });

  test("a missing provider is a clear synth error", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "bare");
    new SecureInference(stack, "inference", inferenceProps(stack));
    let message = "";
    try {
      Testing.synth(stack, true);
    } catch (e) {
      message = String(e);
    }
    for (const p of ["DockerProvider", "TlsProvider", "RandomProvider"]) expect(message).toContain(`needs a ${p}`);
    // With the providers, the same construct synthesizes.
    expect(() => synthInference()).not.toThrow();
  });
});

describe("SecureInference: snapshot", () => {
  test("default props", () => {
    const { json } = synthInference({ metricsScraper: true });
    expect(json).toMatchSnapshot();
  });
});
