import { CertRequest } from "@cdktf/provider-tls/lib/cert-request";
import { LocallySignedCert } from "@cdktf/provider-tls/lib/locally-signed-cert";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { TerraformOutput } from "cdktf";
import { Construct } from "constructs";
import { Problems, isUnresolved, whereIs } from "../lib/errors";
import { CERT_ORGANIZATION, OPERATOR_OU, SERVICE_OU } from "../lib/identities";
import { isDnsName, isEmail, isIpv4, isPositiveInt } from "../lib/validate";

export interface InternalCaProps {
  /** Common name of the root certificate. @default "<construct path> root CA" */
  readonly commonName?: string;
  /** Root certificate validity. @default 17520 (two years) */
  readonly caValidityHours?: number;
  /** Re-issue the root (and with it every leaf) when a plan runs this close to its expiry. @default 720 */
  readonly caEarlyRenewalHours?: number;
  /** Validity of every leaf certificate. @default 720 (30 days) */
  readonly leafValidityHours?: number;
  /** A plan this close to a leaf's expiry re-issues it. @default 240 (10 days) */
  readonly leafEarlyRenewalHours?: number;
  /** Prefix of the Terraform output names this CA creates. @default the construct path, with `_` for other characters */
  readonly outputPrefix?: string;
}

/** A certificate and its private key, as Terraform references (the key is sensitive). */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly privateKeyPem: string;
}

export interface ServerCertificateOptions {
  readonly commonName: string;
  /** DNS SANs; the first is also the common name if none is given. */
  readonly dnsNames: string[];
  /** IP SANs. @default none */
  readonly ipAddresses?: string[];
}

export interface ClientCertificateOptions {
  readonly commonName: string;
  /** OU: `zta-services` for workloads, `zta-operators` for people and their devices. */
  readonly organizationalUnit: string;
  /** Written into the subject's emailAddress. @default none */
  readonly email?: string;
}

export interface OperatorBundle {
  /** Name of the sensitive Terraform output holding certificate_pem, private_key_pem, ca_certificate_pem. */
  readonly outputName: string;
  readonly certificate: IssuedCertificate;
}

/** ECDSA P-256 everywhere. The tls provider's default curve is P-224, which nothing should use. */
const KEY_ALGORITHM = { algorithm: "ECDSA", ecdsaCurve: "P256" };

/** Terraform output names: letters, digits, underscores. */
function outputSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, "_");
}

/**
 * A private certificate authority held in Terraform state that issues every certificate of the
 * stack: the edge's server certificate, each sidecar's, the gate's, the edge's client identity
 * toward the sidecars, and one client certificate per operator.
 *
 * Leaves are short-lived; any plan inside the early-renewal window re-issues them (and the
 * services that mount them are replaced because their config hash changes). The keys live in
 * Terraform state: protect it (README, "Protect the state").
 */
export class InternalCa extends Construct {
  /** The root certificate (PEM), to trust in clients. */
  public readonly certPem: string;
  private readonly caKey: PrivateKey;
  private readonly leafValidityHours: number;
  private readonly leafEarlyRenewalHours: number;
  private readonly outputPrefix: string;

  constructor(scope: Construct, id: string, props: InternalCaProps = {}) {
    super(scope, id);
    const caValidity = props.caValidityHours ?? 17520;
    const caEarly = props.caEarlyRenewalHours ?? 720;
    this.leafValidityHours = props.leafValidityHours ?? 720;
    this.leafEarlyRenewalHours = props.leafEarlyRenewalHours ?? 240;
    this.outputPrefix = outputSafe(props.outputPrefix ?? this.node.path);

    const problems = new Problems(whereIs("InternalCa", this.node.path), this);
    const windows: [string, number, string, number][] = [
      ["caValidityHours", caValidity, "caEarlyRenewalHours", caEarly],
      ["leafValidityHours", this.leafValidityHours, "leafEarlyRenewalHours", this.leafEarlyRenewalHours],
    ];
    for (const [validityProp, validity, earlyProp, early] of windows) {
      problems.check(isPositiveInt(validity), validityProp, validity, "Use a whole number of hours above 0.");
      problems.check(
        Number.isInteger(early) && early >= 0 && early < validity,
        earlyProp,
        early,
        `Use a whole number of hours from 0 to below ${validityProp} (${validity}), or every plan re-issues.`,
      );
    }
    problems.check(
      this.leafValidityHours <= caValidity,
      "leafValidityHours",
      this.leafValidityHours,
      `Leaves may not outlive the root: use at most caValidityHours (${caValidity}).`,
    );
    problems.report();

    this.caKey = new PrivateKey(this, "root-key", KEY_ALGORITHM);
    const root = new SelfSignedCert(this, "root", {
      privateKeyPem: this.caKey.privateKeyPem,
      isCaCertificate: true,
      setSubjectKeyId: true,
      subject: [
        {
          commonName: props.commonName ?? `${this.node.path} root CA`,
          organization: CERT_ORGANIZATION,
        },
      ],
      validityPeriodHours: caValidity,
      earlyRenewalHours: caEarly,
      allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
    });
    this.certPem = root.certPem;
  }

