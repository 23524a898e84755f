import { Network } from "@cdktf/provider-docker/lib/network";
import { inferenceExposed as rule } from "../../../../lib/policy/rules/ai-001-inference-exposed";
import { OutcomeStatus, VLLM, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-AI-001 inference container exposed", () => {
  test("vLLM on an internal network only, without ports, is compliant (label or image name)", () => {
    const stack = newStack();
    compliantContainer(stack, "labelled", { labels: [{ label: "zta.role", value: "inference" }] });
    compliantContainer(stack, "by-image", { image: VLLM });
    expect(statusOf(rule, stack, "labelled")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "by-image")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a published port, a non-internal network, the default bridge or an undeclared network is non-compliant", () => {
    const stack = newStack();
    const open = new Network(stack, "open", { name: "open" });
    compliantContainer(stack, "port", { image: VLLM, ports: [{ internal: 8000, external: 8000, ip: "127.0.0.1" }] });
    compliantContainer(stack, "open-net", { image: VLLM, networksAdvanced: [{ name: open.name }] });
    compliantContainer(stack, "bridge", { image: VLLM, networksAdvanced: undefined });
    compliantContainer(stack, "external", { image: VLLM, networksAdvanced: [{ name: "somebody-elses-net" }] });
    const o = outcomes(rule, stack);
    for (const id of ["port", "open-net", "bridge", "external"]) expect(o[id].status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o["open-net"].detail).toContain("not internal");
  });

  test("a container sharing vLLM's namespace is as exposed as vLLM; other containers are not applicable", () => {
    const stack = newStack();
    const open = new Network(stack, "open", { name: "open" });
    const owner = compliantContainer(stack, "owner", { networksAdvanced: [{ name: open.name }] });
    compliantContainer(stack, "vllm", {
      image: VLLM,
      networksAdvanced: undefined,
      networkMode: `container:${owner.id}`,
    });
    compliantContainer(stack, "web", {
      image: "nginx:1@sha256:" + "a".repeat(64),
      networksAdvanced: [{ name: open.name }],
    });
    expect(statusOf(rule, stack, "vllm")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "web")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
