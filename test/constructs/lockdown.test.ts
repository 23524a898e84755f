/**
 * Lockdown at synth, both ways: with `lockdown = true` no published port, no tailnet container, tunnel
 * ingress 404-only, no edge site for chat and Grafana; with false (the default) everything as before;
 * volumes, keys and passwords untouched either way. The expressions are evaluated twice: by the test
 * applier's evaluator, and by the real `terraform console` (cdktf's rendering of HCL inside `${}`
 * must be valid HCL with the meaning we assume).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, Aspects, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { ApiGateway, Lockdown, PolicyProfile, SecureInference, SecurityPolicy, TailscaleExposure } from "../../index";
import { caddySites } from "../../lib/runbooks";
import { plannedResources } from "../engine/applier";
import { DefaultInferenceStack } from "../../stacks/default-stack";
import { FullStack } from "../lib/full-stack.fixture";
import { inferenceProps, stackWithProviders } from "../helpers";

type Json = { resource: Record<string, Record<string, any>>; variable?: Record<string, any> };
const synthJson = (s: TerraformStack) => JSON.parse(Testing.synth(s, true)) as Json;

function fullWithLockdown(): TerraformStack {
  const s = new FullStack(Testing.app() as App, "full");
  new Lockdown(s);
  return s;
}

/** Resources whose attributes refer to the variable: the only ones two applies with different values can differ in. */
function lockdownDependent(json: Json): string[] {
  return Object.entries(json.resource).flatMap(([type, byId]) => Object.entries(byId).filter(([, r]) => JSON.stringify(r).includes("var.lockdown")).map(([id]) => `${type}.${id}`));
}

/**
 * The planned resources by Docker name / type, under one value of the variable: the ones that refer to it, the
 * edge's config loader, and the stateful types (the test applier cannot evaluate every function other resources use).
 */
function planned(json: Json, lockdown: boolean) {
  const dependent = lockdownDependent(json);
  const stateful = /^(docker_volume|docker_network|tls_\w+|random_password)\./;
  const plan = plannedResources(json as any, { lockdown: String(lockdown) }, (a) => dependent.includes(a) || stateful.test(a) || a.startsWith("docker_container.inference_edge_config_loader"));
  const of = (type: string) => [...plan.entries()].filter(([a]) => a.startsWith(`${type}.`)).map(([, v]) => v);
  const container = (name: string) => of("docker_container").find((c) => c.name === name);
  return { plan, of, container };
}

