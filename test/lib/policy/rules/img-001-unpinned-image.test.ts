import { unpinnedImage as rule } from "../../../../lib/policy/rules/img-001-unpinned-image";
import { OutcomeStatus, PINNED, compliantContainer, newStack, pinnedImage, statusOf } from "../fixtures";

describe("ZTA-IMG-001 image not pinned by digest", () => {
  test("a digest reference (image or container literal) is compliant; a container running a docker_image is judged on the image", () => {
    const stack = newStack();
    const image = pinnedImage(stack, "img", PINNED);
    compliantContainer(stack, "literal");
    compliantContainer(stack, "managed", { image: image.imageId });
    expect(statusOf(rule, stack, "img")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "literal")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "managed")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });

  test("a tag is non-compliant on docker_image and on a container literal", () => {
    const stack = newStack();
    pinnedImage(stack, "img", "python:3.12-slim");
    compliantContainer(stack, "latest", { image: "nginx:latest" });
    expect(statusOf(rule, stack, "img")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "latest")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
