import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { TerraformStack } from "cdktf";
import { renderSidecarNginxConfig } from "../../../../lib/nginx";
import {
  metricsProblems,
  metricsUnauthenticated as rule,
} from "../../../../lib/policy/rules/ai-002-metrics-unauthenticated";
import { OutcomeStatus, PINNED, VLLM, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

const GUARDED = renderSidecarNginxConfig({
  listenPort: 8443,
  healthPort: 8081,
  upstream: "127.0.0.1:8000",
  configDir: "/etc/zta",
  runDir: "/tmp",
  accessLog: "/dev/stdout",
  errorLog: "/dev/stderr",
  routes: ["/v1/chat/completions"],
  callers: [
    { role: "edge", subjectDn: "CN=zta-edge,OU=zta-services,O=x", forwardsIdentity: true, mayScrapeMetrics: false },
  ],
  maxRequestBodyMb: 4,
  requestsPerMinute: 60,
  burst: 20,
  maxConcurrent: 8,
  generationTimeoutSeconds: 600,
});

const PASS_THROUGH = `http { server { listen 8443 ssl; ssl_verify_client on;
  location / { proxy_pass http://127.0.0.1:8000; }
} }`;

const OPEN_METRICS = GUARDED.replace(/if \(\$zta_may_scrape = 0\) \{\s*return 404;\s*\}/, "");

/** A sidecar with its nginx.conf uploaded into a volume by a loader, as ConfigVolume does. */
function sidecar(stack: TerraformStack, id: string, conf: string): void {
  const volume = new Volume(stack, `${id}-volume`, { name: `${id}-config` });
  new Container(stack, `${id}-loader`, {
    name: `${id}-loader`,
    image: PINNED,
    start: false,
    volumes: [{ volumeName: volume.name, containerPath: "/zta-load" }],
    upload: [{ file: "/zta-load/nginx.conf", content: conf }],
  });
  compliantContainer(stack, id, {
    labels: [{ label: "zta.role", value: "mtls-sidecar" }],
    volumes: [{ volumeName: volume.name, containerPath: "/etc/zta", readOnly: true }],
  });
}

describe("ZTA-AI-002 metrics reachable without auth", () => {
  test("the library's rendered sidecar config (scraper-only /metrics, client certs required) is compliant", () => {
    expect(metricsProblems(GUARDED)).toEqual([]);
    const stack = newStack();
    sidecar(stack, "sidecar", GUARDED);
    expect(statusOf(rule, stack, "sidecar")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a pass-through sidecar, an unguarded /metrics, a missing config, or a vLLM with a published port is non-compliant", () => {
    const stack = newStack();
    sidecar(stack, "pass", PASS_THROUGH);
    sidecar(stack, "open", OPEN_METRICS);
    compliantContainer(stack, "noconf", { labels: [{ label: "zta.role", value: "mtls-sidecar" }] });
    compliantContainer(stack, "vllm", { image: VLLM, ports: [{ internal: 8000, external: 8000, ip: "127.0.0.1" }] });
    const o = outcomes(rule, stack);
    expect(o.pass.detail).toContain("location /");
    expect(o.open.detail).toContain("/metrics");
    for (const id of ["pass", "open", "noconf", "vllm"]) expect(o[id].status).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a listener that does not require client certificates is non-compliant", () => {
    expect(metricsProblems(GUARDED.replace("ssl_verify_client on;", "ssl_verify_client optional;"))).toHaveLength(1);
  });
});
