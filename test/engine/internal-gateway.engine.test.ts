/**
 * Issue 8 (b): an `internal = true` network on Docker 20.10 still gets a gateway address on the host's
 * side of its bridge. Forwarding off the network is dropped, but the host itself answers there, so a
 * host service bound to all interfaces is reachable from inside. The library's internal networks set the
 * bridge driver option com.docker.network.bridge.inhibit_ipv4 (libnetwork's bridge driver then assigns
 * no IPv4 address to the bridge): nothing on the host holds the gateway address any more.
 */
import { Testing } from "cdktf";
import { apply, destroy, Deployment } from "./applier";
import { call, request, suiteLabels } from "./docker-api";
import { curlFrom, gatewayOf, hostServiceOnAllInterfaces, probeEach } from "./probe";
import { buildAllStandins } from "./standins";
import { SecureInference } from "../../index";
import { inferenceProps, stackWithProviders } from "../helpers";

describe("a host service bound to all interfaces, seen from an internal network", () => {
  let host: Awaited<ReturnType<typeof hostServiceOnAllInterfaces>>;
  let deployment: Deployment | undefined;
  const controlNetwork = "zta-gateway-control";

  beforeAll(async () => {
    host = await hostServiceOnAllInterfaces();
  });
  afterAll(async () => {
    if (deployment) await destroy(deployment);
    await request("DELETE", `/networks/${controlNetwork}`);
    await host.close();
  });

  it("negative control: from a plain `internal = true` network the host answers on the gateway", async () => {
    await call("POST", "/networks/create", { Name: controlNetwork, Internal: true, Labels: suiteLabels("gateway") });
    const gw = await gatewayOf(controlNetwork);
    const r = await curlFrom(controlNetwork, `http://${gw}:${host.port}/`);
    expect(r.status).toBe(200);
  });

  it("from the library's internal network (as synthesized) the host service is unreachable", async () => {
    const stack = stackWithProviders();
    new SecureInference(stack, "inference", inferenceProps(stack));
    const json = JSON.parse(Testing.synth(stack, true));
    // Only the networks: the containers are the other tests' business.
    const networks = { resource: { docker_network: json.resource.docker_network } };
    deployment = await apply(networks, { standins: await buildAllStandins() });
    const internal = Object.values<any>(json.resource.docker_network).filter((n) => n.internal === true);
    expect(internal.length).toBeGreaterThan(0);
    const before = host.connections();
    const seen = await probeEach(internal, async (n) => ({ network: n.name, status: (await curlFrom(n.name, `http://${await gatewayOf(n.name)}:${host.port}/`)).status }));
    expect({ seen, reachedHost: host.connections() > before }).toEqual({ seen: internal.map((n) => ({ network: n.name, status: 0 })), reachedHost: false });
  });
});
