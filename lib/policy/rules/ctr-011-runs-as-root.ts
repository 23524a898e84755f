import { isRootUser } from "../../sensitive";
import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, skipNeverStarted } from "./common";

export const runsAsRoot: PolicyRule = {
  meta: {
    id: "ZTA-CTR-011",
    title: "Runs as root",
    explanation:
      "Without `user`, the image's default user runs the process, and for most images that is root. Root in a container is root on the host's kernel (without user-namespace remapping): every kernel or runtime escape starts from full privileges, and root-owned files on mounts are writable.",
    fix: 'Set `user` to a non-root uid:gid the image works with (e.g. "65532:65532"). If the image truly needs uid 0, drop all capabilities, keep no-new-privileges and a read-only rootfs, and suppress this rule with the reason.',
    severity: RuleSeverity.MEDIUM,
    references: [CIS("4.1", "Ensure that a user for the container has been created")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    const user = c.config.user;
    if (typeof user !== "string" || user.trim() === "")
      return nonCompliant("user is not set: the image's default user (usually root) runs it");
    if (isExpression(user)) return notApplicable("user is a Terraform expression");
    return isRootUser(user) ? nonCompliant(`user is ${JSON.stringify(user)}`) : compliant();
  },
};
