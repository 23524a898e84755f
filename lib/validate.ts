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

/** A lowercase DNS name (no scheme, no port, no wildcard). */
export function isDnsName(value: string): boolean {
  return DNS_NAME.test(value);
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

/** Addresses that bind every interface of the host. */
export function isAllInterfaces(address: string): boolean {
  return address === "0.0.0.0" || address === "::" || address === "[::]" || address === "";
}

/** A host address a port may be bound to: an IPv4 literal or a bracket-less IPv6 literal. */
export function isBindAddress(value: string): boolean {
  return isIpv4(value) || /^[0-9a-f:]+$/i.test(value);
}

export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

export function isPositiveInt(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}
