/**
 * Small predicates shared by the constructs' prop validation and the policy rules.
 * Each returns true for an acceptable value; callers decide what an unresolved token means.
 */

const HEX40 = /^[0-9a-f]{40}$/;
const DIGEST_REF = /^[^\s@]+@sha256:[0-9a-f]{64}$/;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const EMAIL = /^[^\s@,;"<>]+@[a-z0-9.-]+\.[a-z]{2,}$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** A Hugging Face commit sha: exactly 40 lowercase hex characters. */
export function isCommitSha(value: string): boolean {
  return HEX40.test(value);
}

/** An image reference pinned by digest: `repo[:tag]@sha256:<64 hex>`. */
export function isDigestPinned(image: string): boolean {
  return DIGEST_REF.test(image);
}

/** A lowercase DNS name (no scheme, no port, no wildcard, not an IP address). */
export function isDnsName(value: string): boolean {
  // An all-numeric last label is an IPv4 literal (or part of one), not a name (RFC 3696 section 2).
  return typeof value === "string" && DNS_NAME.test(value) && !/(^|\.)\d+$/.test(value);
}

/** The fix for a value that is not a DNS name, saying what is wrong with it. */
export function dnsNameFix(value: string, example: string): string {
  if (typeof value === "string" && parseIp(value) !== undefined) {
    return `An IP address is not a DNS name: the certificate would carry it as a DNS name, which clients reject. Use a name like "${example}" (add it to DNS or /etc/hosts).`;
  }
  return `Use a lowercase DNS name like "${example}" (no scheme, port, path or wildcard).`;
}

/** A name Docker accepts for containers, networks and volumes. */
export function isDockerName(value: string): boolean {
  return DOCKER_NAME.test(value);
}

export function isEmail(value: string): boolean {
  return EMAIL.test(value);
}

export function isIpv4(value: string): boolean {
  return IPV4.test(value);
}

/**
 * The bytes of an IP literal (4 for IPv4, 16 for IPv6), or undefined. Accepts what Docker may
 * accept: IPv6 with `::` compression, an embedded IPv4 tail, optional brackets, and IPv4 parts
 * with leading zeros (older Go releases read "0.0.0.00" as 0.0.0.0), so comparisons are made on
 * the address, never on its spelling.
 */
export function parseIp(value: string): number[] | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
  const v4 = parseIpv4(text);
  if (v4) return v4;
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const tail = parseIpv4(piece);
        if (!tail) return undefined;
        out.push((tail[0] << 8) | tail[1], (tail[2] << 8) | tail[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const bytes = parts.map((p) => parseInt(p, 10));
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/**
 * Addresses that bind every interface of the host: the unspecified address however it is spelled
 * (0.0.0.0, ::, 0:0:0:0:0:0:0:0, [::], ::ffff:0.0.0.0), and the empty string (Docker's default).
 */
export function isAllInterfaces(address: string): boolean {
  if (address === "") return true;
  const bytes = parseIp(address);
  if (!bytes) return false;
  if (bytes.length === 4) return bytes.every((b) => b === 0);
  const v4Mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return bytes.every((b) => b === 0) || (v4Mapped && bytes.slice(12).every((b) => b === 0));
}

/** A host address a port may be bound to: an IPv4 or IPv6 literal (no brackets, no zone). */
export function isBindAddress(value: string): boolean {
  return typeof value === "string" && !value.startsWith("[") && parseIp(value) !== undefined;
}

export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

export function isPositiveInt(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}
