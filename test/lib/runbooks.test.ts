/**
 * The runbooks are renderings of the synthesized stack: every Terraform address, container, volume,
 * network and output a command names exists in the stack it was generated from, a component the stack
 * lacks has no step, and a renamed construct changes the names (never leaves a dead one).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack, Testing } from "cdktf";
import { AUDIT_COLLECTOR_ROLE, AuditLog, GatewayRole, Lockdown, Observability, SecureInference } from "../../index";
import { auditLogql } from "../../lib/loki";
import { renderRunbooks, writeAppRunbooks, Runbook } from "../../lib/runbooks";
import { AUDIT_COLLECTOR, GATEWAY_ROLES, rotationCommand, secretHoldings, SecretKind, stackModel } from "../../lib/runbooks-model";
import { DefaultInferenceStack } from "../../stacks/default-stack";
import { HomelabStack } from "../../examples/homelab";
import { TeamStack } from "../../examples/team";
import { OwnServiceStack } from "../../examples/own-service";
import { FullStack } from "./full-stack.fixture";
import { inferenceProps, stackWithProviders } from "../helpers";

type Json = { resource: Record<string, Record<string, any>>; data?: Record<string, Record<string, any>>; output?: Record<string, unknown> };

function synthJson(stack: TerraformStack): Json {
  return JSON.parse(Testing.synth(stack, true)) as Json;
}

function fullWithLockdown(): TerraformStack {
  const s = new FullStack(Testing.app() as App, "full");
  new Lockdown(s);
  return s;
}

const STACKS: [string, () => TerraformStack][] = [
  ["default", () => new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai")],
  ["homelab", () => new HomelabStack(Testing.app() as App, "homelab")],
  ["team", () => new TeamStack(Testing.app() as App, "team")],
  ["own-service", () => new OwnServiceStack(Testing.app() as App, "own")],
  ["full (every construct, Lockdown)", fullWithLockdown],
  ["full (every construct, no Lockdown)", () => new FullStack(Testing.app() as App, "full")],
];

/** What the commands of the runbooks name, parsed from the Markdown (not from the renderer's model). */
function named(books: Runbook[]): { addresses: string[]; containers: string[]; volumes: string[]; outputs: string[]; networks: string[] } {
  const text = books.map((b) => b.markdown).join("\n");
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join("\n");
  const addresses = [...text.matchAll(/\b((?:data\.)?(?:docker|tls|random|cloudflare|tailscale)_[a-z_]+\.[\w-]+(?:\[0\])?)/g)].map((m) => m[1]);
  const containers: string[] = [];
  const volumes: string[] = [];
  const networks: string[] = [];
  // Redirections are not names.
  for (const line of blocks.split("\n").map((l) => l.replace(/\d?>(&1|\/dev\/null)/g, ""))) {
    for (const m of line.matchAll(/docker (?:logs --timestamps|logs|inspect|stop|start|restart|kill|stats --no-stream) ((?:[\w.-]+ ?)+)/g)) {
      containers.push(...m[1].trim().split(" ").filter((w) => !w.startsWith("-") && w !== ""));
    }
    for (const m of line.matchAll(/docker (?:cp|exec) ([\w.-]+)[: ]/g)) containers.push(m[1]);
    // The audit queries select records by the container that wrote them.
    for (const m of line.matchAll(/--arg c ([\w.-]+) /g)) containers.push(m[1]);
    for (const m of line.matchAll(/docker network disconnect -f ([\w.-]+) ([\w.-]+)/g)) {
      networks.push(m[1]);
      containers.push(m[2]);
    }
    const loop = /^for (c|v) in ([^;]+); do/.exec(line);
    if (loop) (loop[1] === "c" ? containers : volumes).push(...loop[2].trim().split(/\s+/));
    for (const m of line.matchAll(/ -v ([a-z0-9][\w.-]*):\//g)) volumes.push(m[1]);
    for (const m of line.matchAll(/# volume ([\w.-]+)/g)) volumes.push(m[1]);
  }
  const outputs = [...blocks.matchAll(/terraform output (?:-raw|-json) ([\w-]+)/g)].map((m) => m[1]);
  return { addresses, containers, volumes, outputs, networks };
}

describe.each(STACKS)("runbooks of the %s stack", (_, make) => {
  const stack = make();
  const json = synthJson(stack);
  const books = renderRunbooks(json, stack.node.id);
  const names = named(books);

  test("every Terraform address named exists (with [0] exactly when the resource has a count)", () => {
    expect(names.addresses.length).toBeGreaterThan(0);
    const missing = names.addresses.filter((a) => {
      const plain = a.replace(/\[0\]$/, "");
      const [first, ...rest] = plain.split(".");
      const [type, id] = first === "data" ? [rest[0], rest[1]] : [first, rest[0]];
      const r = (first === "data" ? json.data : json.resource)?.[type]?.[id];
      return r === undefined || (r.count !== undefined) !== a.endsWith("[0]");
    });
    expect(missing).toEqual([]);
  });

  test("every container, volume, network and output a command names exists", () => {
    const containers = Object.values(json.resource.docker_container ?? {}).map((c: any) => c.name);
    const volumes = Object.values(json.resource.docker_volume ?? {}).map((v: any) => v.name);
    const networks = Object.values(json.resource.docker_network ?? {}).map((n: any) => n.name);
    expect(names.containers.length).toBeGreaterThan(0);
    expect(names.containers.filter((c) => !containers.includes(c))).toEqual([]);
    expect(names.volumes.filter((v) => !volumes.includes(v))).toEqual([]);
    expect(names.networks.filter((n) => !networks.includes(n))).toEqual([]);
    expect(names.outputs.filter((o) => !Object.keys(json.output ?? {}).includes(o))).toEqual([]);
  });

  test("each runbook has its parts: trigger and severity, OWASP ids, containment, evidence, recovery, checklist", () => {
    for (const b of books.filter((x) => x.file !== "README.md")) {
      for (const part of ["## Trigger and severity", "Severity:", "## OWASP Top 10", "## Containment", "## Evidence to preserve", "## Eradication and recovery", "## Post-incident checklist"]) {
        expect({ file: b.file, part, has: b.markdown.includes(part) }).toEqual({ file: b.file, part, has: true });
      }
      expect(b.markdown).toMatch(/LLM\d\d /);
    }
  });
});

describe("a runbook for a component the stack lacks is left out", () => {
  test("the default stack has no agent or chat runbook; the full stack has all six", () => {
    const files = (s: TerraformStack) => renderRunbooks(synthJson(s), s.node.id).map((b) => b.file);
    expect(files(new DefaultInferenceStack(Testing.app() as App, "d"))).toEqual(["README.md", "03-credential-leak.md", "04-internal-secret-leak.md", "05-host-compromise.md", "06-abuse-gpu-dos.md"]);
    expect(files(fullWithLockdown())).toEqual([
      "README.md",
      "01-agent-secret-leak.md",
      "02-rag-document-extraction.md",
      "03-credential-leak.md",
      "04-internal-secret-leak.md",
      "05-host-compromise.md",
      "06-abuse-gpu-dos.md",
    ]);
  });

  test("without an EncryptedBackup there is no restore command; with one, restic restores into the volumes it backs up", () => {
    const host = (s: TerraformStack) => renderRunbooks(synthJson(s), s.node.id).find((b) => b.file === "05-host-compromise.md")!.markdown;
    const plain = host(new DefaultInferenceStack(Testing.app() as App, "d"));
    expect(plain).not.toMatch(/restic restore/);
    expect(plain).toMatch(/no EncryptedBackup/);
    const full = host(fullWithLockdown());
    expect(full).toMatch(/restic restore latest --host ai-backup --tag zta-backup/);
    expect(full).toMatch(/terraform output -raw backup_repository_password_\w+ >/);
    expect(full).toMatch(/-v inference-chat-data:\/data -v \/srv\/restore\/ai-backup\/backup\/sources\/webui-data:\/r:ro/);
  });

  test("without Lockdown, host compromise stops the exposing containers by name instead", () => {
    const md = renderRunbooks(synthJson(new FullStack(Testing.app() as App, "full")), "full").find((b) => b.file === "05-host-compromise.md")!.markdown;
    expect(md).not.toMatch(/-var lockdown/);
    expect(md).toMatch(/docker stop inference-edge inference-edge-ts-ai inference-chat-cloudflared/);
  });
});

describe("the lockdown step", () => {
  test("names what this stack withdraws and saves the logs of the containers it replaces first", () => {
    const md = renderRunbooks(synthJson(fullWithLockdown()), "full").find((b) => b.file === "05-host-compromise.md")!.markdown;
    expect(md).toMatch(/the edge sites `https:\/\/chat\.example\.com:8443`, `https:\/\/grafana\.example\.internal:8443`, `https:\/\/api\.example\.internal:8443` of `inference-edge`/);
    expect(md).toMatch(/the tailnet node `inference-edge-ts-ai` \(`docker_container\.tailnet_container_\w+\[0\]`/);
    expect(md).toMatch(/every ingress rule of `cloudflare_zero_trust_tunnel_cloudflared_config\.tunnel_config_\w+` but the catch-all/);
    const saveAt = md.indexOf("for c in inference-edge inference-edge-ts-ai; do");
    expect(saveAt).toBeGreaterThan(0);
    expect(md.indexOf("terraform apply -var lockdown=true")).toBeGreaterThan(saveAt);
    expect(md).toMatch(/terraform apply -var lockdown=false/);
  });

  test("the default stack's lockdown withdraws its host port 127.0.0.1:443", () => {
    const md = renderRunbooks(synthJson(new DefaultInferenceStack(Testing.app() as App, "d")), "d").find((b) => b.file === "05-host-compromise.md")!.markdown;
    expect(md).toMatch(/the host port `127\.0\.0\.1:443` of `inference-edge`/);
  });
});

describe("a renamed construct changes the runbooks", () => {
  test("another namePrefix renames every container, volume and output; none of the old names is left", () => {
    const build = (prefix?: string) => {
      const stack = stackWithProviders("rename");
      new SecureInference(stack, "inference", inferenceProps(stack, prefix ? { namePrefix: prefix } : {}));
      new Lockdown(stack);
      return renderRunbooks(synthJson(stack), "rename").map((b) => b.markdown).join("\n");
    };
    const before = build();
    const after = build("ai2");
    expect(before).toMatch(/inference-edge/);
    expect(after).toMatch(/ai2-edge/);
    expect(after).not.toMatch(/inference-(edge|gate|vllm)/);
    expect(after).toMatch(/terraform output -json ai2_operator_devops_laptop/);
  });
});

describe("secretHoldings: which resources hold which secret", () => {
  const json = synthJson(fullWithLockdown());
  const model = stackModel(json, "full");
  const holdings = secretHoldings(model);
  const one = (title: RegExp) => {
    const found = holdings.filter((h) => title.test(h.title));
    expect(found.length).toBe(1);
    return found[0];
  };

  test("every private key, generated password, tunnel token and sensitive variable is listed once", () => {
    const sources = holdings.map((h) => h.source.replace(/\[0\]$/, ""));
    const expected = [
      ...Object.keys(json.resource.tls_private_key).map((k) => `tls_private_key.${k}`),
      ...Object.keys(json.resource.random_password).map((k) => `random_password.${k}`),
      ...Object.keys(json.data?.cloudflare_zero_trust_tunnel_cloudflared_token ?? {}).map((k) => `data.cloudflare_zero_trust_tunnel_cloudflared_token.${k}`),
      "var.oidc_client_secret",
      "var.tailscale_auth_key",
    ];
    expect([...sources].sort()).toEqual([...expected].sort());
  });

  test("the CA key: held by state only; rotating it names every certificate it signed", () => {
    const ca = holdings.filter((h) => h.kind === SecretKind.CA_KEY);
    expect(ca).toHaveLength(1);
    expect(ca[0].containers).toEqual([]);
    const signed = Object.keys(json.resource.tls_locally_signed_cert).map((k) => `tls_locally_signed_cert.${k}`);
    expect(ca[0].replace).toEqual(expect.arrayContaining(signed));
    // The CA's root (the gateway's rotation clocks are self-signed too, and no CA).
    const root = Object.entries(json.resource.tls_self_signed_cert).find(([, c]) => c.is_ca_certificate === true)![0];
    expect(ca[0].replace).toContain(`tls_self_signed_cert.${root}`);
    expect(ca[0].replace.filter((a) => /rotation-clock/.test(a))).toEqual([]);
  });

  test("the vLLM API key is held by vLLM and its sidecar, not the edge; the cookie secret by the gate; the tunnel token by cloudflared", () => {
    expect(one(/vLLM API key/).containers).toEqual(["inference-vllm-0", "inference-vllm-0-mtls"]);
    expect(one(/cookie secret/).containers).toEqual(["inference-gate"]);
    const token = one(/tunnel token/);
    expect(token.containers).toEqual(["inference-chat-cloudflared"]);
    expect(token.replace).toEqual([expect.stringMatching(/^cloudflare_zero_trust_tunnel_cloudflared\.tunnel_\w+$/)]);
    expect(one(/^server key of inference-edge/).containers).toEqual(["inference-edge"]);
    // The edge's metrics listener has a certificate of its own (issued for its Docker name).
    expect(one(/^metrics listener's server key of inference-edge/).containers).toEqual(["inference-edge"]);
    expect(one(/operator client key/).outputs).toEqual(["inference_operator_devops_laptop"]);
  });

  test("the gateway's master key, salt key (never rotated), Postgres password and app keys; the audit collector's keys", () => {
    expect(one(/LiteLLM master key/).containers).toEqual(["inference-gateway", "inference-gateway-keys"]);
    const salt = one(/LiteLLM salt key/);
    expect(salt.replace).toEqual([]);
    expect(salt.note).toMatch(/Never rotate it.*LiteLLM cannot decrypt/);
    expect(one(/gateway's Postgres password/).containers).toEqual(["inference-gateway", "inference-gateway-db", "inference-gateway-spend-grants"]);
    const reader = one(/spend exporter's database password/);
    expect(reader.containers).toEqual(["inference-gateway-spend", "inference-gateway-spend-grants"]);
    expect(reader.note).toMatch(/ALTER ROLE.*no manual step/);
    const app = one(/virtual key of app ide-assistant/);
    expect(app.kind).toBe(SecretKind.APP_KEY);
    expect(app.replace).toEqual([expect.stringMatching(/^random_password\.gateway_key-ide-assistant_\w+$/)]);
    expect(app.outputs).toEqual(["gateway_key_ide_assistant"]);
    expect(app.note).toMatch(/inference-gateway-keys.*revokes the old key/);
    expect(one(/app client key \(gateway_app_nightly_summaries_bundle\)/).kind).toBe(SecretKind.APP_CLIENT_KEY);
    expect(one(/server key of zta-audit-collector/).containers).toEqual(["zta-audit-collector"]);
    expect(one(/Docker daemon's client key for the audit collector zta-audit-collector/).volumes).toEqual(["zta-audit-daemon-tls"]);
    // The rotation clock signs nothing: listed, never replaced; rotating every secret leaves the salt key alone.
    expect(one(/rotation clock key/).replace).toEqual([]);
    const md = renderRunbooks(json, "full").find((b) => b.file === "04-internal-secret-leak.md")!.markdown;
    const all = /### Rotate every secret at once[\s\S]*?```sh\n([\s\S]*?)```/.exec(md)![1];
    expect(all).toContain(app.source);
    expect(all).not.toContain(salt.source);
  });

  test("the roles the model reads are the constructs' roles", () => {
    expect(GATEWAY_ROLES).toEqual(GatewayRole);
    expect(AUDIT_COLLECTOR).toBe(AUDIT_COLLECTOR_ROLE);
  });

  test("sensitive variables are rotated at their issuer (no -replace); the restic password never in the all-at-once command", () => {
    for (const v of holdings.filter((h) => h.kind === SecretKind.VARIABLE)) expect(v.replace).toEqual([]);
    const md = renderRunbooks(json, "full").find((b) => b.file === "04-internal-secret-leak.md")!.markdown;
    const all = /### Rotate every secret at once[\s\S]*?```sh\n([\s\S]*?)```/.exec(md)![1];
    expect(all).toContain(one(/vLLM API key/).source);
    expect(all).not.toContain(one(/restic repository password/).source);
    expect(md).toMatch(/restic -r <repository> --password-file \/root\/restic-old key add --new-password-file \/root\/restic-new/);
  });

  test("rotationCommand is one terraform apply with one -replace per address, [0] quoted for the shell", () => {
    expect(rotationCommand([one(/vLLM API key/)])).toBe(`terraform apply \\\n  -replace=${one(/vLLM API key/).source}`);
    expect(rotationCommand([{ ...one(/vLLM API key/), replace: ["docker_container.x[0]"] }])).toBe("terraform apply \\\n  -replace='docker_container.x[0]'");
    expect(rotationCommand(holdings.filter((h) => h.kind === SecretKind.VARIABLE))).toBeUndefined();
  });
});

describe("written at synth next to cdk.tf.json", () => {
  test("writeAppRunbooks writes runbooks/ into each stack's folder", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-runbooks-"));
    try {
      const app = new App({ outdir });
      new DefaultInferenceStack(app, "zero-trust-ai");
      app.synth();
      const files = writeAppRunbooks(app);
      const dir = path.join(outdir, "stacks", "zero-trust-ai", "runbooks");
      expect(files.map((f) => path.relative(dir, f))).toEqual(["README.md", "03-credential-leak.md", "04-internal-secret-leak.md", "05-host-compromise.md", "06-abuse-gpu-dos.md"]);
      expect(fs.existsSync(path.join(outdir, "stacks", "zero-trust-ai", "cdk.tf.json"))).toBe(true);
      expect(fs.readFileSync(path.join(dir, "05-host-compromise.md"), "utf8")).toMatch(/terraform apply -var lockdown=true/);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe("the README's excerpt", () => {
  test("is the default stack's rendered lockdown step, word for word", () => {
    const readme = fs.readFileSync(path.join(__dirname, "../../README.md"), "utf8");
    const excerpt = /<!-- runbook-excerpt:start -->\n([\s\S]*?)\n<!-- runbook-excerpt:end -->/.exec(readme)![1].replace("#### 1.", "### 1.");
    const md = renderRunbooks(synthJson(new DefaultInferenceStack(Testing.app() as App, "zero-trust-ai")), "zero-trust-ai").find((b) => b.file === "05-host-compromise.md")!.markdown;
    expect(excerpt.length).toBeGreaterThan(200);
    expect(md).toContain(excerpt);
    expect(readme).toContain("[docs/runbooks.md](docs/runbooks.md)");
  });
});

describe("the ApiGateway's steps (full stack)", () => {
  const json = synthJson(fullWithLockdown());
  const books = renderRunbooks(json, "full");
  const md = (file: string) => books.find((b) => b.file === file)!.markdown;
  /** Addresses read from the JSON by construct path (Testing.synth's logical ids: the path joined by "_", a hash). */
  const idOf = (type: string, constructPath: string) => {
    const found = Object.keys(json.resource[type]).filter((id) => id.replace(/_[0-9A-F]{8}$/, "") === constructPath.split("/").join("_")).map((id) => [id]);
    expect(found).toHaveLength(1);
    return `${type}.${found[0][0]}`;
  };
  const plain = new DefaultInferenceStack(Testing.app() as App, "d");
  const plainBooks = renderRunbooks(synthJson(plain), "d").map((b) => b.markdown).join("\n");

  test.each(["ide-assistant", "nightly-summaries"])("runbook 3: revoke, rotate and hand over the key of %s; re-issue its bundle", (app) => {
    const text = md("03-credential-leak.md");
    const out = `gateway_key_${app.replace(/-/g, "_")}`;
    const bundle = `gateway_app_${app.replace(/-/g, "_")}_bundle`;
    expect(json.output).toHaveProperty(out);
    expect(json.output).toHaveProperty(bundle);
    expect(text).toContain(`remove the app \`${app}\` from \`apps\``);
    expect(text).toContain(
      `terraform apply -replace=${idOf("random_password", `gateway/key-${app}`)}\ndocker logs inference-gateway-keys 2>&1 | grep -E 'reconcile: (revoked previous key of ${app}|done)'`,
    );
    expect(text).toContain(`terraform output -raw ${out} > ${out}.key`);
    expect(text).toContain(
      `terraform apply \\\n  -replace=${idOf("tls_private_key", `gateway/app-${app}-cert/key`)} \\\n  -replace=${idOf("tls_locally_signed_cert", `gateway/app-${app}-cert`)}\nterraform output -json ${bundle} | jq -r`,
    );
  });

  test("runbook 6: each app's limits as the stack declares them, the apply that changes them, the revocation that blocks it", () => {
    const text = md("06-abuse-gpu-dos.md");
    expect(text).toContain("app `ide-assistant` at `inference-gateway`: 120 requests per minute, 200000 tokens per minute, no budget");
    expect(text).toContain("app `nightly-summaries` at `inference-gateway`: 30 requests per minute, no token limit, budget 20 USD per 30d");
    expect(text).toContain("terraform apply\ndocker logs inference-gateway-keys 2>&1 | grep 'reconcile: updated'");
    expect(text).toContain(`terraform apply -replace=${idOf("random_password", "gateway/key-ide-assistant")}   # ide-assistant`);
    expect(text).toMatch(/docker logs inference-gateway-proxy 2>\/dev\/null \| grep '\^\{' \| jq -r 'select\(\.app != ""\)/);
  });

  test("runbook 4: the Postgres password is set in the database after the apply, from the file the container mounts, then LiteLLM restarts", () => {
    const text = md("04-internal-secret-leak.md");
    const db = Object.values(json.resource.docker_container).find((c: any) => c.name === "inference-gateway-db");
    const file = (db.env as string[]).find((e) => e.startsWith("POSTGRES_PASSWORD_FILE="))!.split("=")[1];
    expect(file).toBe("/etc/zta/db-password");
    expect((db.volumes as any[]).some((v) => v.container_path === "/etc/zta")).toBe(true);
    const apply = text.indexOf(`terraform apply -replace=${idOf("random_password", "gateway/db-password")}\n`);
    const alter = text.indexOf(`docker exec inference-gateway-db sh -c 'echo "ALTER ROLE litellm WITH PASSWORD '\\''$(cat ${file})'\\'';" | psql -v ON_ERROR_STOP=1 -U litellm -d litellm'`);
    const restart = text.indexOf("docker restart inference-gateway inference-gateway-proxy && docker start inference-gateway-keys && docker start inference-gateway-spend-grants");
    expect(apply).toBeGreaterThan(0);
    expect(alter).toBeGreaterThan(apply);
    expect(restart).toBeGreaterThan(alter);
    // The master key: -replace alone. The salt key: never -replace'd, anywhere; what to do instead is printed.
    expect(text).toContain(`terraform apply -replace=${idOf("random_password", "gateway/master-key")}\n`);
    const salt = idOf("random_password", "gateway/salt-key");
    expect(books.map((b) => b.markdown).join("\n")).not.toContain(`-replace=${salt}`);
    expect(text).toMatch(/\*\*The salt key\*\* \(`random_password\.gateway_salt-key_\w+`\): never rotate it\./);
  });

  test("the name check above covers these steps: it parses their containers, volume and outputs", () => {
    const n = named(books);
    expect(n.containers).toEqual(expect.arrayContaining(["inference-gateway-db", "inference-gateway-keys", "inference-gateway-proxy", "zta-audit-collector", "full-agent"]));
    expect(n.volumes).toContain("zta-audit-data");
    expect(n.outputs).toEqual(expect.arrayContaining(["gateway_key_ide_assistant", "gateway_app_nightly_summaries_bundle"]));
  });

  test("a stack without an ApiGateway has none of these steps", () => {
    expect(plainBooks).not.toMatch(/reconcile|virtual key|ALTER ROLE|LiteLLM/);
  });
});

describe("the audit trail's steps", () => {
  const json = synthJson(fullWithLockdown());
  const books = renderRunbooks(json, "full");

  test("with an AuditLog: each runbook but 04 copies the collector's data directory", () => {
    const collector = Object.values(json.resource.docker_container).find((c: any) => c.name === "zta-audit-collector");
    expect((collector.volumes as any[]).find((v) => v.container_path === "/var/lib/zta-audit")).toBeDefined();
    expect(Object.values(json.resource.docker_volume).map((v: any) => v.name)).toContain("zta-audit-data");
    const copying = books.filter((b) => b.markdown.includes('A="$E/audit-$(date -u +%F)"; docker cp zta-audit-collector:/var/lib/zta-audit "$A"   # volume zta-audit-data')).map((b) => b.file);
    expect(copying).toEqual(["01-agent-secret-leak.md", "02-rag-document-extraction.md", "03-credential-leak.md", "05-host-compromise.md", "06-abuse-gpu-dos.md"]);
  });

  test("with Loki and Grafana's datasource: the LogQL equivalents beside the jq lines, per runbook", () => {
    const logql = (md: string) => [...md.matchAll(/```logql\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    const book = (file: string) => books.find((b) => b.file === file)!.markdown;
    const always = [auditLogql("config-changes"), auditLogql("trail-reads")];
    const identity = auditLogql("identity", "<an e-mail, an app name or a certificate CN>");
    expect(logql(book("03-credential-leak.md"))).toEqual([identity, auditLogql("refused"), ...always]);
    expect(logql(book("06-abuse-gpu-dos.md"))).toEqual([identity, auditLogql("refused"), ...always]);
    expect(logql(book("05-host-compromise.md"))).toEqual([auditLogql("refused"), ...always]);
    expect(logql(book("01-agent-secret-leak.md"))).toEqual([auditLogql("tool-failures"), ...always]);
    expect(identity).not.toContain("$identity");
    expect(book("03-credential-leak.md")).toContain("Explore → datasource `Audit trail (Loki)`");
    // The jq lines over the day files stay.
    expect(book("03-credential-leak.md")).toMatch(/last24h \| jq -c --arg id "\$ID"/);
    expect(book("04-internal-secret-leak.md")).not.toContain("```logql");
  });

  test.each([
    ["an AuditLog with Loki but no Observability (nobody can read it)", {}, false],
    ["Observability beside an AuditLog with loki: false", { loki: false }, true],
  ])("%s: no LogQL step", (_, audit, observe) => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack, { metricsScraper: true }));
    new AuditLog(stack, "audit", { ca: ai.ca, ...audit });
    if (observe) new Observability(stack, "obs", { inference: ai, grafanaHostname: "grafana.example.internal" });
    const md = renderRunbooks(synthJson(stack), "test").map((b) => b.markdown).join("\n");
    expect(md).toContain("docker cp zta-audit-collector");
    expect(md).not.toMatch(/```logql|Audit trail \(Loki\)/);
  });

  test("without one, no step reads it", () => {
    const md = renderRunbooks(synthJson(new DefaultInferenceStack(Testing.app() as App, "d")), "d").map((b) => b.markdown).join("\n");
    expect(md).not.toMatch(/docker cp|last24h|zta-audit/);
  });
});
