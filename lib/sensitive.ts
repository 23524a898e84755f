import * as path from "path";

/**
 * What counts as sensitive on a Docker host (engine sockets, credential paths, secret-looking
 * values, the root user). The constructs validate their props with these predicates and the
 * policy rules (lib/policy/rules) judge synthesized resources with the same ones, so the two
 * cannot disagree; it lives outside lib/policy because the constructs depend on it too.
 */

/** Sockets that control a container engine: mounting one is root on the host. */
export const ENGINE_SOCKETS = [
  "/var/run/docker.sock",
  "/run/docker.sock",
  "/run/containerd/containerd.sock",
  "/var/run/containerd/containerd.sock",
  "/run/podman/podman.sock",
  "/var/run/crio/crio.sock",
  "/run/user",
];

/**
 * Host directories whose contents are credentials, host configuration or the engine's own state.
 * Mounting any of them, anything under them, or anything that contains them (e.g. `/`, `/var`)
 * is refused.
 */
export const SENSITIVE_HOST_DIRS = [
  "/",
  "/etc",
  "/root",
  "/var/run",
  "/run",
  "/var/lib/docker",
  "/var/lib/containerd",
  "/var/lib/kubelet",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/lib/modules",
];

/**
 * Parents of home directories: the parent and each home directory itself are refused (they hold
 * `.ssh`, `.aws`, shell history...), a project directory deeper inside is not (unless it is a
 * credential directory).
 */
export const HOME_PARENTS = ["/home", "/Users"];

/** Shared scratch directories: refused as a whole (other users' ssh-agent and X11 sockets live there). */
export const SHARED_TMP_DIRS = ["/tmp", "/var/tmp"];

/** Per-user credential directories and files, wherever the home directory is. */
export const CREDENTIAL_NAMES = [
  ".ssh",
  ".aws",
  ".azure",
  ".config/gcloud",
  ".kube",
  ".docker",
  ".gnupg",
  ".netrc",
  ".git-credentials",
  ".npmrc",
  ".pypirc",
  ".vault-token",
  ".terraform.d",
  ".huggingface",
  ".cache/huggingface",
];

/** Normalizes a POSIX host path; undefined for relative or `~` paths (Docker does not expand `~`). */
export function normalizeHostPath(hostPath: string): string | undefined {
  if (!hostPath.startsWith("/")) return undefined;
  const normalized = path.posix.normalize(hostPath);
  return normalized.length > 1 ? normalized.replace(/\/+$/, "") : normalized;
}

/** True when `inner` is `outer` or lies under it. */
function within(inner: string, outer: string): boolean {
  return outer === "/" ? inner === "/" : inner === outer || inner.startsWith(`${outer}/`);
}

/** The engine socket a path is or contains, if any. */
export function engineSocketIn(hostPath: string): string | undefined {
  const p = normalizeHostPath(hostPath);
  if (p === undefined) return undefined;
  if (p.endsWith(".sock")) return p;
  return ENGINE_SOCKETS.find((s) => within(s, p) || within(p, s));
}

/**
 * Why a host path must not be mounted, or undefined when it may be. Paths that are not absolute
 * are refused too: Docker would treat them as a volume name or fail, and `~` is never expanded.
 */
export function sensitiveHostPath(hostPath: string): string | undefined {
  const p = normalizeHostPath(hostPath);
  if (p === undefined) return "it is not an absolute path (Docker does not expand ~)";
  const segments = p.split("/");
  for (const name of CREDENTIAL_NAMES) {
    const parts = name.split("/");
    for (let i = 0; i + parts.length <= segments.length; i++) {
      if (parts.every((part, j) => segments[i + j] === part)) return `it is or is inside ${name} (credentials)`;
    }
  }
  for (const parent of HOME_PARENTS) {
    if (p === parent) return `it is ${parent}, which holds every user's home directory`;
    if (p.startsWith(`${parent}/`) && p.split("/").length === parent.split("/").length + 1)
      return `it is a home directory (${p})`;
  }
  for (const dir of SHARED_TMP_DIRS) {
    if (p === dir) return `it is ${dir}, shared with other users' sockets (ssh-agent, X11)`;
    if (p.startsWith(`${dir}/ssh-`)) return "it is an ssh-agent socket directory";
  }
  for (const dir of SENSITIVE_HOST_DIRS) {
    if (dir === "/" ? p === "/" : within(p, dir)) return `it is or is inside ${dir}`;
  }
  // A parent of a sensitive directory (e.g. /var contains /var/run and /var/lib/docker).
  const contained = [...SENSITIVE_HOST_DIRS, ...HOME_PARENTS, ...SHARED_TMP_DIRS].find(
    (dir) => dir !== "/" && p !== "/" && within(dir, p),
  );
  if (contained) return `it contains ${contained}`;
  return undefined;
}

