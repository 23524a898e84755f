import { TerraformResource } from "cdktf";
import { Construct } from "constructs";

/**
 * `tailscale_tailnet_key`: a pre-authentication key. Schema read in
 * tailscale/terraform-provider-tailscale `tailscale/resource_tailnet_key.go` and the provider's
 * registry docs: `reusable`, `ephemeral`, `preauthorized`, `tags` (all ForceNew), `expiry`
 * (seconds), `description`; computed `key` is **Sensitive**.
 */
export interface TailnetKeyConfig {
  /** @default false */
  readonly reusable?: boolean;
  /** @default false */
  readonly ephemeral?: boolean;
  /** @default false */
  readonly preauthorized?: boolean;
  /** ACL tags the node takes on (`tag:name`). */
  readonly tags?: string[];
  /** Seconds until the key expires (not the node). @default the API's (90 days) */
  readonly expiry?: number;
  readonly description?: string;
}

export class TailnetKey extends TerraformResource {
  private readonly config: TailnetKeyConfig;

  constructor(scope: Construct, id: string, config: TailnetKeyConfig) {
    super(scope, id, {
      terraformResourceType: "tailscale_tailnet_key",
      terraformGeneratorMetadata: { providerName: "tailscale" },
    });
    this.config = config;
  }

  /** The auth key (sensitive in the provider schema; a Terraform reference here). */
  public get key(): string {
    return this.getStringAttribute("key");
  }

  protected synthesizeAttributes(): { [name: string]: unknown } {
    const c = this.config;
    const attrs: { [name: string]: unknown } = {
      reusable: c.reusable,
      ephemeral: c.ephemeral,
      preauthorized: c.preauthorized,
      tags: c.tags,
      expiry: c.expiry,
      description: c.description,
    };
    return Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
  }
}
