import { Aspects, Testing } from "cdktf";
import { PolicyProfile } from "../../lib/policy/profiles";
import { SecurityPolicy } from "../../lib/policy/security-policy";
import { EncryptedBackup, EncryptedBackupProps } from "../../constructs/encrypted-backup";
import { IMAGES } from "../../lib/images";
import {
  containerNamed,
  expectConfigError,
  hardeningGaps,
  secretVariable,
  stackWithProviders,
  synth,
  uploaded,
} from "../helpers";

const JOB_IMAGE = "registry.example.internal/zta-backup-job:1@sha256:" + "a".repeat(64);

function build(overrides: Partial<EncryptedBackupProps> = {}) {
  const stack = stackWithProviders();
  new EncryptedBackup(stack, "backup", {
    name: "ai-backup",
    volumes: [{ volumeName: "ai-chat-data", name: "webui-data", sqliteDatabases: ["webui.db"], exclude: ["cache"] }],
    postgres: [
      {
        name: "gateway",
        host: "gateway-db",
        database: "gateway",
        user: "gateway",
        password: secretVariable(stack, "pg_password"),
      },
    ],
    repository: { localPath: "/srv/backups/ai" },
    image: JOB_IMAGE,
    networkName: "ai-backup-db",
    ...overrides,
  });
  return synth(stack);
}

