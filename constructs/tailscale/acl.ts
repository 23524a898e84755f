import { TerraformResource } from "cdktf";
import { Construct } from "constructs";

/**
 * `tailscale_acl`: the tailnet's whole policy file. Schema read in
 * tailscale/terraform-provider-tailscale `tailscale/resource_acl.go`: `acl` (HuJSON/JSON string),
 * `overwrite_existing_content` (skip the import-first safety check).
 * It REPLACES the tailnet policy: only manage it here if this stack owns the policy.
 */
export interface TailscaleAclConfig {
  /** The policy as JSON. */
  readonly acl: string;
  /** Overwrite a policy that was not imported first. @default false */
  readonly overwriteExistingContent?: boolean;
}

export class TailscaleAcl extends TerraformResource {
  private readonly config: TailscaleAclConfig;

  constructor(scope: Construct, id: string, config: TailscaleAclConfig) {
    super(scope, id, {
      terraformResourceType: "tailscale_acl",
      terraformGeneratorMetadata: { providerName: "tailscale" },
    });
    this.config = config;
  }

  protected synthesizeAttributes(): { [name: string]: unknown } {
    const attrs: { [name: string]: unknown } = {
      acl: this.config.acl,
      overwrite_existing_content: this.config.overwriteExistingContent,
    };
    return Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
  }
}
