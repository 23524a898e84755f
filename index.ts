// Public API of cdktf-zero-trust-ai. Everything a stack file needs is exported from here.
export { SecureInference, InferenceRoutes } from "./constructs/secure-inference";
export type {
  SecureInferenceProps,
  ModelProps,
  OperatorProps,
  VllmProps,
  ImageOverrides,
} from "./constructs/secure-inference";
export { InternalCa } from "./constructs/internal-ca";
export type {
  InternalCaProps,
  IssuedCertificate,
  ServerCertificateOptions,
  ClientCertificateOptions,
  OperatorBundle,
} from "./constructs/internal-ca";
export { EdgeProxy } from "./constructs/edge-proxy";
export type { EdgeMetricsTarget, EdgeProxyProps, PublishedSite } from "./constructs/edge-proxy";
export { MtlsSidecar } from "./constructs/mtls-sidecar";
export type { MtlsSidecarProps, RateLimitProps, SidecarLimits } from "./constructs/mtls-sidecar";
export { OidcGate, GATE_AUTH_LOG_FORMAT, GATE_REQUEST_LOG_FORMAT } from "./constructs/oidc-gate";
export type { OidcGateProps, OidcSettings } from "./constructs/oidc-gate";
export { VllmServer, ModelFetch } from "./constructs/vllm-server";
export type { VllmServerProps, ModelFetchProps } from "./constructs/vllm-server";
export { ClientCertMode } from "./lib/caddyfile";
export type { EdgeSite } from "./lib/caddyfile";
export type { SidecarCaller } from "./lib/nginx";
export { ConfigError, stackProblems, synthOrExit } from "./lib/errors";
export type { ConfigProblem } from "./lib/errors";
export { ImageCatalog } from "./lib/images";
export type { CatalogImage } from "./lib/images";
export { SandboxRunner } from "./constructs/sandbox-runner";
export type {
  SandboxRunnerProps,
  SandboxWorkspace,
  SandboxEnvVar,
  SandboxSecretEnvOptIn,
} from "./constructs/sandbox-runner";
export { SecurityPolicy, PolicyViolationError } from "./lib/policy/security-policy";
export type { SecurityPolicyProps, StackPolicyResult } from "./lib/policy/security-policy";
export { PolicyProfile } from "./lib/policy/profiles";
export { RuleSeverity, FindingLevel, OutcomeStatus, RuleOutcomes } from "./lib/policy/types";
export type { IPolicyRule, IStackView, ResourceView, RuleMetadata, RuleOutcome } from "./lib/policy/types";
export type { Finding, Suppression } from "./lib/policy/engine";
export { ChatUi } from "./constructs/chat-ui";
export type { ChatUiProps } from "./constructs/chat-ui";
export { TailscaleExposure } from "./constructs/tailscale-exposure";
export type { TailscaleExposureProps, TailnetKeyRequest, TailnetAclProps } from "./constructs/tailscale-exposure";
export { TailscaleProvider } from "./constructs/tailscale/provider";
export type { TailscaleProviderConfig } from "./constructs/tailscale/provider";
export { TailnetKey } from "./constructs/tailscale/tailnet-key";
export type { TailnetKeyConfig } from "./constructs/tailscale/tailnet-key";
export { TailscaleAcl } from "./constructs/tailscale/acl";
export type { TailscaleAclConfig } from "./constructs/tailscale/acl";
export { CloudflareTunnel } from "./constructs/cloudflare-tunnel";
export type { CloudflareTunnelProps, CloudflareAccessProps } from "./constructs/cloudflare-tunnel";
export { Observability } from "./constructs/observability";
export type { ObservabilityProps } from "./constructs/observability";
export type { AlertThresholds } from "./lib/alert-rules";
export { EncryptedBackup } from "./constructs/encrypted-backup";
export type { EncryptedBackupProps, BackupVolume, BackupPostgres, BackupRepository, BackupKeep } from "./constructs/encrypted-backup";
export { HardenedJob, HardenedService } from "./constructs/hardened-service";
export type { AllowFromOptions, HardenedServiceIds, HardenedServiceProps, JustifiedSuppression, ServiceHardening } from "./constructs/hardened-service";
export { Authentication, ExternalZone, TrustGraph } from "./constructs/trust-graph";
export type { AllowExternalProps, AllowProps, TrustFlow } from "./constructs/trust-graph";
export { ServiceIdentities, ServiceRole, serviceIdentity } from "./lib/identities";
export type { ServiceIdentity } from "./lib/identities";
export type { SidecarCallerOptions } from "./constructs/mtls-sidecar";
export { isAuditTrailReader, isInferenceApi } from "./constructs/interfaces";
export type { IAuditTrailReader, IInferenceApi, ITunnelApp, ITunnelTarget, InferenceCallerOptions, TunnelOrigin, TunnelTargetDescription } from "./constructs/interfaces";
export { renderTrustZoneSvg, trustZoneDot, writeTrustZoneDiagrams } from "./lib/trust-diagram";
export { containerFindings } from "./lib/policy/hardened";
export { AuditLog, AUDIT_COLLECTOR_ROLE, AUDIT_RETENTION_LABEL, AUDIT_RETENTION_ROLE } from "./constructs/audit-log";
export type { AuditLogProps } from "./constructs/audit-log";
export { AUDIT_RETENTION_DAYS } from "./lib/audit";
export { AUDIT_EVENTS, AuditVerification, checkAuditEvent, checkAuditRecord, classifyAuditRecord, renderEventTable } from "./lib/audit-events";
export type { AuditEventType, AuditField, AuditFieldType, CheckOptions } from "./lib/audit-events";
export { ApiGateway, GatewayRole, GATEWAY_IDENTITY, GATEWAY_SERVER_NAME } from "./constructs/api-gateway";
export type { ApiGatewayProps, GatewayAppProps, GatewayModelProps } from "./constructs/api-gateway";
export { Lockdown, LOCKDOWN_VARIABLE } from "./constructs/lockdown";
export type { WithdrawnExposure } from "./constructs/lockdown";
