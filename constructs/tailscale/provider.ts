import { TerraformProvider } from "cdktf";
import { Construct } from "constructs";

/**
 * A minimal hand-typed binding for the `tailscale/tailscale` Terraform provider (no prebuilt cdktf
 * package exists). Attribute names were read in the provider's source and registry docs
 * (tailscale/terraform-provider-tailscale `tailscale/provider.go`); nothing here was run against
 * the Tailscale API. Credentials: pass Terraform references (sensitive variables), never literals;
 * each also falls back to the provider's own environment variables (TAILSCALE_API_KEY,
 * TAILSCALE_OAUTH_CLIENT_ID, TAILSCALE_OAUTH_CLIENT_SECRET, TAILSCALE_TAILNET).
 */
export interface TailscaleProviderConfig {
  /** API access token. @default the TAILSCALE_API_KEY environment variable */
  readonly apiKey?: string;
  /** OAuth client id (preferred over an API key: scoped and not tied to a person). @default env */
  readonly oauthClientId?: string;
  /** OAuth client secret. @default env */
  readonly oauthClientSecret?: string;
  /** Tailnet name; "-" means the default tailnet of the credential. @default env, else "-" */
  readonly tailnet?: string;
}

export class TailscaleProvider extends TerraformProvider {
  private readonly config: TailscaleProviderConfig;

  constructor(scope: Construct, id: string, config: TailscaleProviderConfig = {}) {
    super(scope, id, {
      terraformResourceType: "tailscale",
      terraformGeneratorMetadata: { providerName: "tailscale", providerVersionConstraint: "~> 0.21" },
      terraformProviderSource: "tailscale/tailscale",
    });
    this.config = config;
  }

  protected synthesizeAttributes(): { [name: string]: unknown } {
    const attrs: { [name: string]: unknown } = {
      api_key: this.config.apiKey,
      oauth_client_id: this.config.oauthClientId,
      oauth_client_secret: this.config.oauthClientSecret,
      tailnet: this.config.tailnet,
    };
    return Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
  }
}
