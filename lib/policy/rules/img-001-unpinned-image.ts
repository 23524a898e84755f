import { isDigestPinned } from "../../validate";
import { isExpression, str } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM } from "./common";

/** An image id (`sha256:<64 hex>`) is as immutable as a digest reference. */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

export const unpinnedImage: PolicyRule = {
  meta: {
    id: "ZTA-IMG-001",
    title: "Image not pinned by digest",
    explanation:
      "A tag (`:latest`, `:v0.11.0`) can be moved to different content by whoever controls the registry or the tag: a plan that did not change can deploy different code.",
    fix: "Use `repo:tag@sha256:<64 hex>` (`docker buildx imagetools inspect repo:tag` prints the digest) in `docker_image.name` or the container's `image`.",
    severity: RuleSeverity.MEDIUM,
    references: [
      CIS("5.27", "Ensure that Docker commands always make use of the latest version of their image"),
      OWASP_LLM("LLM03", "Supply Chain"),
    ],
    resourceTypes: ["docker_image", "docker_container"],
  },
  check(r, stack) {
    // A container that references a managed docker_image is judged on that image resource.
    const name = r.type === "docker_image" ? str(r.config.name) : str(r.config.image);
    if (name === undefined) return nonCompliant("no image name");
    if (r.type === "docker_container" && stack.referenced(name))
      return notApplicable("runs a docker_image resource, which is checked itself");
    if (isExpression(name)) return notApplicable("the image is a Terraform expression");
    return isDigestPinned(name) || IMAGE_ID.test(name)
      ? compliant()
      : nonCompliant(`image ${JSON.stringify(name)} is not pinned by digest`);
  },
};
