/** A stack with every construct of the library (ApiGateway and AuditLog included), for the runbook and lockdown tests. */
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { ApiGateway, AuditLog, ChatUi, CloudflareTunnel, EncryptedBackup, Lockdown, Observability, SandboxRunner, SecureInference, TailscaleExposure, TailscaleProvider } from "../../index";
import { inferenceProps } from "../helpers";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";

export interface FullStackOptions {
  /** Create a Lockdown before every other construct (it must still withdraw every exposure made after it). */
  readonly lockdownFirst?: boolean;
}

export class FullStack extends TerraformStack {
  public readonly inference: SecureInference;
  constructor(scope: Construct, id: string, options: FullStackOptions = {}) {
    super(scope, id);
    new DockerProvider(this, "docker", {});
    new TlsProvider(this, "tls", {});
    new RandomProvider(this, "random", {});
    new CloudflareProvider(this as Construct, "cloudflare", {});
    new TailscaleProvider(this, "tailscale", {});
    if (options.lockdownFirst) new Lockdown(this);
    const ai = new SecureInference(this, "inference", { ...inferenceProps(this as TerraformStack), metricsScraper: true });
    this.inference = ai;
    // First: its routing aspect then audits every container below.
    new AuditLog(this, "audit", { ca: ai.ca });
    const chat = new ChatUi(this, "chat", { inference: ai, hostname: "chat.example.com" });
    const authKey = new TerraformVariable(this, "tailscale_auth_key", { type: "string", sensitive: true });
    new TailscaleExposure(this, "tailnet", { target: ai.edge, hostname: "ai", tailnetDomain: "tailnet-abc.ts.net", authKey: authKey.value });
    new CloudflareTunnel(this, "tunnel", {
      accountId: "0123456789abcdef0123456789abcdef",
      zoneId: "fedcba9876543210fedcba9876543210",
      hostname: "chat.example.com",
      target: chat,
      access: { emailDomains: ["example.com"] },
    });
    new Observability(this, "observability", { inference: ai, grafanaHostname: "grafana.example.internal", grafanaAdminEmail: "devops@example.com" });
    new EncryptedBackup(this, "backup", {
      name: "ai-backup",
      volumes: [{ volumeName: chat.dataVolume.name, name: "webui-data" }],
      repository: { localPath: "/srv/backups/ai" },
    });
    new ApiGateway(this, "gateway", {
      inference: ai,
      hostname: "api.example.internal",
      models: [{ name: ai.servedModelName, inputCostPerMillionTokensUsd: 0.1, outputCostPerMillionTokensUsd: 0.4 }],
      apps: [
        { name: "nightly-summaries", models: [ai.servedModelName], monthlyBudgetUsd: 20, requestsPerMinute: 30 },
        { name: "ide-assistant", models: [ai.servedModelName], requestsPerMinute: 120, tokensPerMinute: 200000, rotateAfterDays: 90 },
      ],
    });
    new SandboxRunner(this, "agent", {
      image: "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f",
      command: ["python", "/workspace/run_tests.py"],
      workspace: { hostPath: "/srv/agent/repo" },
    });
  }
}

export function fullStack(app = new App({ outdir: "cdktf.out.test" })): FullStack {
  return new FullStack(app, "full");
}
