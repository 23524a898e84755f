import { Aspects, Testing } from "cdktf";
import { App } from "cdktf";
import { HardenedJob, HardenedService, PolicyProfile, SecurityPolicy, ServiceIdentities } from "../../index";
import { OwnServiceStack } from "../../examples/own-service";
import {
  containerNamed,
  expectConfigError,
  hardeningGaps,
  label,
  resources,
  stackWithProviders,
  synth,
  uploaded,
} from "../helpers";

const IMAGE = { reference: `ghcr.io/example/app:1@sha256:${"b".repeat(64)}`, user: "10001:10001" };
const HARDENING = { memoryMb: 256, cpuShares: 256, healthcheck: ["/app/healthcheck"] };

describe("HardenedService: the README's own-service example", () => {
  const app = Testing.app();
  const stack = new OwnServiceStack(app as unknown as App, "own");
  const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
  Aspects.of(stack).add(policy);
  const json = synth(stack);
  const worker = containerNamed(json, "rag-worker");

  test("passes the production policy with no open finding of its own, and no hardening gap", () => {
    const open = policy.results
      .flatMap((r) => r.findings)
      .filter((f) => !f.suppression && f.path.includes("rag-worker"));
    expect(open).toEqual([]);
    expect(hardeningGaps(worker)).toEqual([]);
    expect(worker.user).toBe("10001:10001");
  });

  test("its identity is issued and mounted: ca.crt, client.crt, client.key, CN=zta-rag", () => {
    const files = ["ca.crt", "client.crt", "client.key"].map((f) => uploaded(json, "rag-worker-config-loader", f));
    expect(files.every((c) => c.includes("${"))).toBe(true);
    expect(JSON.stringify(resources(json, "tls_cert_request"))).toContain('"common_name":"zta-rag"');
    expect(worker.volumes).toEqual([expect.objectContaining({ container_path: "/etc/zta", read_only: true })]);
  });

  test("segmentation both ways: its own network to the replica; none shared with the gate or the edge", () => {
    const nets = resources(json, "docker_network");
    const nameOf = (ref: string) => Object.entries(nets).find(([id]) => ref.includes(`.${id}.`))?.[1].name;
    const workerNets = worker.networks_advanced.map((n: { name: string }) => nameOf(n.name));
    expect(workerNets).toEqual(["rag-worker-to-inference-vllm-0"]);
    const vllmNets = containerNamed(json, "inference-vllm-0").networks_advanced.map((n: { name: string }) =>
      nameOf(n.name),
    );
    expect(vllmNets).toContain("rag-worker-to-inference-vllm-0");
    for (const other of ["inference-gate", "inference-edge"]) {
      const theirs = containerNamed(json, other).networks_advanced.map((n: { name: string }) => nameOf(n.name));
      expect(theirs.filter((n: string) => workerNets.includes(n))).toEqual([]);
    }
  });

  test("the sidecars admit its subject and say so in their callers label", () => {
    const nginx = uploaded(json, "inference-vllm-0-mtls-config-loader", "nginx.conf");
    expect(nginx).toContain('"CN=zta-rag,OU=zta-services,O=cdktf-zero-trust-ai" rag;');
    const callers = JSON.parse(label(containerNamed(json, "inference-vllm-0-mtls"), "zta.callers") as string);
    expect(callers).toContainEqual({
      caller: "rag-worker",
      port: 8443,
      auth: "mtls",
      identity: "zta-rag",
      network: "rag-worker-to-inference-vllm-0",
    });
  });
});

describe("HardenedService: bad input is refused at synth, naming the prop", () => {
  const service = (props: Record<string, unknown>) => {
    const stack = stackWithProviders();
    new HardenedService(stack, "s", {
      name: "s",
      role: "app",
      catalogImage: IMAGE,
      hardening: HARDENING,
      ...props,
    } as never);
    return () => synth(stack);
  };

  test("an unpinned image", () => {
    expectConfigError(service({ image: "ghcr.io/example/app:latest" }), "image", /Pin the image by digest/);
  });
  test("root without a reason", () => {
    expectConfigError(service({ catalogImage: { reference: IMAGE.reference } }), "catalogImage.user", /rootReason/);
  });
  test("a service without a healthcheck", () => {
    expectConfigError(service({ hardening: { memoryMb: 64, cpuShares: 64 } }), "hardening.healthcheck", /HardenedJob/);
  });
  test("a published port without an address", () => {
    expectConfigError(service({ ports: [{ internal: 80, external: 8080 }] }), "ports.ip", /0\.0\.0\.0/);
  });
  test("an identity without the CA", () => {
    expectConfigError(service({ clientIdentity: ServiceIdentities.custom("x") }), "ca", /InternalCa/);
  });

  test("root with a reason is recorded as a suppression, not an open finding", () => {
    const stack = stackWithProviders();
    new HardenedService(stack, "s", {
      name: "s",
      role: "app",
      catalogImage: {
        reference: IMAGE.reference,
        rootReason: "the vendor image writes /var/run as root; tracked in OPS-7",
      },
      hardening: HARDENING,
    });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
    Aspects.of(stack).add(policy);
    synth(stack);
    const findings = policy.results.flatMap((r) => r.findings).filter((f) => f.ruleId === "ZTA-CTR-011");
    expect(findings).toEqual([
      expect.objectContaining({ suppression: expect.objectContaining({ reason: expect.stringContaining("OPS-7") }) }),
    ]);
  });
});

describe("HardenedJob", () => {
  test("hardened like a service, without a healthcheck, never recreated after it exits", () => {
    const stack = stackWithProviders();
    new HardenedJob(stack, "j", {
      name: "job",
      role: "job",
      catalogImage: IMAGE,
      hardening: { memoryMb: 128, cpuShares: 128 },
      networkMode: "none",
    });
    const c = containerNamed(synth(stack), "job");
    expect(c.healthcheck).toBeUndefined();
    expect(c.must_run).toBe(false);
    expect(c.network_mode).toBe("none");
    expect(hardeningGaps(c)).toEqual([]);
  });
});
