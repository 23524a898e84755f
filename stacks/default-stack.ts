import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { Aspects, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { Lockdown, Observability, PolicyProfile, SecureInference, SecurityPolicy } from "../index";

/**
 * The default stack: one vLLM replica of a small pinned model behind the full chain, published
 * on 127.0.0.1:443 only, with OIDC, and Observability: Prometheus (scraping the sidecars over mTLS, alert
 * rules) and Grafana as its own site behind the gate (the production profile's default; both run on the
 * real-engine suite). Synthesizes with no credentials: the OIDC client secret and
 * the Hugging Face token are sensitive Terraform variables, asked for at plan time; everything
 * else secret is generated.
 */
export interface DefaultInferenceStackProps {
  /** Add the Observability construct (Prometheus + Grafana). @default true */
  readonly observability?: boolean;
}

export class DefaultInferenceStack extends TerraformStack {
  public readonly inference: SecureInference;
  public readonly observability?: Observability;

  constructor(scope: Construct, id: string, props: DefaultInferenceStackProps = {}) {
    super(scope, id);
    // State holds every private key (the CA's too). cdktf's LocalBackend default is an absolute
    // path in the project root (process.cwd()/terraform.<id>.tfstate), one `git add -A` from a
    // commit. Relative to where terraform runs (cdktf.out/stacks/<id>/), this is
    // <project>/.terraform-state/, which .gitignore excludes; use a remote backend for real work.
    new LocalBackend(this, { path: `../../../.terraform-state/${id}.tfstate` });
    new DockerProvider(this, "docker", {});
    new TlsProvider(this, "tls", {});
    new RandomProvider(this, "random", {});

    const oidcClientSecret = new TerraformVariable(this, "oidc_client_secret", {
      type: "string",
      sensitive: true,
      description: "Client secret of the 'local-ai' client at the identity provider",
    });
    this.inference = new SecureInference(this, "inference", {
      model: {
        name: "Qwen/Qwen2.5-0.5B-Instruct",
        revision: "7ae557604adf67be50417f59c2c2f167def9a775",
      },
      domain: "ai.example.internal",
      operators: [{ name: "devops-laptop", email: "devops@example.com" }],
      oidc: {
        issuerUrl: "https://idp.example.com/realms/prod",
        clientId: "local-ai",
        clientSecret: oidcClientSecret.value,
      },
      metricsScraper: true,
    });
    if (props.observability ?? true) {
      this.observability = new Observability(this, "observability", {
        inference: this.inference,
        grafanaHostname: "grafana.example.internal",
        retentionDays: 30,
        grafanaAdminEmail: "devops@example.com",
      });
    }
    // Last, after every exposure: `terraform apply -var lockdown=true` withdraws them all (runbook 5).
    new Lockdown(this, "lockdown");
    // Every synth checks the stack against the production profile and writes
    // security-report.json / .sarif next to cdk.tf.json.
    Aspects.of(this).add(new SecurityPolicy({ profile: PolicyProfile.PRODUCTION }));
  }
}