/** Environment variable names that conventionally carry secrets. */
const SECRET_NAME = /(^|_)(TOKEN|SECRET|KEY|PASSWORD|PASSWD|PASS|CREDENTIALS?|APIKEY|PRIVATE)($|_)/i;
/** Names that match the pattern above but carry no secret (paths to secret files, public ids). */
const NOT_SECRET_NAME = /(_PATH|_FILE|_DIR|_ID|_REGION|_ENDPOINT|_URL|_HOST|_PORT|_NAME)$/i;
/** Every AWS_* variable is treated as a credential except these settings. */
const AWS_SETTINGS = /^AWS_(DEFAULT_)?REGION$|^AWS_PROFILE$|^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/i;

export function looksLikeSecretName(name: string): boolean {
  if (/^AWS_/i.test(name)) return !AWS_SETTINGS.test(name);
  if (/^(GITHUB_TOKEN|GH_TOKEN|HF_TOKEN)$/i.test(name)) return true;
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Shapes of well-known credentials. */
const SECRET_VALUES: [string, RegExp][] = [
  ["an AWS access key id", /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
  ["a GitHub token", /\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b/],
  ["an OpenAI-style API key", /\bsk-[A-Za-z0-9_-]{20,}\b/],
  ["a Hugging Face token", /\bhf_[A-Za-z0-9]{30,}\b/],
  ["a Slack token", /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/],
  ["a Google API key", /\bAIza[0-9A-Za-z_-]{35}\b/],
  ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["a JSON Web Token", /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/],
  ["a bearer token", /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/],
];

/** `scheme://user:password@host`: a URL carrying a password (not a `$VAR` or `${...}` placeholder). */
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:([^\s@/]+)@/i;

/** What kind of credential a literal value looks like, or undefined. */
export function secretValueKind(value: string): string | undefined {
  if (typeof value !== "string") return undefined;
  const known = SECRET_VALUES.find(([, re]) => re.test(value))?.[0];
  if (known) return known;
  const url = URL_WITH_PASSWORD.exec(value);
  if (url && !url[1].startsWith("$")) return "a URL with a password";
  return undefined;
}

/** A literal (not empty, not a shell or Terraform placeholder) after quotes are removed. */
function isLiteralValue(value: string): boolean {
  const v = value.replace(/^["']|["']$/g, "");
  return v !== "" && !v.startsWith("$");
}

/** `--api-key` -> `API_KEY`, for the name patterns above. */
function flagAsName(flag: string): string {
  return flag.replace(/^-+/, "").replace(/-/g, "_").toUpperCase();
}

/**
 * Credentials written into a command (exec form, or a shell script in one element): known
 * credential shapes anywhere, `--secret-flag=value` / `--secret-flag value`, and shell assignments
 * `SECRET_NAME=value`. Returns a description per finding; values are never echoed.
 */
export function secretsInCommand(args: string[]): string[] {
  const found: string[] = [];
  args.forEach((arg, i) => {
    if (typeof arg !== "string" || arg.includes("${")) return;
    const kind = secretValueKind(arg);
    if (kind) {
      found.push(`argument ${i + 1} holds what looks like ${kind}`);
      return;
    }
    if (arg.startsWith("-")) {
      const eq = arg.indexOf("=");
      const flag = eq < 0 ? arg : arg.slice(0, eq);
      if (!/^--?[A-Za-z][A-Za-z0-9_-]*$/.test(flag) || !looksLikeSecretName(flagAsName(flag))) return;
      const value = eq < 0 ? args[i + 1] : arg.slice(eq + 1);
      if (
        typeof value === "string" &&
        !value.includes("${") &&
        !(eq < 0 && value.startsWith("-")) &&
        isLiteralValue(value)
      ) {
        found.push(`argument ${i + 1} (${flag}) is given a literal value`);
      }
      return;
    }
    for (const m of arg.matchAll(/(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|]+)/g)) {
      if (looksLikeSecretName(m[1]) && isLiteralValue(m[2]))
        found.push(`argument ${i + 1} assigns a literal to ${m[1]}`);
    }
  });
  return found;
}

/** Whether a user string is uid 0 (`0`, `root`, `0:0`, `root:wheel`). */
export function isRootUser(user: string): boolean {
  const who = user.split(":")[0].trim();
  return who === "0" || who === "root";
}
