/**
 * Throwaway X.509 certificates from node:crypto alone: the probe needs a CA nobody configured and
 * client certificates outside their validity window, and a user's machine may have no openssl.
 * Node can parse certificates (X509Certificate) but not write them, so this file encodes the few
 * DER structures a certificate needs (RFC 5280) and signs them with ECDSA P-256 / SHA-256, the
 * same algorithms the library's internal CA uses.
 */
import { KeyObject, createHash, generateKeyPairSync, randomBytes, sign } from "crypto";

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const TRUE = tlv(0x01, Buffer.from([0xff]));

function integer(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0 && (v[1] & 0x80) === 0) v = v.subarray(1);
  return tlv(0x02, v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const ATTRIBUTE: Record<string, string> = { CN: "2.5.4.3", O: "2.5.4.10", OU: "2.5.4.11" };
function name(fields: [string, string][]): Buffer {
  return seq(...fields.map(([k, v]) => set(seq(oid(ATTRIBUTE[k]), utf8(v)))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [TRUE] : []), octets(value));
}

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

export interface ThrowawayCert {
  readonly certPem: string;
  readonly keyPem: string;
  readonly key: KeyObject;
  /** The subject as written (issuer of the certificates this one signs). */
  readonly subject: [string, string][];
  readonly publicKeyDer: Buffer;
}

export interface CertSpec {
  readonly subject: [string, string][];
  readonly kind: "ca" | "client" | "server";
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DNS SANs (servers). @default none */
  readonly dnsNames?: string[];
  /** Signer; self-signed when absent. */
  readonly issuer?: ThrowawayCert;
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** An ECDSA P-256 key and a certificate for it, to the spec. */
export function makeCertificate(spec: CertSpec): ThrowawayCert {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  // The subject key identifier: SHA-1 of the public key bits (RFC 5280 4.2.1.2, method 1); the SPKI ends with them.
  const keyId = (der: Buffer) =>
    createHash("sha1")
      .update(der.subarray(der.length - 65))
      .digest();
  const signerKey = spec.issuer?.key ?? privateKey;
  const signerSpki = spec.issuer?.publicKeyDer ?? spki;
  const usage =
    spec.kind === "ca"
      ? bits(Buffer.from([0x86]), 1) // digitalSignature, keyCertSign, cRLSign
      : bits(Buffer.from([0xa0]), 5); // digitalSignature, keyEncipherment
  const extensions = [
    extension("2.5.29.19", true, spec.kind === "ca" ? seq(TRUE) : seq()),
    extension("2.5.29.15", true, usage),
    extension("2.5.29.14", false, octets(keyId(spki))),
    extension("2.5.29.35", false, seq(tlv(0x80, keyId(signerSpki)))),
  ];
  if (spec.kind !== "ca") {
    extensions.push(
      extension("2.5.29.37", false, seq(oid(spec.kind === "client" ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1"))),
    );
  }
  if (spec.dnsNames && spec.dnsNames.length > 0) {
    extensions.push(
      extension("2.5.29.17", false, seq(...spec.dnsNames.map((n) => tlv(0x82, Buffer.from(n, "ascii"))))),
    );
  }
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(randomBytes(16)),
    ECDSA_SHA256,
    name(spec.issuer?.subject ?? spec.subject),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign("sha256", tbs, signerKey);
  const der = seq(tbs, ECDSA_SHA256, bits(signature));
  return {
    certPem: pem("CERTIFICATE", der),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    key: privateKey,
    subject: spec.subject,
    publicKeyDer: spki,
  };
}

const HOUR = 3600 * 1000;

/** The probe's own PKI: a foreign CA with a valid client, and a throwaway CA with an expired and a not-yet-valid client. */
export interface ProbeCertificates {
  readonly foreignCa: ThrowawayCert;
  readonly foreignClient: ThrowawayCert;
  readonly expiredClient: ThrowawayCert;
  readonly futureClient: ThrowawayCert;
}

/** Subjects copy the bundle's own (`subject`): only the issuer or the dates differ from a good certificate. */
export function probeCertificates(subject: [string, string][], now = new Date()): ProbeCertificates {
  const t = now.getTime();
  const ca = (cn: string) =>
    makeCertificate({
      kind: "ca",
      subject: [
        ["O", "zta-probe"],
        ["CN", cn],
      ],
      notBefore: new Date(t - HOUR),
      notAfter: new Date(t + HOUR),
    });
  const foreignCa = ca("zta-probe foreign CA");
  const throwaway = ca("zta-probe throwaway CA");
  const client = (issuer: ThrowawayCert, from: number, to: number) =>
    makeCertificate({ kind: "client", subject, issuer, notBefore: new Date(t + from), notAfter: new Date(t + to) });
  return {
    foreignCa,
    foreignClient: client(foreignCa, -HOUR, HOUR),
    expiredClient: client(throwaway, -48 * HOUR, -24 * HOUR),
    futureClient: client(throwaway, 24 * HOUR, 48 * HOUR),
  };
}