describe("EncryptedBackup", () => {
  test("the job container is hardened, non-root with a job image, sources read-only, cache on tmpfs", () => {
    const json = build();
    const job = containerNamed(json, "ai-backup");
    expect(hardeningGaps(job)).toEqual([]);
    expect(job.user).toBe("65532:65532");
    expect(job.capabilities).toEqual({ drop: ["ALL"] });
    expect(job.entrypoint).toEqual(["sh", "/etc/zta/scheduler.sh"]);
    const source = job.volumes.find((v: any) => v.container_path === "/backup/sources/webui-data");
    expect(source).toMatchObject({ volume_name: "ai-chat-data", read_only: true });
    expect(job.volumes.find((v: any) => v.container_path === "/etc/zta").read_only).toBe(true);
    expect(job.volumes.find((v: any) => v.container_path === "/repo")).toMatchObject({
      host_path: "/srv/backups/ai",
      read_only: false,
    });
    expect(job.tmpfs["/cache"]).toMatch(/uid=65532,gid=65532,mode=0700/);
  });

  // Found on the engine: with restic's own image the job's named volumes are root-owned (the image has no
  // directories to copy an owner from), so it runs as uid 0 with every capability dropped.
  test("with the catalog's restic image: uid 0, no capabilities, its tmpfs its own", () => {
    const stack = stackWithProviders();
    new EncryptedBackup(stack, "backup", {
      name: "x",
      volumes: [{ volumeName: "v", name: "v" }],
      repository: { localPath: "/srv/backups/ai" },
    });
    const json = synth(stack);
    const job = containerNamed(json, "x");
    expect(Object.values((json.resource as any).docker_image).map((i: any) => i.name)).toEqual([
      IMAGES.restic.reference,
    ]);
    expect({ user: job.user, caps: job.capabilities, gaps: hardeningGaps(job) }).toEqual({
      user: "0:0",
      caps: { drop: ["ALL"] },
      gaps: [],
    });
    expect(job.tmpfs["/cache"]).toMatch(/uid=0,gid=0,mode=0700/);
  });

  test("the password is a random_password delivered as a file and a sensitive output; never in env", () => {
    const json = build();
    const job = containerNamed(json, "ai-backup");
    expect(job.env).toBeUndefined();
    expect(uploaded(json, "ai-backup-config-loader", "restic-password")).toMatch(
      /random_password\.backup_repository-password_\w+\.result/,
    );
    expect(uploaded(json, "ai-backup-config-loader", "pg-gateway.password")).toMatch(/var\.pg_password/);
    const out = Object.entries(json.output ?? {}).find(([k]) => k.includes("repository_password"))!;
    expect(out[1].sensitive).toBe(true);
    expect(uploaded(json, "ai-backup-config-loader", "backup.sh")).toContain(
      'restic forget --host "$ZTA_NAME" --tag "$ZTA_TAG" --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --prune',
    );
  });

  test("a volume-only backup with a local repository has no network at all", () => {
    const json = build({
      volumes: [{ volumeName: "v", name: "v" }],
      postgres: [],
      image: undefined,
      networkName: undefined,
    });
    const job = containerNamed(json, "ai-backup");
    expect(job.network_mode).toBe("none");
    expect(job.image).toBeDefined();
    expect(JSON.stringify(json.resource.docker_image)).toContain(IMAGES.restic.reference);
  });

  test("rest-server: credentials in the repository file, append-only by default (no forget)", () => {
    const stack = stackWithProviders();
    new EncryptedBackup(stack, "backup", {
      name: "ai-backup",
      volumes: [{ volumeName: "v", name: "v" }],
      repository: {
        restServerUrl: "https://backup.example.com:8000/ai",
        restServerUser: "ai",
        restServerPassword: secretVariable(stack, "rest_pw"),
      },
      networkName: "egress",
    });
    const json = synth(stack);
    expect(uploaded(json, "ai-backup-config-loader", "repository")).toMatch(
      /^rest:https:\/\/\$\{urlencode\("ai"\)\}:\$\{urlencode\(var\.rest_pw\)\}@backup\.example\.com:8000\/ai/,
    );
    const script = uploaded(json, "ai-backup-config-loader", "backup.sh");
    expect(script).not.toContain("restic forget");
    expect(script).toContain("append-only repository");
  });

  test("bad props fail with the prop, the value and the fix", () => {
    expectConfigError(() => build({ image: undefined }), "image", /no sqlite3 or pg_dump/);
    expectConfigError(() => build({ image: "zta-backup-job:latest" }), "image", /Pin the image by digest/);
    expectConfigError(() => build({ repository: {} }), "repository", /exactly one/);
    expectConfigError(
      () => build({ repository: { localPath: "/a", restServerUrl: "https://x/y" } }),
      "repository",
      /exactly one/,
    );
    expectConfigError(() => build({ repository: { localPath: "relative/dir" } }), "repository.localPath", /absolute/);
    expectConfigError(
      () => build({ repository: { restServerUrl: "https://u:p@x/y" } }),
      "repository.restServerUrl",
      /without credentials/,
    );
    expectConfigError(() => build({ schedule: "every 5 minutes" }), "schedule", /hourly, daily/);
    expectConfigError(() => build({ restoreDrill: "never" }), "restoreDrill", /quarterly/);
    expectConfigError(() => build({ keep: { daily: 0 } }), "keep.daily", /above 0/);
    expectConfigError(
      () => build({ volumes: [{ volumeName: "v", name: "v", exclude: ["../etc"] }] }),
      "volumes[0]",
      /literal path/,
    );
    expectConfigError(() => build({ volumes: [], postgres: [] }), "volumes", /at least one/);
  });

  test("alert rules name the 26 h backup window for a daily schedule", () => {
    const stack = stackWithProviders();
    const b = new EncryptedBackup(stack, "backup", {
      name: "x",
      volumes: [{ volumeName: "v", name: "v" }],
      repository: { localPath: "/srv/b" },
    });
    expect(b.alertRules).toContain("> 93600");
    expect(b.alertRules).toContain(`> ${93 * 86400}`);
  });

  test("the production policy finds nothing open on the job; running as uid 0 is suppressed with its reason", () => {
    const stack = stackWithProviders();
    new EncryptedBackup(stack, "backup", {
      name: "x",
      volumes: [{ volumeName: "v", name: "v" }],
      repository: { localPath: "/srv/backups/ai" },
    });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    Aspects.of(stack).add(policy);
    Testing.synth(stack);
    const findings = policy.results[0].findings;
    expect(findings.filter((f: any) => !f.suppression).map((f: any) => `${f.ruleId} ${f.message ?? ""}`)).toEqual([]);
    expect(findings.filter((f: any) => f.suppression).map((f: any) => [f.ruleId, f.suppression.reason])).toEqual([
      ["ZTA-CTR-011", expect.stringMatching(/every capability/)],
    ]);
  });

  // Found on the engine: common.sh carried a shell "${5:-}", which Terraform reads as an interpolation of
  // its own (plan fails; the engine applier refused it the same way). Only Terraform references may be there.
  test("the uploaded scripts hold no ${...} but Terraform references", () => {
    const json = build();
    const loader = containerNamed(json, "ai-backup-config-loader");
    const foreign = (loader.upload as { file: string; content: string }[]).flatMap((u) =>
      [...u.content.matchAll(/(?<!\$)\$\{([^}]*)\}/g)]
        .map((m) => m[1])
        .filter((e) => !/^(random_password|var|tls_[a-z_]+)\.[\w-]+(\.\w+)?$/.test(e))
        .map((e) => `${u.file}: ${e}`),
    );
    expect(foreign).toEqual([]);
  });
});
