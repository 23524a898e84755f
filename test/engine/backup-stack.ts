/**
 * The backup stack of the engine suite: SecureInference + ChatUi + EncryptedBackup of the chat UI's data
 * volume into a local repository (the README's example without the databases: the catalog's restic image
 * has no sqlite3 or pg_dump, so database sources need a job image of their own). Own name prefix and host
 * port, so its Docker names never collide with the other stacks'.
 */
import { TerraformStack } from "cdktf";
import { ChatUi, EncryptedBackup, SecureInference } from "../../index";
import { inferenceProps, stackWithProviders } from "../helpers";

export const BKP_PREFIX = "bkp";
export const BKP_JOB = `${BKP_PREFIX}-backup`;

export function backupStack(repositoryPath: string): TerraformStack {
  const stack = stackWithProviders("backup");
  const ai = new SecureInference(stack, "inference", inferenceProps(stack, { namePrefix: BKP_PREFIX, hostPort: 9444 }));
  const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.internal" });
  new EncryptedBackup(stack, "backup", {
    name: BKP_JOB,
    volumes: [{ volumeName: chat.dataVolume.name, name: "webui-data", exclude: ["cache"] }],
    repository: { localPath: repositoryPath },
    schedule: "daily",
    keep: { daily: 7, weekly: 4, monthly: 6 },
    restoreDrill: "quarterly",
  });
  return stack;
}
