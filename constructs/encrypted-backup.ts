import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn, TerraformOutput } from "cdktf";
import { Construct } from "constructs";
import {
  BackupScriptOptions,
  renderBackupAlertRules,
  renderBackupScripts,
  renderSchedulerScript,
} from "../lib/backup-scripts";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import { CONFIG_DIR, ServiceRole } from "../lib/identities";
import { IMAGES, checkImagePinned } from "../lib/images";
import { readBoolean, readList, readObject, readString, readStrings } from "../lib/shape";
import { isDockerName, isPort, isPositiveInt } from "../lib/validate";
import { ConfigFile } from "./config-volume";
import { HardenedService } from "./hardened-service";

/** A Docker volume backed up file by file (mounted read-only). */
export interface BackupVolume {
  /** Docker name of the volume (e.g. `chat.dataVolume.name`). */
  readonly volumeName: string;
  /** Short name: its directory in the snapshot (`/backup/sources/<name>`). */
  readonly name: string;
  /** Paths inside the volume to leave out, literal (e.g. "cache"). @default none */
  readonly exclude?: string[];
  /** SQLite databases inside the volume, dumped with SQLite's online backup instead of copied (e.g. "webui.db"). @default none */
  readonly sqliteDatabases?: string[];
}

/** A Postgres database dumped with pg_dump over the network. */
export interface BackupPostgres {
  /** Short name of the dump. */
  readonly name: string;
  readonly host: string;
  /** @default 5432 */
  readonly port?: number;
  readonly database: string;
  readonly user: string;
  /** The user's password (a Terraform reference); delivered as a file. */
  readonly password: string;
}

/** Where snapshots go. Set exactly one of `localPath` and `restServerUrl`. */
export interface BackupRepository {
  /** Absolute path on the Docker host, bind-mounted at /repo; owned by the job's uid (root with the catalog image, 65532 with your own job image). */
  readonly localPath?: string;
  /** An append-only rest-server, `https://host:port/path` (off-site: the disk can die). */
  readonly restServerUrl?: string;
  /** rest-server basic-auth user. @default none */
  readonly restServerUser?: string;
  /** rest-server basic-auth password (a Terraform reference). @default none */
  readonly restServerPassword?: string;
  /** The repository refuses deletes (rest-server --append-only): the job then never runs forget/prune. @default true for rest-server, false for local */
  readonly appendOnly?: boolean;
}

export interface BackupKeep {
  /** @default 7 */ readonly daily?: number;
  /** @default 4 */ readonly weekly?: number;
  /** @default 6 */ readonly monthly?: number;
}

export interface EncryptedBackupProps {
  /** Docker name of the job container and prefix of its volumes. */
  readonly name: string;
  readonly volumes?: BackupVolume[];
  readonly postgres?: BackupPostgres[];
  readonly repository: BackupRepository;
  /** "hourly" or "daily" (a run is due when the last attempt is that old). @default "daily" */
  readonly schedule?: string;
  readonly keep?: BackupKeep;
  /** "weekly", "monthly" or "quarterly". @default "quarterly" */
  readonly restoreDrill?: string;
  /** Job image; must carry sqlite3 / pg_dump, psql, initdb, pg_ctl for database sources. @default the catalog's restic image */
  readonly image?: string;
  /** @default false */
  readonly allowUnpinnedImages?: boolean;
  /** Docker network to reach Postgres sources on. @default none (network_mode "none" unless rest-server or Postgres need one) */
  readonly networkName?: string;
}

export const SCHEDULES: Record<string, number> = { hourly: 3600, daily: 86400 };
export const DRILL_PERIODS: Record<string, number> = { weekly: 7, monthly: 31, quarterly: 92 };
/**
 * The job's user. With the catalog's restic image: uid 0 with every capability dropped (found on the
 * engine). The job writes three named volumes (state, dumps, scratch), and a new named volume is
 * root-owned 0755 unless the image has a directory at the mount path whose owner Docker copies into
 * it; restic's image has none (no USER, no VOLUME, no directories of its own), so as 65532 the job could
 * not write its heartbeat and crash-looped. Root without capabilities writes root-owned directories by
 * owner permission alone and reads the sources' root-owned files (Open WebUI writes as root); it cannot
 * chown, override permissions on other users' files or bind ports (and has no network).
 * A job image of your own (docs/backup.md: needed for databases) keeps 65532: it must carry those
 * directories owned by 65532, and initdb/pg_ctl refuse to run as root.
 */
const ROOT_USER = "0:0";
const JOB_USER = IMAGES.restic.user!;
const JOB_ROOT_REASON =
  "restic's image has no non-root user and no directories for the job's named volumes, which Docker creates root-owned; " +
  "compensated by dropping every capability, no-new-privileges, a read-only root filesystem, sources mounted read-only and no network for a local repository.";
