import { Problems, isUnresolved } from "./errors";
import { isDigestPinned } from "./validate";

/**
 * The image catalog: every image the library runs, pinned by digest, in one place.
 * Update a tag and its digest together (the digest is the multi-arch index digest that
 * `docker pull <repo>:<tag>` resolves to). How they were resolved, and how to re-check them: docs/verification.md.
 */
export interface CatalogImage {
  /** `repo:tag@sha256:<digest>` */
  readonly reference: string;
  /** A non-root `uid:gid` the image works with, or undefined when the image needs root. */
  readonly user?: string;
  /** Why the image runs as root (no `user`): recorded in the policy report as the reason for suppressing ZTA-CTR-011. */
  readonly rootReason?: string;
}

export const IMAGES = {
  // vLLM's OpenAI server. The image defines no non-root user (see VllmServer).
  vllm: {
    reference: "vllm/vllm-openai:v0.11.0@sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c",
    rootReason:
      "The vLLM image defines no non-root user and the model cache volume is root-owned; compensated by dropping every " +
      "capability, no-new-privileges, a read-only root filesystem and (for the server) an internal network only.",
  },
  // Caddy on Alpine (busybox wget for the healthcheck). The image runs as root by default;
  // nothing in our config needs it (the edge listens on 8443), so it runs as an unnamed uid.
  caddy: {
    reference: "caddy:2.10.2-alpine@sha256:4c6e91c6ed0e2fa03efd5b44747b625fec79bc9cd06ac5235a779726618e530d",
    user: "65532:65532",
  },
  // nginx built to run as uid 101 (the "nginx" user of the image).
  nginx: {
    reference:
      "nginxinc/nginx-unprivileged:1.28.0-alpine@sha256:c97ff0bf7cbae369953c6da1232ec14ad9f971d66360c5698db0856a4cd657a0",
    user: "101:101",
  },
  // The alpine variant: the default one is distroless and has nothing to run a healthcheck with.
  oauth2Proxy: {
    reference:
      "quay.io/oauth2-proxy/oauth2-proxy:v7.15.3-alpine@sha256:43025b934ab61cbb6792f397334d4ba6024325b4face53f69644b4688ff8e0db",
    user: "65532:65532",
  },
  // Tailscale's containerboot image (Alpine, busybox wget). It defines no user; it runs as root
  // with every capability dropped in userspace mode (see TailscaleExposure for why not non-root).
  tailscale: {
    reference: "tailscale/tailscale:v1.88.4@sha256:360e10ad95ad03950f66df03e0dab66287f9f89076ee4012d50bc6adceafcdf3",
    rootReason:
      "The tailscale image defines no user and its fresh state volume is root-owned; in userspace mode it runs with " +
      "every capability dropped, no-new-privileges, a read-only root and no published port.",
  },
  // Distroless cloudflared: USER 65532, ENTRYPOINT ["cloudflared","--no-autoupdate"], no shell.
  cloudflared: {
    reference:
      "cloudflare/cloudflared:2025.11.1@sha256:89ee50efb1e9cb2ae30281a8a404fed95eb8f02f0a972617526f8c5b417acae2",
    user: "65532:65532",
  },
  // Open WebUI (python:3.11-slim base, curl present). Built with UID 0; see ChatUi for why it stays root.
  openWebui: {
    reference:
      "ghcr.io/open-webui/open-webui:v0.6.36@sha256:dfe43b30a5474164b1a81e1cce298a6769bb22144f74df556beefee4ccca5394",
    rootReason:
      "Open WebUI's image is built for UID 0 (non-root is untested upstream) and its fresh data volume is root-owned; " +
      "it runs with every capability dropped, no-new-privileges, a read-only root and no published port.",
  },
  // Prometheus 3.5 (an LTS release), busybox-based: USER nobody (65534), ENTRYPOINT /bin/prometheus,
  // VOLUME /prometheus, /bin/promtool for the healthcheck. Digest as pinned by several public
  // repositories (found with code search); re-resolve with `docker buildx imagetools inspect` before release.
  prometheus: {
    reference: "prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996",
    user: "65534:65534",
  },
  // Grafana OSS on Alpine (busybox wget for the healthcheck): USER 472 (group 0), VOLUME /var/lib/grafana.
  // Digest as pinned by several public repositories; re-resolve before release.
  grafana: {
    reference: "grafana/grafana:12.1.1@sha256:a1701c2180249361737a99a01bc770db39381640e4d631825d38ff4535efa47d",
    user: "472:0",
  },
  // restic's official image (Alpine: busybox sh, sha256sum). Digest seen in several independent public
  // repositories pinning restic/restic:0.18.1; re-resolve before release. It carries no sqlite3 or pg_dump:
  // EncryptedBackup refuses database sources with it (see docs/backup.md for the job image they need).
  restic: {
    reference: "restic/restic:0.18.1@sha256:39d9072fb5651c80d75c7a811612eb60b4c06b32ffe87c2e9f3c7222e1797e76",
    user: "65532:65532",
  },
  // syslog-ng's upstream image (Debian, syslog-ng 4.12, ENTRYPOINT /usr/sbin/syslog-ng -F): the audit collector
  // and its retention pruner (sh, date, find from coreutils). It defines no user; see AuditLog for why it stays root.
  // Digest as pinned by a public repository for 4.12.0; re-resolve with `docker buildx imagetools inspect` before release.
  syslogNg: {
    reference: "balabit/syslog-ng:4.12.0@sha256:38770d0110134322b863cbaedcd57ef8bb831fe51e0b0bc722fa5c54f8500589",
    rootReason:
      "The syslog-ng image defines no user and its fresh audit volume is root-owned; it runs with every capability " +
      "dropped (syslog-ng --no-caps), no-new-privileges, a read-only root, and only its TLS port published on 127.0.0.1.",
  },
  // Grafana Loki 3.7 (the audit trail's query store): distroless static:nonroot, USER 10001, ENTRYPOINT
  // /usr/bin/loki, no shell (the healthcheck is Loki's own `-health`, 3.6.5+). cmd/loki/Dockerfile at v3.7.x, read.
  // Digest as pinned by three unrelated public repositories (code search); re-resolve before release.
  loki: {
    reference: "grafana/loki:3.7.0@sha256:c316b7c7589a5eeca843b6926c7446149d18300b79ac8538dc4ae063bc478da2",
    user: "10001:10001",
  },
  // LiteLLM proxy (ApiGateway). Digest as pinned by one public repository for v1.83.14-stable (found with
  // code search, not pulled here): re-resolve with `docker buildx imagetools inspect` before release. Its
  // Dockerfile sets no USER; python is on PATH (/app/.venv/bin), curl and wget are not (read, not run).
  litellm: {
    reference:
      "ghcr.io/berriai/litellm:v1.83.14-stable@sha256:c81eb79cd4333c6cfe374c0ec929110fd23f0ee5f7fd198855a6fbddc77b83ba",
    rootReason:
      "The LiteLLM image defines no user and generates its Prisma client (and query engine) under root's home at build " +
      "time; it runs with every capability dropped, no-new-privileges, a read-only root, loopback only inside its namespace.",
  },
  // PostgreSQL 15 on Alpine (the gateway's keys and spend): USER postgres is uid 70, VOLUME /var/lib/postgresql/data,
  // docker-entrypoint.sh reads POSTGRES_PASSWORD_FILE, pg_isready for the healthcheck. Digest as pinned by two
  // independent public repositories; re-resolve before release.
  postgres: {
    reference: "postgres:15-alpine@sha256:fe0737ba566a2c5b2a28f34433c0a423261900ec17b9bf7ad115e1aae7e57f1b",
    user: "70:70",
  },
} satisfies Record<string, CatalogImage>;

