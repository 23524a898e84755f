/**
 * The gateway stack of the engine suite: SecureInference + ApiGateway with two apps whose model allowlists
 * differ (both models are names for the one model vLLM serves), and the spend exporter. Own name prefix and host port, so its
 * Docker names never collide with the other stacks'.
 */
import { TerraformStack } from "cdktf";
import { ApiGateway, GatewayAppProps, SecureInference } from "../../index";
import { inferenceProps, stackWithProviders } from "../helpers";

export const GW_PREFIX = "gwe";
export const GW_HOST_PORT = 9445;
export const GW_HOSTNAME = "api.example.internal";
export const GW_NAME = `${GW_PREFIX}-gateway`;
export const APP_A = "app-a";
export const APP_B = "app-b";
export const MODEL_A = "model-a";
export const MODEL_B = "model-b";

/** The apps of the first apply: A may call model-a only, B model-b only (B's key expires and rotates). */
export const GW_APPS: GatewayAppProps[] = [
  { name: APP_A, models: [MODEL_A], requestsPerMinute: 100 },
  { name: APP_B, models: [MODEL_B], requestsPerMinute: 100, rotateAfterDays: 90 },
];

export function gatewayStack(apps: GatewayAppProps[] = GW_APPS): TerraformStack {
  const stack = stackWithProviders("gateway");
  const ai = new SecureInference(stack, "inference", inferenceProps(stack, { namePrefix: GW_PREFIX, hostPort: GW_HOST_PORT }));
  new ApiGateway(stack, "gateway", {
    inference: ai,
    hostname: GW_HOSTNAME,
    models: [{ name: MODEL_A }, { name: MODEL_B }],
    apps,
    // No AuditLog in this stack: the exporter's lines stay in its Docker log, where the suite reads them.
    // No settle lag (the stand-in writes each row right after the answer) and a short interval: one call shows at once.
    auditSpendLogs: true,
    spendLogIntervalSeconds: 5,
    spendLogSettleSeconds: 0,
  });
  return stack;
}
