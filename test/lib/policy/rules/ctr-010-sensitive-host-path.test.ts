import { sensitiveHostPathMounted as rule } from "../../../../lib/policy/rules/ctr-010-sensitive-host-path";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-010 sensitive host path mounted", () => {
  test.each(["/srv/agent/repo", "/home/dev/projects/repo", "/tmp/agent-run", "/opt/models"])(
    "project directory %s is compliant",
    (source) => {
      const stack = newStack();
      compliantContainer(stack, "ok", { mounts: [{ type: "bind", source, target: "/workspace", readOnly: true }] });
      expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
    },
  );

  test.each([
    "/",
    "/etc",
    "/home/dev/.ssh",
    "/home/dev",
    "/root/.aws",
    "/home/dev/.config/gcloud",
    "/srv/x/.kube",
    "/var",
    "/var/lib/docker/volumes",
    "/home",
    "/Users/dev",
    "/tmp",
    "/tmp/ssh-XYZ123",
    "/run/user/1000",
  ])("%s is non-compliant", (hostPath) => {
    const stack = newStack();
    compliantContainer(stack, "bad", { volumes: [{ hostPath, containerPath: "/mnt", readOnly: true }] });
    expect(statusOf(rule, stack, "bad")).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a host path Terraform computes is not applicable; a literal one beside it is still judged", () => {
    const stack = newStack();
    const computed = { type: "bind", source: "${var.workspace}", target: "/workspace", readOnly: true };
    compliantContainer(stack, "computed", { mounts: [computed] });
    compliantContainer(stack, "mixed", {
      mounts: [computed],
      volumes: [{ hostPath: "/etc", containerPath: "/mnt", readOnly: true }],
    });
    expect(statusOf(rule, stack, "computed")).toBe(OutcomeStatus.NOT_APPLICABLE);
    expect(statusOf(rule, stack, "mixed")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