const STATE_DIR = "/var/lib/zta-backup";

/**
 * restic, scheduled by a loop in its own container (no host timer: it keeps the job inside Terraform,
 * on remote Docker hosts too, with the same hardening; no docker socket). With the catalog image it runs
 * as uid 0 with no capabilities, with a job image of your own as 65532 (see JOB_USER). Sources are mounted read-only,
 * the repository password is a random_password delivered as a file and exported as a sensitive output.
 */
export class EncryptedBackup extends Construct {
  /** The backup loop (a HardenedService: it runs for good, with a heartbeat healthcheck). */
  public readonly job: HardenedService;
  public readonly container: Container;
  public readonly stateVolume: Volume;
  /** Prometheus alert rules for the textfile metrics (`<state>/backup.prom`). */
  public readonly alertRules: string;

  constructor(scope: Construct, id: string, rawProps: EncryptedBackupProps) {
    super(scope, id);
    const problems = new Problems(whereIs("EncryptedBackup", this.node.path));
    const props = readShapes(problems, rawProps);
    const image = props.image ?? IMAGES.restic.reference;
    const volumes = props.volumes ?? [];
    const postgres = props.postgres ?? [];
    const schedule = props.schedule ?? "daily";
    const drill = props.restoreDrill ?? "quarterly";
    const keep = { daily: props.keep?.daily ?? 7, weekly: props.keep?.weekly ?? 4, monthly: props.keep?.monthly ?? 6 };
    const repo = props.repository;

    problems.check(
      isDockerName(props.name),
      "name",
      props.name,
      "Use letters, digits, '_', '.' or '-', starting with a letter or digit.",
    );
    problems.check(
      volumes.length + postgres.length > 0,
      "volumes",
      volumes,
      "Name at least one volume or Postgres database to back up.",
    );
    volumes.forEach((v, i) => {
      problems.check(
        /^[a-z0-9][a-z0-9_.-]*$/.test(v.name),
        `volumes[${i}].name`,
        v.name,
        "Use lowercase letters, digits, '_', '.' or '-'.",
      );
      for (const p of [...(v.exclude ?? []), ...(v.sqliteDatabases ?? [])]) {
        problems.check(
          /^[^/*?[\]'"][^*?[\]'"]*$/.test(p) && !p.split("/").includes(".."),
          `volumes[${i}]`,
          p,
          "Use a literal path relative to the volume: no leading '/', no '..', globs or quotes.",
        );
      }
    });
    postgres.forEach((p, i) => {
      problems.check(
        /^[a-z0-9][a-z0-9_-]*$/.test(p.name),
        `postgres[${i}].name`,
        p.name,
        "Use lowercase letters, digits, '_' or '-'.",
      );
      problems.check(isPort(p.port ?? 5432), `postgres[${i}].port`, p.port, "Use a TCP port 1-65535.");
    });
    const hasDatabases = postgres.length > 0 || volumes.some((v) => (v.sqliteDatabases ?? []).length > 0);
    problems.check(
      !(hasDatabases && image === IMAGES.restic.reference),
      "image",
      image,
      "The official restic image has no sqlite3 or pg_dump: build the job image of docs/backup.md (restic + sqlite3 + PostgreSQL client/server tools), push it, and pass it pinned by digest.",
    );
    checkImagePinned(problems, "image", image, props.allowUnpinnedImages ?? false);
    const kinds = [repo.localPath, repo.restServerUrl].filter((x) => x !== undefined).length;
    problems.check(
      kinds === 1,
      "repository",
      repo,
      "Set exactly one of repository.localPath (a host directory) or repository.restServerUrl (off-site, append-only).",
    );
    if (repo.localPath !== undefined && !isUnresolved(repo.localPath)) {
      problems.check(
        repo.localPath.startsWith("/") && !repo.localPath.split("/").includes(".."),
        "repository.localPath",
        repo.localPath,
        'Use an absolute host path like "/srv/backups/ai".',
      );
    }
    if (repo.restServerUrl !== undefined && !isUnresolved(repo.restServerUrl)) {
      problems.check(
        /^https:\/\/[^/@\s]+(\/\S*)?$/.test(repo.restServerUrl),
        "repository.restServerUrl",
        repo.restServerUrl,
        'Use "https://host:port/path" without credentials (set restServerUser/restServerPassword).',
      );
    }
    problems.check(
      (repo.restServerUser === undefined) === (repo.restServerPassword === undefined),
      "repository.restServerPassword",
      repo.restServerPassword === undefined ? undefined : "(set)",
      "Set restServerUser and restServerPassword together.",
    );
    problems.check(
      SCHEDULES[schedule] !== undefined,
      "schedule",
      schedule,
      `Use one of ${Object.keys(SCHEDULES).join(", ")}.`,
    );
    problems.check(
      DRILL_PERIODS[drill] !== undefined,
      "restoreDrill",
      drill,
      `Use one of ${Object.keys(DRILL_PERIODS).join(", ")}.`,
    );
    for (const [k, n] of Object.entries(keep))
      problems.check(isPositiveInt(n), `keep.${k}`, n, "Use a whole number above 0.");
    problems.throwIfAny();

    const appendOnly = repo.appendOnly ?? repo.restServerUrl !== undefined;
    const password = new Password(this, "repository-password", { length: 48, special: false });
    new TerraformOutput(this, "repository_password", {
      value: password.result,
      sensitive: true,
      description: `restic password of ${props.name}'s repository: without it the backups are unreadable. Store it outside this machine.`,
    });
    const repositoryUrl =
      repo.localPath !== undefined
        ? "/repo"
        : repo.restServerUser !== undefined
          ? `rest:${repo.restServerUrl!.replace("https://", `https://${Fn.urlencode(repo.restServerUser)}:${Fn.urlencode(repo.restServerPassword!)}@`)}`
          : `rest:${repo.restServerUrl}`;

    const options: BackupScriptOptions = {
      name: props.name,
      rootDir: "/backup",
      stateDir: STATE_DIR,
      scratchDir: "/scratch",
      configDir: CONFIG_DIR,
      cacheDir: "/cache",
      tmpDir: "/tmp/zta",
      volumes: volumes.map((v) => ({ name: v.name, exclude: v.exclude ?? [] })),
      sqlite: volumes.flatMap((v) => (v.sqliteDatabases ?? []).map((path) => ({ volume: v.name, path }))),
      postgres: postgres.map((p) => ({
        name: p.name,
        host: p.host,
        port: p.port ?? 5432,
        database: p.database,
        user: p.user,
      })),
      keep,
      appendOnly,
      checkSubset: "5%",
    };
    const files: ConfigFile[] = [
      ...renderBackupScripts(options).map((s) => ({ name: s.name, content: s.content })),
      { ...renderSchedulerScript(SCHEDULES[schedule], DRILL_PERIODS[drill] * 86400) },
      { name: "repository", content: `${repositoryUrl}\n` },
      { name: "restic-password", content: password.result },
      ...postgres.map((p) => ({ name: `pg-${p.name}.password`, content: p.password })),
    ];
    this.alertRules = renderBackupAlertRules(SCHEDULES[schedule] / 3600 + 2, DRILL_PERIODS[drill]);

    this.stateVolume = new Volume(this, "state", { name: `${props.name}-state` });
    const dumps = new Volume(this, "dumps", { name: `${props.name}-dumps` });
    const scratch = new Volume(this, "scratch", { name: `${props.name}-scratch` });
    const user = image === IMAGES.restic.reference ? ROOT_USER : JOB_USER;
    this.job = new HardenedService(this, "Default", {
      name: props.name,
      role: ServiceRole.BACKUP,
      catalogImage: IMAGES.restic,
      image,
      allowUnpinnedImages: props.allowUnpinnedImages,
      user,
      ids: { container: "job" },
      files,
      hardening: {
        memoryMb: 1024,
        cpuShares: 256,
        // Its cache and tmp: tmpfs owned by the job's user, private (mode 0700).
        tmpfsMb: { "/tmp": 64, "/cache": 512 },
        // The scheduler loop writes a heartbeat every cycle; a stuck loop turns unhealthy.
        healthcheck: ["sh", "-c", `test $(( $(date +%s) - $(cat ${STATE_DIR}/heartbeat) )) -lt 120`],
        healthStartPeriod: "60s",
      },
      entrypoint: ["sh", `${CONFIG_DIR}/scheduler.sh`],
      // No network at all for a local repository and volume sources; otherwise the one network named.
      ...(props.networkName !== undefined ? { networks: [{ name: props.networkName }] } : { networkMode: "none" }),
      volumes: [
        ...volumes.map((v) => ({
          volumeName: v.volumeName,
          containerPath: `/backup/sources/${v.name}`,
          readOnly: true,
        })),
        { volumeName: dumps.name, containerPath: "/backup/dumps", readOnly: false },
        { volumeName: this.stateVolume.name, containerPath: STATE_DIR, readOnly: false },
        { volumeName: scratch.name, containerPath: "/scratch", readOnly: false },
        ...(repo.localPath !== undefined
          ? [{ hostPath: repo.localPath, containerPath: "/repo", readOnly: false }]
          : []),
      ],
      suppressions: user === ROOT_USER ? [{ ruleId: "ZTA-CTR-011", reason: JOB_ROOT_REASON }] : [],
    });
    this.container = this.job.container;
  }
}

/**
 * The props with every value of the wrong shape reported (a JavaScript stack, or a cast) and replaced by a
 * safe stand-in, so the checks below see the shapes the types promise and never throw a TypeError.
 */
function readShapes(problems: Problems, raw: EncryptedBackupProps): EncryptedBackupProps {
  const str = (prop: string, v: unknown, required: boolean, example: string) =>
    readString(problems, prop, v, required, example) as string;
  // Numbers: only the shape here; their ranges are checked with the other rules below.
  const num = (prop: string, v: unknown): number | undefined => {
    if (v === undefined || typeof v === "number" || isUnresolved(v)) return v as number | undefined;
    problems.add(prop, v, "Give a whole number.");
    return undefined;
  };
  const volumes = readList<unknown>(
    problems,
    "volumes",
    raw.volumes,
    false,
    '[{ volumeName: "ai-chat-data", name: "webui" }]',
  )
    .map((v, i) =>
      readObject<BackupVolume>(problems, `volumes[${i}]`, v, true, '{ volumeName: "ai-chat-data", name: "webui" }'),
    )
    .map((v, i) =>
      v === undefined
        ? undefined
        : <BackupVolume>{
            volumeName: str(`volumes[${i}].volumeName`, v.volumeName, true, '"ai-chat-data"'),
            name: str(`volumes[${i}].name`, v.name, true, '"webui"'),
            exclude: readStrings(problems, `volumes[${i}].exclude`, v.exclude, false, '["cache"]'),
            sqliteDatabases: readStrings(
              problems,
              `volumes[${i}].sqliteDatabases`,
              v.sqliteDatabases,
              false,
              '["webui.db"]',
            ),
          },
    )
    .filter((v): v is BackupVolume => v !== undefined);
  const postgres = readList<unknown>(
    problems,
    "postgres",
    raw.postgres,
    false,
    '[{ name: "gateway", host: "gateway-db", ... }]',
  )
    .map((p, i) =>
      readObject<BackupPostgres>(problems, `postgres[${i}]`, p, true, '{ name: "gateway", host: "gateway-db", ... }'),
    )
    .map((p, i) =>
      p === undefined
        ? undefined
        : <BackupPostgres>{
            ...p,
            name: str(`postgres[${i}].name`, p.name, true, '"gateway"'),
            host: str(`postgres[${i}].host`, p.host, true, '"gateway-db"'),
            database: str(`postgres[${i}].database`, p.database, true, '"gateway"'),
            user: str(`postgres[${i}].user`, p.user, true, '"gateway"'),
            password: str(`postgres[${i}].password`, p.password, true, "a sensitive variable's value"),
            port: num(`postgres[${i}].port`, p.port),
          },
    )
    .filter((p): p is BackupPostgres => p !== undefined);
  const repo =
    readObject<BackupRepository>(problems, "repository", raw.repository, true, '{ localPath: "/srv/backups/ai" }') ??
    {};
  const keep = readObject<BackupKeep>(problems, "keep", raw.keep, false, "{ daily: 7 }");
  return {
    ...raw,
    name: str("name", raw.name, true, '"ai-backup"'),
    volumes,
    postgres,
    repository: {
      ...repo,
      localPath: readString(problems, "repository.localPath", repo.localPath, false, '"/srv/backups/ai"'),
      restServerUrl: readString(
        problems,
        "repository.restServerUrl",
        repo.restServerUrl,
        false,
        '"https://backup.example:8000/ai"',
      ),
      restServerUser: readString(problems, "repository.restServerUser", repo.restServerUser, false, '"ai"'),
      // Unset means "append-only when off-site", decided below.
      appendOnly:
        repo.appendOnly === undefined
          ? undefined
          : readBoolean(problems, "repository.appendOnly", repo.appendOnly, true),
    },
    keep: keep && {
      daily: num("keep.daily", keep.daily),
      weekly: num("keep.weekly", keep.weekly),
      monthly: num("keep.monthly", keep.monthly),
    },
    schedule: readString(problems, "schedule", raw.schedule, false, '"daily"'),
    restoreDrill: readString(problems, "restoreDrill", raw.restoreDrill, false, '"quarterly"'),
    image: readString(problems, "image", raw.image, false, "a digest-pinned reference"),
    allowUnpinnedImages: readBoolean(problems, "allowUnpinnedImages", raw.allowUnpinnedImages, false),
    networkName: readString(problems, "networkName", raw.networkName, false, '"ai-backup-net"'),
  };
}
