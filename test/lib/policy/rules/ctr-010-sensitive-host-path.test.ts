import { sensitiveHostPathMounted as rule } from "../../../../lib/policy/rules/ctr-010-sensitive-host-path";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-010 sensitive host path mounted", () => {
  test("a project directory is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", { mounts: [{ type: "bind", source: "/srv/agent/repo", target: "/workspace", readOnly: true }] });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test.each(["/", "/etc", "/home/dev/.ssh", "/home/dev", "/root/.aws", "/home/dev/.config/gcloud", "/srv/x/.kube", "/var", "/var/lib/docker/volumes"])(
    "%s is non-compliant",
    (hostPath) => {
      const stack = newStack();
      compliantContainer(stack, "bad", { volumes: [{ hostPath, containerPath: "/mnt", readOnly: true }] });
      expect(statusOf(rule, stack, "bad")).toBe(OutcomeStatus.NON_COMPLIANT);
    },
  );
});
