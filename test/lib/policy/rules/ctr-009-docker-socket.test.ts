import { dockerSocket as rule } from "../../../../lib/policy/rules/ctr-009-docker-socket";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-009 engine socket mounted", () => {
  test("a project directory is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", {
      volumes: [{ hostPath: "/srv/agent/repo", containerPath: "/workspace", readOnly: true }],
    });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("the Docker socket (volumes, read-only) or its directory (mounts) is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "sock", {
      volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true }],
    });
    compliantContainer(stack, "dir", { mounts: [{ type: "bind", source: "/run", target: "/host-run" }] });
    compliantContainer(stack, "rootless", {
      mounts: [{ type: "bind", source: "/run/user/1000/docker.sock", target: "/d.sock" }],
    });
    for (const id of ["sock", "dir", "rootless"]) expect(statusOf(rule, stack, id)).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
