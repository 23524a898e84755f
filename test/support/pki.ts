/**
 * Certificates for the real-binary suite, made by openssl to the spec of the tls resources in
 * constructs/internal-ca.ts (ECDSA P-256, the provider's key usages, Go's subject order): one
 * certificate at a time (`issueWithOpenssl`) or the whole chain's set (`createPki`), plus a
 * foreign CA and certificates it issued for the negative controls.
 */
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
  CERT_ORGANIZATION,
  EDGE_CLIENT_CN,
  GATE_SERVER_NAME,
  METRICS_SCRAPER_CN,
  OPERATOR_OU,
  SERVICE_OU,
  SIDECAR_SERVER_NAME,
} from "../../lib/identities";
import { requireBinary } from "./processes";

export interface CertificateFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface PkiNames {
  /** The edge's hostname (its certificate's CN and SAN). */
  readonly domain: string;
  /** The sidecar's target hostname (CN and second SAN; the first is SIDECAR_SERVER_NAME). */
  readonly sidecarHostname: string;
  /** The gate's Docker name (CN and second SAN; the first is GATE_SERVER_NAME). */
  readonly gateHostname: string;
  readonly operatorName: string;
  readonly operatorEmail: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateFiles;
  readonly edgeServer: CertificateFiles;
  /** The edge's client identity toward the sidecar and the gate (CN=zta-edge, OU=zta-services). */
  readonly edgeClient: CertificateFiles;
  readonly sidecarServer: CertificateFiles;
  readonly gateServer: CertificateFiles;
  readonly metricsScraper: CertificateFiles;
  /** An operator's client certificate (OU=zta-operators): valid for the edge, not a service identity. */
  readonly operator: CertificateFiles;
  /** A CA nobody configured, and a client certificate it issued. */
  readonly foreignCa: CertificateFiles;
  readonly foreignClient: CertificateFiles;
  /** A server certificate with the sidecar's names, issued by the foreign CA. */
  readonly foreignSidecarServer: CertificateFiles;
}

function openssl(args: string[]): void {
  const result = spawnSync(requireBinary("openssl"), args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`openssl ${args.join(" ")} failed (${result.status}):\n${result.stderr}`);
  }
}

/** An openssl subject string; fields in the DER order Go's pkix.Name writes (O, OU, CN, then email). */
function subjectArg(fields: [string, string][]): string {
  return fields.map(([k, v]) => `/${k}=${v}`).join("");
}

/** The tls provider's allowed_uses, as openssl extensions (Go marks basicConstraints and keyUsage critical). */
function extensions(kind: "ca" | "server" | "client", dnsNames: string[]): string {
  const lines =
    kind === "ca"
      ? ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign, digitalSignature"]
      : [
          "basicConstraints = critical, CA:FALSE",
          "keyUsage = critical, digitalSignature, keyEncipherment",
          `extendedKeyUsage = ${kind === "server" ? "serverAuth" : "clientAuth"}`,
          "authorityKeyIdentifier = keyid",
        ];
  lines.push("subjectKeyIdentifier = hash");
  if (dnsNames.length > 0) lines.push(`subjectAltName = ${dnsNames.map((n) => `DNS:${n}`).join(", ")}`);
  return `[ext]\n${lines.join("\n")}\n`;
}

/** One certificate to the spec of constructs/internal-ca.ts (ECDSA P-256, the same key usages), signed by `issuer` or self-signed. */
export function issueWithOpenssl(
  dir: string,
  name: string,
  kind: "ca" | "server" | "client",
  subject: [string, string][],
  dnsNames: string[],
  issuer?: CertificateFiles,
): CertificateFiles {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.crt`);
  const csrPath = path.join(dir, `${name}.csr`);
  const extPath = path.join(dir, `${name}.ext`);
  // ECDSA P-256, as the constructs' tls_private_key resources (never the provider's default P-224).
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
  openssl(["req", "-new", "-key", keyPath, "-subj", subjectArg(subject), "-out", csrPath]);
  fs.writeFileSync(extPath, extensions(kind, dnsNames));
  const signer = issuer ? ["-CA", issuer.certPath, "-CAkey", issuer.keyPath] : ["-signkey", keyPath];
  openssl([
    "x509",
    "-req",
    "-in",
    csrPath,
    ...signer,
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    extPath,
    "-extensions",
    "ext",
    "-out",
    certPath,
  ]);
  return { certPath, keyPath, certPem: fs.readFileSync(certPath, "utf8"), keyPem: fs.readFileSync(keyPath, "utf8") };
}

/** The subject the internal CA gives a service identity (O, OU=zta-services, CN), for issueWithOpenssl. */
export function serviceSubject(commonName: string): [string, string][] {
  return [
    ["O", CERT_ORGANIZATION],
    ["OU", SERVICE_OU],
    ["CN", commonName],
  ];
}

/** Every certificate of the chain, plus an unrelated CA and its client, written under `dir`. */
export function createPki(dir: string, names: PkiNames): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const service = serviceSubject;
  const ca = issueWithOpenssl(
    dir,
    "ca",
    "ca",
    [
      ["O", CERT_ORGANIZATION],
      ["CN", "e2e root CA"],
    ],
    [],
  );
  const foreignCa = issueWithOpenssl(
    dir,
    "foreign-ca",
    "ca",
    [
      ["O", "somebody-else"],
      ["CN", "foreign root CA"],
    ],
    [],
  );
  return {
    dir,
    ca,
    edgeServer: issueWithOpenssl(dir, "edge-server", "server", service(names.domain), [names.domain], ca),
    edgeClient: issueWithOpenssl(dir, "edge-client", "client", service(EDGE_CLIENT_CN), [], ca),
    sidecarServer: issueWithOpenssl(
      dir,
      "sidecar-server",
      "server",
      service(names.sidecarHostname),
      [SIDECAR_SERVER_NAME, names.sidecarHostname],
      ca,
    ),
    gateServer: issueWithOpenssl(
      dir,
      "gate-server",
      "server",
      service(names.gateHostname),
      [GATE_SERVER_NAME, names.gateHostname],
      ca,
    ),
    metricsScraper: issueWithOpenssl(dir, "metrics-scraper", "client", service(METRICS_SCRAPER_CN), [], ca),
    operator: issueWithOpenssl(
      dir,
      "operator",
      "client",
      [
        ["O", CERT_ORGANIZATION],
        ["OU", OPERATOR_OU],
        ["CN", names.operatorName],
        ["emailAddress", names.operatorEmail],
      ],
      [],
      ca,
    ),
    foreignCa,
    // Same subjects and names as the chain's own: only the issuer differs.
    foreignClient: issueWithOpenssl(dir, "foreign-client", "client", service(EDGE_CLIENT_CN), [], foreignCa),
    foreignSidecarServer: issueWithOpenssl(
      dir,
      "foreign-sidecar-server",
      "server",
      service(names.sidecarHostname),
      [SIDECAR_SERVER_NAME, names.sidecarHostname],
      foreignCa,
    ),
  };
}
