import { PolicyRule } from "../types";
import { inferenceExposed } from "./ai-001-inference-exposed";
import { metricsUnauthenticated } from "./ai-002-metrics-unauthenticated";
import { tunnelToInference } from "./ai-003-tunnel-to-inference";
import { modelRevision } from "./ai-004-model-revision";
import { monitoringUnauthenticated } from "./ai-005-monitoring-unauthenticated";
import { portAllInterfaces } from "./ctr-001-port-all-interfaces";
import { privileged } from "./ctr-002-privileged";
import { capabilities } from "./ctr-003-capabilities";
import { noNewPrivileges } from "./ctr-004-no-new-privileges";
import { writableRootfs } from "./ctr-005-writable-rootfs";
import { memoryLimit } from "./ctr-006-memory-limit";
import { cpuLimit } from "./ctr-007-cpu-limit";
import { hostNamespaces } from "./ctr-008-host-namespaces";
import { dockerSocket } from "./ctr-009-docker-socket";
import { sensitiveHostPathMounted } from "./ctr-010-sensitive-host-path";
import { runsAsRoot } from "./ctr-011-runs-as-root";
import { secretInEnv } from "./ctr-012-secret-env";
import { healthcheck } from "./ctr-013-healthcheck";
import { restartUnbounded } from "./ctr-014-restart-unbounded";
import { logRotation } from "./ctr-015-log-rotation";
import { unpinnedImage } from "./img-001-unpinned-image";
import { lanDriverNetwork } from "./net-001-lan-driver";

/** Every rule, in id order. Adding a rule: one file, one line here, one test file. */
export const ALL_RULES: PolicyRule[] = [
  portAllInterfaces,
  privileged,
  capabilities,
  noNewPrivileges,
  writableRootfs,
  memoryLimit,
  cpuLimit,
  hostNamespaces,
  dockerSocket,
  sensitiveHostPathMounted,
  runsAsRoot,
  secretInEnv,
  healthcheck,
  restartUnbounded,
  logRotation,
  unpinnedImage,
  lanDriverNetwork,
  inferenceExposed,
  metricsUnauthenticated,
  tunnelToInference,
  modelRevision,
  monitoringUnauthenticated,
];