describe("Lockdown on the full stack (every construct)", () => {
  const json = synthJson(fullWithLockdown());

  test.each([true, false])("lockdown = %s: tailnet node, tunnel ingress and edge sites", (locked) => {
    const p = planned(json, locked);
    expect(p.container("inference-edge-ts-ai") === undefined).toBe(locked);
    const ingress = p.of("cloudflare_zero_trust_tunnel_cloudflared_config")[0].config.ingress;
    expect(ingress.map((r: any) => r.service)).toEqual(locked ? ["http_status:404"] : ["https://inference-chat:8444", "http_status:404"]);
    const edge = p.container("inference-edge")!;
    const configFile = edge.command[edge.command.indexOf("--config") + 1];
    expect(configFile).toBe(locked ? "/etc/zta/Caddyfile.locked" : "/etc/zta/Caddyfile");
    const loader = p.container("inference-edge-config-loader")!;
    const served = loader.upload.find((u: any) => u.file === configFile.replace("/etc/zta", "/zta-load")).content;
    const sites = caddySites(served);
    expect(sites.includes("https://chat.example.com:8443")).toBe(!locked);
    expect(sites.includes("https://grafana.example.internal:8443")).toBe(!locked);
    // ApiGateway's certificate-only site goes with them.
    expect(sites.includes("https://api.example.internal:8443")).toBe(!locked);
    // The API site stays (nothing outside reaches it: the tailnet node is gone and the edge publishes no port here).
    expect(sites).toContain("https://ai.example.internal:8443");
  });

  test("volumes, keys, certificates and passwords are the same either way; only the exposures differ", () => {
    const on = planned(json, true).plan;
    const off = planned(json, false).plan;
    for (const type of ["docker_volume", "tls_private_key", "tls_self_signed_cert", "tls_locally_signed_cert", "random_password", "docker_network"]) {
      const pick = (plan: Map<string, any>) => JSON.stringify([...plan.entries()].filter(([a]) => a.startsWith(`${type}.`)));
      expect({ type, same: pick(on) === pick(off) }).toEqual({ type, same: true });
      expect([...on.keys()].filter((a) => a.startsWith(`${type}.`)).length).toBeGreaterThan(0);
    }
    // Nothing else refers to the variable, so nothing else can change between the two applies.
    expect(lockdownDependent(json).sort().map((a) => a.replace(/_[0-9A-F]{8}$/, ""))).toEqual([
      "cloudflare_zero_trust_tunnel_cloudflared_config.tunnel_config",
      "docker_container.inference_edge_container",
      "docker_container.tailnet_container",
    ]);
  });

  test("real caddy adapts both Caddyfiles; the locked one routes the API hostnames only", () => {
    const caddy = ["/usr/bin/caddy", "/usr/local/bin/caddy"].find((p) => fs.existsSync(p));
    if (!caddy) throw new Error("caddy not found: install the Debian package caddy (scripts/install-test-deps.sh)");
    const loader = Object.values(json.resource.docker_container).find((c: any) => c.name === "inference-edge-config-loader")!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-lockdown-caddy-"));
    try {
      // Caddy reads the certificate files while adapting: one throwaway key and certificate for every name.
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path.join(dir, "server.key"), "-out", path.join(dir, "server.crt"), "-subj", "/CN=t", "-days", "1"], { stdio: "ignore" });
      for (const f of ["ca.crt", "client.crt"]) fs.copyFileSync(path.join(dir, "server.crt"), path.join(dir, f));
      fs.copyFileSync(path.join(dir, "server.key"), path.join(dir, "client.key"));
      const hosts = (file: string) => {
        const content = loader.upload.find((u: any) => u.file === `/zta-load/${file}`).content as string;
        fs.writeFileSync(path.join(dir, file), content.split("/etc/zta").join(dir));
        const adapted = JSON.parse(execFileSync(caddy, ["adapt", "--config", path.join(dir, file), "--adapter", "caddyfile"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
        return Object.values(adapted.apps.http.servers as Record<string, any>).flatMap((srv) => srv.routes.flatMap((r: any) => (r.match ?? []).flatMap((m: any) => m.host ?? []))).sort();
      };
      expect(hosts("Caddyfile.locked")).toEqual(["127.0.0.1", "ai.example.internal", "ai.tailnet-abc.ts.net"]);
      expect(hosts("Caddyfile")).toEqual(["127.0.0.1", "ai.example.internal", "ai.tailnet-abc.ts.net", "api.example.internal", "chat.example.com", "grafana.example.internal"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every exposure it adjusted is listed (at synth)", () => {
    const s = new FullStack(Testing.app() as App, "full");
    const lockdown = new Lockdown(s);
    Testing.synth(s);
    expect(lockdown.withdrawn.map((w) => w.kind).sort()).toEqual(["edge-sites", "tailnet-node", "tunnel-ingress"]);
  });
});

describe("Lockdown on the default stack", () => {
  const json = synthJson(new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai"));

  test("the variable: bool, default false", () => {
    expect(json.variable?.lockdown).toMatchObject({ type: "bool", default: false });
  });

  test.each([true, false])("lockdown = %s: the edge publishes 127.0.0.1:443 only when false", (locked) => {
    const edge = planned(json, locked).container("inference-edge")!;
    expect(edge.ports ?? []).toEqual(locked ? [] : [{ internal: 8443, external: 443, ip: "127.0.0.1", protocol: "tcp" }]);
    // Observability's Grafana site is on this edge (main's default stack): locked, the edge serves the API site only.
    expect(edge.command[edge.command.indexOf("--config") + 1]).toBe(locked ? "/etc/zta/Caddyfile.locked" : "/etc/zta/Caddyfile");
  });
});

describe("the policy and the diagram still judge the port a dynamic block publishes", () => {
  const findingsFor = (bindAddress: string) => {
    const stack = stackWithProviders("open");
    new SecureInference(stack, "inference", inferenceProps(stack, { bindAddress, allowAllInterfaces: true }));
    new Lockdown(stack);
    const policy = new SecurityPolicy({ profile: PolicyProfile.HOMELAB, writeReports: false });
    Aspects.of(stack).add(policy);
    try {
      Testing.synth(stack);
    } catch {
      // an error finding throws; the results are recorded first
    }
    return policy.results[0].findings.filter((f) => f.ruleId === "ZTA-CTR-001" && f.suppression === undefined).map((f) => f.resource);
  };

  test("0.0.0.0 behind lockdown's dynamic block is still ZTA-CTR-001; 127.0.0.1 is not", () => {
    expect(findingsFor("0.0.0.0")).toEqual([expect.stringMatching(/^docker_container\.inference_edge_container/)]);
    expect(findingsFor("127.0.0.1")).toEqual([]);
  });
});

describe("Lockdown's problems", () => {
  test("a Lockdown created first withdraws the exposures made after it: the stack is the same as with it last", () => {
    const first = new FullStack(Testing.app() as App, "full", { lockdownFirst: true });
    const lockdown = Lockdown.of(first)!;
    const firstJson = synthJson(first);
    expect(lockdown.withdrawn.map((w) => w.kind).sort()).toEqual(["edge-sites", "tailnet-node", "tunnel-ingress"]);
    // The gateway's site, the tailnet node and the tunnel came after the Lockdown: withdrawn all the same.
    const p = planned(firstJson, true);
    expect(p.container("inference-edge-ts-ai")).toBeUndefined();
    expect(p.of("cloudflare_zero_trust_tunnel_cloudflared_config")[0].config.ingress.map((r: any) => r.service)).toEqual(["http_status:404"]);
    const edge = p.container("inference-edge")!;
    expect(edge.command[edge.command.indexOf("--config") + 1]).toBe("/etc/zta/Caddyfile.locked");
    expect(firstJson).toEqual(synthJson(fullWithLockdown()));
  });

  test("a site added to the edge after the Lockdown is withdrawn; so is a tailnet node", () => {
    const stack = stackWithProviders("late");
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    new Lockdown(stack);
    new ApiGateway(stack, "gateway", { inference: ai, hostname: "api.example.internal", apps: [{ name: "a", models: [ai.servedModelName] }] });
    const authKey = new TerraformVariable(stack, "k", { type: "string", sensitive: true }).value;
    new TailscaleExposure(stack, "tailnet", { target: ai.edge, hostname: "ai", tailnetDomain: "tailnet-abc.ts.net", authKey });
    const late = synthJson(stack);
    const sites = (locked: boolean) => {
      const p = planned(late, locked);
      const edge = p.container("inference-edge")!;
      const file = edge.command[edge.command.indexOf("--config") + 1] as string;
      const loader = p.container("inference-edge-config-loader")!;
      return { sites: caddySites(loader.upload.find((u: any) => u.file === file.replace("/etc/zta", "/zta-load")).content), tailnet: p.container("inference-edge-ts-ai") !== undefined };
    };
    // The catch-all (every other name: client certificate required, nothing served) stays in both.
    expect(sites(true)).toEqual({ sites: ["https://ai.example.internal:8443", "https://ai.tailnet-abc.ts.net:8443", "https://:8443"], tailnet: false });
    expect(sites(false).sites).toContain("https://api.example.internal:8443");
    expect(sites(false).tailnet).toBe(true);
  });

  test("an exposure made by an aspect after Lockdown's ran is a ConfigError naming it", () => {
    const stack = stackWithProviders("late-aspect");
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    new Lockdown(stack);
    const authKey = new TerraformVariable(stack, "k", { type: "string", sensitive: true }).value;
    Aspects.of(stack).add({
      visit: (node) => {
        if (node === stack && !stack.node.tryFindChild("tailnet")) new TailscaleExposure(stack, "tailnet", { target: ai.edge, hostname: "ai", tailnetDomain: "tailnet-abc.ts.net", authKey });
      },
    });
    expect(() => Testing.synth(stack, true)).toThrow(/late-aspect\/tailnet\S* was created after Lockdown's aspect ran/);
  });

  test("a second Lockdown is a ConfigError", () => {
    const stack = stackWithProviders("twice");
    new SecureInference(stack, "inference", inferenceProps(stack));
    new Lockdown(stack, "a");
    new Lockdown(stack, "b");
    expect(() => Testing.synth(stack)).toThrow(/A stack has one Lockdown/);
  });
});

/**
 * Lockdown's expressions, copied from the synthesized JSON into a configuration with no provider (references
 * to resources become strings), evaluated by the real terraform binary under both values.
 */
describe("terraform evaluates Lockdown's expressions (real terraform console)", () => {
  const terraform = ["/usr/local/bin/terraform", "/usr/bin/terraform"].find((p) => fs.existsSync(p));
  const json = synthJson(fullWithLockdown());
  const edge = Object.values(json.resource.docker_container).find((c: any) => c.name === "inference-edge")!;
  const tailnet = Object.values(json.resource.docker_container).find((c: any) => c.name === "inference-edge-ts-ai")!;
  const tunnel = Object.values(json.resource.cloudflare_zero_trust_tunnel_cloudflared_config)[0];
  const defaultEdge = Object.values(synthJson(new DefaultInferenceStack(Testing.app() as App, "d")).resource.docker_container).find((c: any) => c.name === "inference-edge")!;
  const expressions: Record<string, string> = {
    ingress: tunnel.config.ingress,
    count: tailnet.count,
    command: edge.command.find((c: string) => c.includes("var.lockdown")),
    ports_for_each: defaultEdge.dynamic.ports.for_each,
  };
  // `type.id.attr` references (no provider here) become string literals.
  const standalone = (e: string) => e.replace(/\b((?:data\.)?[a-z]+_[a-z_]+\.[\w-]+\.[a-z_]+)\b/g, '"placeholder"');

  function evaluate(lockdown: boolean): Record<string, unknown> {
    if (!terraform) throw new Error("terraform not found in /usr/local/bin or /usr/bin: install Terraform 1.x to run this test");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-lockdown-tf-"));
    try {
      const config = {
        variable: { lockdown: json.variable!.lockdown },
        output: Object.fromEntries(Object.entries(expressions).map(([k, e]) => [k, { value: standalone(e) }])),
      };
      fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(config));
      fs.writeFileSync(path.join(dir, "cli.tfrc"), "");
      const env = { ...process.env, TF_CLI_CONFIG_FILE: path.join(dir, "cli.tfrc"), TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
      const run = (args: string[]) => execFileSync(terraform, args, { cwd: dir, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      run(["init", "-input=false", "-backend=false"]);
      run(["apply", "-input=false", "-auto-approve", `-var=lockdown=${lockdown}`, `-state=${path.join(dir, "s.tfstate")}`]);
      const out = JSON.parse(run(["output", "-json", `-state=${path.join(dir, "s.tfstate")}`])) as Record<string, { value: unknown }>;
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test("lockdown = true: only the 404 catch-all, count 0, Caddyfile.locked, no port", () => {
    expect(evaluate(true)).toEqual({ ingress: [{ service: "http_status:404" }], count: 0, command: "/etc/zta/Caddyfile.locked", ports_for_each: [] });
  }, 60000);

  test("lockdown = false: the Access-protected rule first, count 1, the full Caddyfile, one port", () => {
    const v = evaluate(false);
    expect(v).toMatchObject({ count: 1, command: "/etc/zta/Caddyfile", ports_for_each: [1] });
    expect(v.ingress).toEqual([
      {
        hostname: "chat.example.com",
        origin_request: { access: { aud_tag: ["placeholder"], required: true, team_name: "placeholder" }, ca_pool: "/etc/zta/origin-ca.crt", no_tls_verify: false, origin_server_name: "chat.zta.internal" },
        service: "https://inference-chat:8444",
      },
      { service: "http_status:404" },
    ]);
  }, 60000);
});
