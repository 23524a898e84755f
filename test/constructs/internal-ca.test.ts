import { Construct } from "constructs";
import { ConfigError, InternalCa } from "../../index";
import { resources, stackWithProviders, synth } from "../helpers";
import { synthOf } from "../helpers";

describe("InternalCa", () => {
  const stack = stackWithProviders();
  const ca = new InternalCa(stack, "ca");
  const owner = new Construct(stack, "service");
  ca.issueServerCertificate(owner, "server", { commonName: "svc", dnsNames: ["svc.zta.internal", "svc"] });
  ca.issueClientCertificate(owner, "client", { commonName: "zta-edge", organizationalUnit: "zta-services" });
  const bundle = ca.addOperator("devops-laptop", "devops@example.com");
  const json = synth(stack);

  test("every key is ECDSA P-256 (the provider's default curve is P-224)", () => {
    const keys = Object.values(resources(json, "tls_private_key"));
    expect(keys).toHaveLength(4);
    for (const k of keys) expect([k.algorithm, k.ecdsa_curve]).toEqual(["ECDSA", "P256"]);
  });

  test("the root is a CA that signs certificates and CRLs", () => {
    const [root] = Object.values(resources(json, "tls_self_signed_cert"));
    expect(root).toMatchObject({ is_ca_certificate: true, validity_period_hours: 17520, early_renewal_hours: 720 });
    expect(root.allowed_uses).toEqual(expect.arrayContaining(["cert_signing", "crl_signing"]));
  });

  test("leaves are short-lived, renewed early, and limited to one purpose", () => {
    const leaves = Object.entries(resources(json, "tls_locally_signed_cert"));
    expect(leaves).toHaveLength(3);
    for (const [id, leaf] of leaves) {
      expect(leaf).toMatchObject({ validity_period_hours: 720, early_renewal_hours: 240 });
      const purpose = id.includes("server") ? "server_auth" : "client_auth";
      expect(leaf.allowed_uses.sort()).toEqual(["digital_signature", "key_encipherment", purpose].sort());
      expect(leaf.is_ca_certificate).toBeUndefined();
    }
  });

  test("subjects and SANs: services in zta-services, operators in zta-operators with their email", () => {
    const requests = Object.entries(resources(json, "tls_cert_request"));
    const byId = (part: string) => requests.find(([id]) => id.includes(part))![1];
    expect(byId("server").dns_names).toEqual(["svc.zta.internal", "svc"]);
    expect(byId("server").subject[0]).toMatchObject({ common_name: "svc", organizational_unit: "zta-services" });
    expect(byId("operator").subject[0]).toEqual({
      common_name: "devops-laptop",
      organization: "cdktf-zero-trust-ai",
      organizational_unit: "zta-operators",
      email_address: "devops@example.com",
    });
    expect(byId("service_client").dns_names).toBeUndefined();
  });

  test("the operator bundle is a sensitive output with certificate, key and CA", () => {
    const output = json.output![bundle.outputName];
    expect(output.sensitive).toBe(true);
    expect(Object.keys(output.value as object).sort()).toEqual([
      "ca_certificate_pem",
      "certificate_pem",
      "private_key_pem",
    ]);
    expect(bundle.outputName).toBe("test_ca_operator_devops-laptop".replace(/-/g, "_"));
  });

  test("validity windows that would re-issue on every plan, or outlive the root, are refused", () => {
    const s = stackWithProviders();
    let err: ConfigError | undefined;
    try {
      synthOf(new InternalCa(s, "ca", { leafValidityHours: 48, leafEarlyRenewalHours: 48, caValidityHours: 24 }));
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.map((p) => p.prop)).toEqual([
      "caEarlyRenewalHours",
      "leafEarlyRenewalHours",
      "leafValidityHours",
    ]);
    expect(
      () => new InternalCa(stackWithProviders(), "ok", { leafValidityHours: 48, leafEarlyRenewalHours: 24 }),
    ).not.toThrow();
  });

  test("bad SANs and operator emails are refused", () => {
    const s = stackWithProviders();
    const c = new InternalCa(s, "ca");
    expect(() => c.issueServerCertificate(s, "x", { commonName: "x", dnsNames: ["https://x"] })).toThrow(
      /dnsNames: received "https:\/\/x"/,
    );
    expect(() => c.addOperator("op", "nope")).toThrow(/operators\[\]\.email: received "nope"/);
  });

  test("snapshot", () => expect(json).toMatchSnapshot());
});