  /** A TLS server certificate (`server_auth`) for a service; its resources live in `scope`, the service that owns it. */
  public issueServerCertificate(scope: Construct, id: string, options: ServerCertificateOptions): IssuedCertificate {
    const problems = new Problems(whereIs("InternalCa.issueServerCertificate", `${scope.node.path}/${id}`));
    // A lazily computed list (the edge adds hostnames later) is checked where names are added.
    const names = isUnresolved(options.dnsNames) ? [] : options.dnsNames;
    for (const name of names) {
      if (!isUnresolved(name)) {
        problems.check(isDnsName(name), "dnsNames", name, "Use a lowercase DNS name without scheme or port.");
      }
    }
    for (const ip of options.ipAddresses ?? []) {
      if (!isUnresolved(ip)) problems.check(isIpv4(ip), "ipAddresses", ip, "Use an IPv4 literal.");
    }
    problems.throwIfAny();
    return this.issue(scope, id, {
      subject: { commonName: options.commonName, organization: CERT_ORGANIZATION, organizationalUnit: SERVICE_OU },
      dnsNames: options.dnsNames,
      ipAddresses: options.ipAddresses,
      use: "server_auth",
    });
  }

  /** A TLS client certificate (`client_auth`) for a workload or an operator; its resources live in `scope`. */
  public issueClientCertificate(scope: Construct, id: string, options: ClientCertificateOptions): IssuedCertificate {
    return this.issue(scope, id, {
      subject: {
        commonName: options.commonName,
        organization: CERT_ORGANIZATION,
        organizationalUnit: options.organizationalUnit,
        ...(options.email === undefined ? {} : { emailAddress: options.email }),
      },
      use: "client_auth",
    });
  }

  /**
   * An operator's client certificate plus a sensitive output with everything a client needs:
   * `terraform output -json <outputName>` gives certificate_pem, private_key_pem, ca_certificate_pem.
   */
  public addOperator(name: string, email?: string): OperatorBundle {
    const problems = new Problems(whereIs("InternalCa.addOperator", this.node.path));
    if (email !== undefined && !isUnresolved(email)) {
      problems.check(isEmail(email), "operators[].email", email, "Use a plain address like devops@example.com.");
    }
    problems.throwIfAny();
    const certificate = this.issueClientCertificate(this, `operator-${name}`, {
      commonName: name,
      organizationalUnit: OPERATOR_OU,
      email,
    });
    const output = new TerraformOutput(this, `operator-${name}-bundle`, {
      description: `mTLS client bundle for operator ${name} (certificate, key, CA)`,
      sensitive: true,
      value: {
        certificate_pem: certificate.certPem,
        private_key_pem: certificate.privateKeyPem,
        ca_certificate_pem: this.certPem,
      },
    });
    const outputName = outputSafe(`${this.outputPrefix}_operator_${name}`);
    output.overrideLogicalId(outputName);
    return { outputName, certificate };
  }

  private issue(
    owner: Construct,
    id: string,
    spec: {
      subject: Record<string, string>;
      dnsNames?: string[];
      ipAddresses?: string[];
      use: "server_auth" | "client_auth";
    },
  ): IssuedCertificate {
    const scope = new Construct(owner, id);
    const key = new PrivateKey(scope, "key", KEY_ALGORITHM);
    const request = new CertRequest(scope, "request", {
      privateKeyPem: key.privateKeyPem,
      subject: [spec.subject],
      ...(spec.dnsNames ? { dnsNames: spec.dnsNames } : {}),
      ...(spec.ipAddresses && spec.ipAddresses.length > 0 ? { ipAddresses: spec.ipAddresses } : {}),
    });
    const cert = new LocallySignedCert(scope, "cert", {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: this.caKey.privateKeyPem,
      caCertPem: this.certPem,
      validityPeriodHours: this.leafValidityHours,
      earlyRenewalHours: this.leafEarlyRenewalHours,
      setSubjectKeyId: true,
      allowedUses: ["digital_signature", "key_encipherment", spec.use],
    });
    return { certPem: cert.certPem, privateKeyPem: key.privateKeyPem };
  }
}
