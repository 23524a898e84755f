import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, Testing } from "cdktf";
import { ConfigError } from "../../lib/errors";
import { isLoopback, renderTrustZoneSvg, trustZoneDot, writeTrustZoneDiagrams } from "../../lib/trust-diagram";
import { TeamStack } from "../../examples/team";
import { DefaultInferenceStack } from "../../stacks/default-stack";
import {
  FIXTURE_CONTAINERS,
  FIXTURE_FLOWS,
  FIXTURE_NETWORKS,
  fixtureReport,
  fixtureStack,
} from "./trust-diagram.fixture";

const RED = "#c62828";

/** The DOT statement declaring a node, or undefined. */
function nodeLine(dot: string, id: string): string | undefined {
  return dot.split("\n").find((l) => l.trim().startsWith(`"${id}" [`));
}

/** Every edge statement: from, to and its attribute text. */
function edges(dot: string): Array<{ from: string; to: string; attrs: string }> {
  return [...dot.matchAll(/^\s*"([^"]+)" -> "([^"]+)" \[(.*)\];$/gm)].map((m) => ({
    from: m[1],
    to: m[2],
    attrs: m[3],
  }));
}

/** Edges drawn from zta.callers (the others are publish, network attachment and tunnel lines). */
function flowEdges(dot: string) {
  return edges(dot).filter((e) =>
    /label="(mtls\+oidc|mtls|access-jwt|tailnet|loopback|network-only|none) :\d+/.test(e.attrs),
  );
}

/** Every flow the stack's zta.callers labels declare, as "auth :port" per callee name. */
function labelledFlows(json: any): string[] {
  const out: string[] = [];
  for (const c of Object.values(json.resource.docker_container ?? {}) as any[]) {
    const l = (c.labels ?? []).find((x: any) => x.label === "zta.callers");
    if (l) for (const f of JSON.parse(l.value)) out.push(`${c.name} ${f.auth} :${f.port}`);
  }
  return out.sort();
}

/** The text of a `subgraph "<name>" { ... }` block, nested blocks included. */
function subgraph(dot: string, name: string): string {
  const start = dot.indexOf(`subgraph "${name}" {`);
  expect(start).toBeGreaterThanOrEqual(0);
  let depth = 0;
  for (let i = dot.indexOf("{", start); i < dot.length; i++) {
    if (dot[i] === "{") depth++;
    if (dot[i] === "}" && --depth === 0) return dot.slice(start, i + 1);
  }
  throw new Error(`unbalanced subgraph ${name}`);
}