/**
 * The pinned image catalog for users of the library (jsii-shaped: static members of a class, where a
 * plain object could not be published to other languages). Pass an entry's `reference` to a construct's
 * image prop, or compare your override against it.
 */
export class ImageCatalog {
  public static readonly VLLM: CatalogImage = IMAGES.vllm;
  public static readonly CADDY: CatalogImage = IMAGES.caddy;
  public static readonly NGINX: CatalogImage = IMAGES.nginx;
  public static readonly OAUTH2_PROXY: CatalogImage = IMAGES.oauth2Proxy;
  public static readonly TAILSCALE: CatalogImage = IMAGES.tailscale;
  public static readonly CLOUDFLARED: CatalogImage = IMAGES.cloudflared;
  public static readonly OPEN_WEBUI: CatalogImage = IMAGES.openWebui;
  public static readonly PROMETHEUS: CatalogImage = IMAGES.prometheus;
  public static readonly GRAFANA: CatalogImage = IMAGES.grafana;
  public static readonly RESTIC: CatalogImage = IMAGES.restic;
  public static readonly SYSLOG_NG: CatalogImage = IMAGES.syslogNg;
  public static readonly LOKI: CatalogImage = IMAGES.loki;
  public static readonly LITELLM: CatalogImage = IMAGES.litellm;
  public static readonly POSTGRES: CatalogImage = IMAGES.postgres;

  /** Every entry, by the key the constructs' `images` props use. */
  public static entries(): Record<string, CatalogImage> {
    return { ...IMAGES };
  }

  private constructor() {}
}

/**
 * Checks an image reference chosen by the user: it must be pinned by digest unless the user
 * opted out by name (`allowUnpinnedImages`).
 */
export function checkImagePinned(problems: Problems, prop: string, image: string, allowUnpinned: boolean): void {
  if (isUnresolved(image) || allowUnpinned) return;
  problems.check(
    isDigestPinned(image),
    prop,
    image,
    'Pin the image by digest ("repo:tag@sha256:<64 hex>"; `docker buildx imagetools inspect repo:tag` prints it), ' +
      "or set allowUnpinnedImages: true to accept a mutable tag.",
  );
}
