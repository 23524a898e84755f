import { Container, ContainerUpload } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { CONFIG_HASH_LABEL, ROLE_LABEL, ServiceRole } from "../lib/identities";

/** One file to place in a config volume. */
export interface ConfigFile {
  /** File name inside the volume (no directories). */
  readonly name: string;
  /** Content; may contain Terraform references (certificates, generated secrets). */
  readonly content: string;
  /** Octal mode. @default "0444" */
  readonly mode?: string;
}

export interface ConfigVolumeProps {
  /** Docker name of the volume, and prefix of the loader container's name. */
  readonly name: string;
  /** Image id for the loader (the service's own image: already pulled, never started). */
  readonly imageId: string;
  readonly files: ConfigFile[];
}

/** Where the loader mounts the volume; not a path any image ships. */
const LOADER_MOUNT = "/zta-load";

/**
 * Configs and certificates for a read-only container.
 *
 * `upload` cannot write into a container whose root filesystem is read-only (the provider
 * extracts its archive at `/` and the daemon refuses that on a read-only rootfs unless the
 * destination is inside a volume). So each service gets a named volume, filled by uploading
 * into a loader container that mounts it read-write and is created but never started
 * (`start = false`, `must_run = false`, or every refresh would recreate it): the Docker
 * equivalent of `docker create` + `docker cp` into a volume. It works against remote Docker
 * hosts too, unlike bind-mounting files from the machine running Terraform.
 * The service mounts the volume read-only and carries `contentHash` in a label, so changed
 * content replaces it.
 *
 * Files arrive owned by root (the provider does not chown uploads). The volume is mounted into
 * exactly one service container whose only process runs as the image's non-root user, so files
 * are mode 0444 by default: "other" read is how that user reads them, and nothing else can.
 */
export class ConfigVolume extends Construct {
  public readonly volume: Volume;
  public readonly loader: Container;
  /** sha256 over every uploaded file (name, mode, content); put it in the service's labels. */
  public readonly contentHash: string;

  constructor(scope: Construct, id: string, props: ConfigVolumeProps) {
    super(scope, id);
    this.volume = new Volume(this, "volume", { name: props.name });
    this.loader = new Container(this, "loader", {
      name: `${props.name}-loader`,
      image: props.imageId,
      start: false,
      mustRun: false,
      // Never started, but keep it inert even if someone runs `docker start` on it.
      networkMode: "none",
      entrypoint: ["/bin/false"],
      capabilities: { drop: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      labels: [{ label: ROLE_LABEL, value: ServiceRole.CONFIG_LOADER }],
      volumes: [{ volumeName: this.volume.name, containerPath: LOADER_MOUNT, readOnly: false }],
      upload: props.files.map((f) => ({
        file: `${LOADER_MOUNT}/${f.name}`,
        content: f.content,
        permissions: f.mode ?? "0444",
      })),
    });
    // Hash exactly what the loader uploads (name, mode, content), as Terraform sees it.
    this.contentHash = Fn.sha256(Fn.jsonencode(this.loader.interpolationForAttribute("upload")));
  }

  /** Adds a file after construction (the edge's metrics listener certificate, once Observability asks for it); the hash covers it. */
  public addFile(file: ConfigFile): void {
    const upload = (this.loader.uploadInput ?? []) as ContainerUpload[];
    const target = `${LOADER_MOUNT}/${file.name}`;
    if (upload.some((u) => u.file === target)) throw new Error(`${this.node.path}: ${file.name} is uploaded already`);
    this.loader.putUpload([...upload, { file: target, content: file.content, permissions: file.mode ?? "0444" }]);
  }

  /** The labels of the service that mounts this volume: its role, and the content hash (a change replaces it). */
  public serviceLabels(role: string): { label: string; value: string }[] {
    return [
      { label: ROLE_LABEL, value: role },
      { label: CONFIG_HASH_LABEL, value: this.contentHash },
    ];
  }

  /** The read-only mount for the service container. */
  public mountAt(containerPath: string): { volumeName: string; containerPath: string; readOnly: boolean } {
    return { volumeName: this.volume.name, containerPath, readOnly: true };
  }
}
