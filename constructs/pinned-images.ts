import { Image } from "@cdktf/provider-docker/lib/image";
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";

/**
 * One `docker_image` per distinct reference in a stack, shared by every container that runs it
 * (the provider does not pull for `docker_container`; the image must be a managed resource).
 * `keep_locally` so destroying one construct never deletes an image another still runs.
 */
export class PinnedImages extends Construct {
  /** The stack's single instance, created on first use. */
  public static of(scope: Construct): PinnedImages {
    const stack = TerraformStack.of(scope);
    const existing = stack.node.tryFindChild(PinnedImages.ID);
    return existing instanceof PinnedImages ? existing : new PinnedImages(stack, PinnedImages.ID);
  }

  private static readonly ID = "zta-images";
  private readonly images = new Map<string, Image>();

  /** The image id to put in `docker_container.image`, pulling `reference` once per stack. */
  public imageId(reference: string): string {
    let image = this.images.get(reference);
    if (!image) {
      image = new Image(this, `image-${this.images.size}`, { name: reference, keepLocally: true });
      this.images.set(reference, image);
    }
    return image.imageId;
  }
}