/** SVG text with Graphviz's entities decoded. */
function svgText(svg: string): string {
  return svg
    .replace(/&#45;/g, "-")
    .replace(/&gt;/g, ">")
    .replace(/&lt;/g, "<")
    .replace(/&#160;/g, " ")
    .replace(/&amp;/g, "&");
}

describe("trustZoneDot on a stack carrying the trust graph's labels", () => {
  const dot = trustZoneDot(fixtureStack(), fixtureReport(), "fixture");

  test("names every container, every network and every zone", () => {
    for (const name of FIXTURE_CONTAINERS)
      expect([name, nodeLine(dot, `c:${name}`)]).toEqual([name, expect.stringContaining(`<B>${name}</B>`)]);
    for (const name of FIXTURE_NETWORKS) expect(dot).toContain(`label="${name}\\n`);
    expect(dot).toContain('label="fx-internal\\ninternal: no route out\\ntrust: edge -> inference"');
    for (const zone of ["cluster_host", "cluster_tailnet", "cluster_cloudflare"])
      expect(dot).toContain(`subgraph "${zone}"`);
    expect(nodeLine(dot, "z:tailnet")).toContain("node ai");
    expect(nodeLine(dot, "z:cloudflare")).toContain("chat.example.com");
  });

  test("draws the config loader as a line of the service it fills, not as its own node", () => {
    expect(nodeLine(dot, "c:fx-edge-config-loader")).toBeUndefined();
    expect(nodeLine(dot, "c:fx-edge")).toContain("config via fx-edge-config-loader (loader)");
  });

  test("shows each container's identity", () => {
    expect(nodeLine(dot, "c:fx-edge")).toContain("identity CN=zta-edge");
    expect(nodeLine(dot, "c:fx-gate")).not.toContain("identity CN=");
  });

  test("draws exactly the declared flows, each labelled with its authentication, port and client identity", () => {
    const drawn = flowEdges(dot).map((e) => [e.from, e.to, /label="([^ ]+) :(\d+)/.exec(e.attrs)!.slice(1)].flat());
    expect(drawn.sort()).toEqual(FIXTURE_FLOWS.map(([f, t, a, p]) => [f, t, a, String(p)]).sort());
    // A Terraform reference to the caller resolves to that container's name.
    const gate = flowEdges(dot).find((e) => e.to === "c:fx-gate")!;
    expect(gate.from).toBe("c:fx-edge");
    expect(gate.attrs).toContain('label="mtls :4180\\nzta-edge"');
  });

  test("without zta.callers labels (today's JSON) no flow is drawn, though every container still is", () => {
    const bare = trustZoneDot(fixtureStack({ withoutCallers: true }));
    expect(flowEdges(bare)).toEqual([]);
    for (const name of FIXTURE_CONTAINERS) expect(nodeLine(bare, `c:${name}`)).toBeDefined();
    // Zones nobody is declared to call from are still drawn when the stack uses them, with no edges into the stack.
    expect(nodeLine(bare, "z:host")).toBeUndefined();
    expect(edges(bare).filter((e) => e.from.startsWith("z:") && !e.attrs.includes("style=dotted"))).toEqual([]);
  });

  test("boxes containers sharing a network namespace together, inside the owner's network", () => {
    const ns = subgraph(dot, "cluster_ns_fx-vllm");
    expect(nodeLine(ns, "c:fx-vllm")).toBeDefined();
    expect(nodeLine(ns, "c:fx-vllm-mtls")).toBeDefined();
    expect(nodeLine(ns, "c:fx-edge")).toBeUndefined();
    const internal = dot.slice(dot.lastIndexOf('subgraph "cluster_net_', dot.indexOf('subgraph "cluster_ns_fx-vllm"')));
    expect(internal).toMatch(/^subgraph "cluster_net_\d+" \{\n\s+label="fx-internal/);
  });

  test("a container on several networks is drawn once, joined to each of them", () => {
    const joined = edges(dot)
      .filter((e) => e.from === "c:fx-edge" && e.to.startsWith("n:"))
      .map((e) => e.to);
    expect(joined.sort()).toEqual(["n:fx-edge-net", "n:fx-gate-net", "n:fx-internal"]);
    expect(dot.split("\n").filter((l) => l.trim().startsWith('"c:fx-edge" ['))).toHaveLength(1);
  });

  test("a caller that is not in the stack is drawn as such, not dropped", () => {
    const other = trustZoneDot(
      fixtureStack({ gateCallers: JSON.stringify([{ caller: "billing-api", port: 4180, auth: "mtls" }]) }),
    );
    expect(nodeLine(other, "u:billing-api")).toContain("not in this stack");
    expect(flowEdges(other).find((e) => e.to === "c:fx-gate")!.from).toBe("u:billing-api");
  });

  test("a zta.callers value Terraform computes is noted on the container, not guessed and not refused", () => {
    const computed = trustZoneDot(fixtureStack({ gateCallers: "${jsonencode(local.gate_callers)}" }));
    expect(nodeLine(computed, "c:fx-gate")).toContain("zta.callers is computed by Terraform: its flows are not drawn");
    expect(flowEdges(computed).filter((e) => e.to === "c:fx-gate")).toEqual([]);
  });

  test("a flow without authentication is drawn red", () => {
    const open = trustZoneDot(
      fixtureStack({ gateCallers: JSON.stringify([{ caller: "fx-chat", port: 4180, auth: "none" }]) }),
    );
    expect(flowEdges(open).find((e) => e.to === "c:fx-gate")!.attrs).toContain(`color="${RED}"`);
    expect(flowEdges(dot).find((e) => e.to === "c:fx-gate")!.attrs).not.toContain(RED);
  });

  test.each([
    ["a value that is not JSON", "mtls from the edge"],
    ["an object instead of an array", JSON.stringify({ caller: "fx-edge", port: 4180, auth: "mtls" })],
    ["an unknown auth", JSON.stringify([{ caller: "fx-edge", port: 4180, auth: "password" }])],
    ["a port out of range", JSON.stringify([{ caller: "fx-edge", port: 70000, auth: "mtls" }])],
    ["a missing caller", JSON.stringify([{ port: 4180, auth: "mtls" }])],
  ])("a zta.callers label with %s is a ConfigError naming the container, the label and the fix", (_what, value) => {
    let error: unknown;
    try {
      trustZoneDot(fixtureStack({ gateCallers: value }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('docker_container.gate ("fx-gate") label zta.callers');
    expect(message).toContain('"auth": "<mtls+oidc|mtls|access-jwt|tailnet|loopback|network-only|none>"');
  });
});

describe("published ports", () => {
  const portNode = (ip: string | null) => {
    const dot = trustZoneDot(fixtureStack({ edgeIp: ip }));
    const line = dot.split("\n").find((l) => l.trim().startsWith('"p:fx-edge:'))!;
    const publish = edges(dot).find((e) => e.from.startsWith("p:fx-edge:"))!;
    return { line, publish };
  };

  test.each([["0.0.0.0"], ["::"], ["0:0:0:0:0:0:0:0"], ["::ffff:0.0.0.0"], [""]])(
    "%p binds every interface: red",
    (ip) => {
      const { line, publish } = portNode(ip);
      expect(line).toContain(`color="${RED}"`);
      expect(line).toContain("EVERY interface");
      expect(publish.to).toBe("c:fx-edge");
      expect(publish.attrs).toContain(`color="${RED}"`);
    },
  );

  test("an unset ip is Docker's default 0.0.0.0: red", () => {
    const { line } = portNode(null);
    expect(line).toContain(`color="${RED}"`);
    expect(line).toContain("0.0.0.0:443/tcp\\nEVERY interface (ip unset)");
  });

  test("a specific LAN address binds more than loopback: red", () => {
    const { line } = portNode("192.168.1.10");
    expect(line).toContain(`color="${RED}"`);
    expect(line).toContain("beyond loopback");
  });

  test.each([["127.0.0.1"], ["127.0.0.53"], ["::1"], ["::ffff:127.0.0.1"]])("%p is loopback: not red", (ip) => {
    const { line, publish } = portNode(ip);
    expect(line).toContain("loopback only");
    expect(line).not.toContain(RED);
    expect(publish.attrs).not.toContain(RED);
  });

  test("isLoopback reads the address, not its spelling", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "", "not-an-ip"].some(isLoopback)).toBe(false);
  });
});

describe("policy findings", () => {
  test("an open finding is marked on the container it concerns; a suppressed one is not", () => {
    const dot = trustZoneDot(fixtureStack(), fixtureReport());
    const edge = nodeLine(dot, "c:fx-edge")!;
    expect(edge).toContain("open finding ZTA-CTR-001 (error): Port published on every host interface");
    expect(edge).toContain(`color="${RED}", penwidth=2.5`);
    expect(dot).not.toContain("ZTA-CTR-011");
    expect(nodeLine(dot, "c:fx-vllm")).not.toContain(RED);
  });

  test("the same finding, suppressed, leaves no mark", () => {
    const report = fixtureReport();
    const suppressed = { findings: report.findings!.map((f) => ({ ...f, status: "suppressed" })) };
    const dot = trustZoneDot(fixtureStack(), suppressed);
    expect(dot).not.toContain("open finding");
    expect(nodeLine(dot, "c:fx-edge")).not.toContain(RED);
  });

  test("a finding on an image marks the containers running it; one on a loader marks the service it is drawn in", () => {
    const dot = trustZoneDot(fixtureStack(), {
      findings: [
        {
          ruleId: "ZTA-IMG-001",
          title: "Image not pinned",
          level: "warning",
          status: "open",
          resource: "docker_image.caddy",
        },
        {
          ruleId: "ZTA-CTR-002",
          title: "Privileged",
          level: "error",
          status: "open",
          resource: "docker_container.edge_loader",
        },
      ],
    });
    expect(nodeLine(dot, "c:fx-edge")).toContain("open finding ZTA-IMG-001 (warning): Image not pinned");
    expect(nodeLine(dot, "c:fx-edge")).toContain(
      "open finding ZTA-CTR-002 (error): Privileged [fx-edge-config-loader]",
    );
    expect(nodeLine(dot, "c:fx-gate")).not.toContain("open finding");
  });
});

describe("the default stack", () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-diagram-"));
  const app = new App({ outdir });
  new DefaultInferenceStack(app, "zero-trust-ai");
  app.synth();
  const dir = path.join(outdir, "stacks", "zero-trust-ai");
  const json = JSON.parse(fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8"));
  const report = JSON.parse(fs.readFileSync(path.join(dir, "security-report.json"), "utf8"));
  const dot = trustZoneDot(json, report);
  const containers = Object.values<any>(json.resource.docker_container);
  const networks = Object.values<any>(json.resource.docker_network).map((n) => n.name as string);

  test("every container and every network appears", () => {
    expect(containers.length).toBeGreaterThanOrEqual(8);
    for (const c of containers) {
      if (c.labels.some((l: any) => l.value === "config-loader"))
        expect([c.name, dot]).toEqual([c.name, expect.stringContaining(`config via ${c.name} (loader)`)]);
      else
        expect([c.name, nodeLine(dot, `c:${c.name}`)]).toEqual([c.name, expect.stringContaining(`<B>${c.name}</B>`)]);
    }
    expect(networks.length).toBeGreaterThanOrEqual(4);
    for (const n of networks) expect(dot).toContain(`label="${n}\\n`);
  });

  test("its only published port is loopback, it has no open finding, and every flow is one its labels declare", () => {
    expect(dot).not.toContain(RED);
    expect(dot).toContain("127.0.0.1:443/tcp\\nloopback only");
    expect(report.findings.length).toBeGreaterThan(0);
    expect(dot).not.toContain("open finding");
    const declared = labelledFlows(json);
    expect(declared).toEqual([
      "inference-edge mtls :9180",
      "inference-edge mtls+oidc :8443",
      "inference-gate network-only :4443",
      "inference-observability-grafana-proxy mtls :8443",
      "inference-observability-prometheus mtls :9090",
      "inference-vllm-0-mtls mtls :8443",
      "inference-vllm-0-mtls mtls :8443",
    ]);
    expect(flowEdges(dot)).toHaveLength(declared.length);
  });

  test("writeTrustZoneDiagrams writes the DOT and the SVG next to cdk.tf.json and the report", async () => {
    const files = await writeTrustZoneDiagrams(app);
    expect(files).toEqual([path.join(dir, "trust-zones.dot"), path.join(dir, "trust-zones.svg")]);
    expect(fs.readFileSync(files[0], "utf8")).toBe(trustZoneDot(json, report, "zero-trust-ai"));
    expect(fs.readFileSync(files[1], "utf8")).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\n?$/);
  });
});

describe("the team example (tailnet and Cloudflare)", () => {
  const json = JSON.parse(Testing.synth(new TeamStack(Testing.app(), "team"), true));
  const dot = trustZoneDot(json);

  test("every container and network appears; the tailnet and Cloudflare zones say what they expose", () => {
    for (const c of Object.values<any>(json.resource.docker_container)) {
      expect([c.name, dot.includes(`"c:${c.name}" [`) || dot.includes(`config via ${c.name} (loader)`)]).toEqual([
        c.name,
        true,
      ]);
    }
    for (const n of Object.values<any>(json.resource.docker_network)) expect(dot).toContain(`label="${n.name}\\n`);
    expect(nodeLine(dot, "z:tailnet")).toContain("node ai");
    expect(nodeLine(dot, "z:cloudflare")).toContain("chat.example.com");
    expect(nodeLine(dot, "z:cloudflare")).toContain("Access allows: email alice@example.org, email_domain example.com");
  });

  test("tailscale and cloudflared are joined to their zones by dotted outbound lines, and nothing else is drawn into the stack", () => {
    const outbound = edges(dot)
      .filter((e) => e.attrs.includes("style=dotted"))
      .map((e) => `${e.from} ${e.to}`);
    expect(outbound.sort()).toEqual(["z:cloudflare c:inference-chat-cloudflared", "z:tailnet c:inference-edge-ts-ai"]);
    // The flows drawn are exactly the declared ones: tailnet and Cloudflare in, their hops to the edge and the chat proxy, the edge and the chat UI to the sidecar.
    expect(flowEdges(dot)).toHaveLength(labelledFlows(json).length);
    expect(labelledFlows(json)).toEqual(
      expect.arrayContaining([
        "inference-chat-proxy access-jwt :8444",
        "inference-edge mtls :8443",
        "inference-edge-ts-ai mtls :443",
      ]),
    );
    expect(nodeLine(dot, "c:inference-chat-proxy")).toBeDefined();
    expect(subgraph(dot, "cluster_ns_inference-chat")).toContain('"c:inference-chat-proxy" [');
  });
});

describe("renderTrustZoneSvg", () => {
  test("the SVG names every container and every flow", async () => {
    const svg = svgText(await renderTrustZoneSvg(trustZoneDot(fixtureStack(), fixtureReport())));
    for (const name of FIXTURE_CONTAINERS) {
      expect(svg).toContain(`<title>c:${name}</title>`);
      expect(svg).toMatch(new RegExp(`<text[^>]*>${name}</text>`));
    }
    for (const [from, to, auth, port] of FIXTURE_FLOWS) {
      expect(svg).toContain(`<title>${from}->${to}</title>`);
      expect(svg).toMatch(new RegExp(`<text[^>]*>${auth.replace("+", "\\+")} :${port}</text>`));
    }
    expect(svg).toContain("open finding ZTA-CTR-001");
  });

  test("a DOT syntax error is reported, not rendered as an empty picture", async () => {
    await expect(renderTrustZoneSvg("digraph { a -> }")).rejects.toThrow(
      /Graphviz could not render the trust-zone diagram/,
    );
  });
});
