import {
  dnsNameFix,
  isAllInterfaces,
  isBindAddress,
  isCommitSha,
  isDigestPinned,
  isDnsName,
  isEmail,
  parseIp,
} from "../../lib/validate";

test.each([
  ["0e9e39f249a16976918f6564b8830bc894c89659", true],
  ["main", false],
  ["0E9E39F249A16976918F6564B8830BC894C89659", false],
  ["0e9e39f", false],
])("isCommitSha(%s) = %s", (value, expected) => expect(isCommitSha(value)).toBe(expected));

test.each([
  ["caddy:2.10.2-alpine@sha256:4c6e91c6ed0e2fa03efd5b44747b625fec79bc9cd06ac5235a779726618e530d", true],
  ["caddy@sha256:4c6e91c6ed0e2fa03efd5b44747b625fec79bc9cd06ac5235a779726618e530d", true],
  ["caddy:2.10.2-alpine", false],
  ["caddy:latest@sha256:abc", false],
])("isDigestPinned(%s) = %s", (value, expected) => expect(isDigestPinned(value)).toBe(expected));

test.each([
  ["ai.example.internal", true],
  ["ai", true],
  ["https://ai.example.internal", false],
  ["ai.example.internal:443", false],
  ["AI.example.internal", false],
  ["*.example.internal", false],
])("isDnsName(%s) = %s", (value, expected) => expect(isDnsName(value)).toBe(expected));

test.each([
  ["0.0.0.0", true, true],
  ["::", true, true],
  ["127.0.0.1", false, true],
  ["100.64.0.7", false, true],
  ["fd7a:115c:a1e0::1", false, true],
  ["localhost", false, false],
])("bind address %s: all interfaces %s, valid %s", (value, all, valid) => {
  expect(isAllInterfaces(value)).toBe(all);
  expect(isBindAddress(value)).toBe(valid);
});

test.each([
  ["devops@example.com", true],
  ["devops@example", false],
  ["Dev Ops <devops@example.com>", false],
])("isEmail(%s) = %s", (value, expected) => expect(isEmail(value)).toBe(expected));

describe("addresses are compared parsed, not spelled", () => {
  test.each([
    ["0.0.0.0", true],
    ["0.0.0.00", true],
    ["::", true],
    ["[::]", true],
    ["0:0:0:0:0:0:0:0", true],
    ["0000:0000:0000:0000:0000:0000:0000:0000", true],
    ["::0", true],
    ["::ffff:0.0.0.0", true],
    ["", true],
    ["127.0.0.1", false],
    ["::1", false],
    ["0:0:0:0:0:0:0:1", false],
    ["fd7a:115c:a1e0::1", false],
  ])("%s binds every interface: %s", (value, expected) => expect(isAllInterfaces(value)).toBe(expected));

  test.each([
    ["::1", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ["1.2.3.4", [1, 2, 3, 4]],
    ["::ffff:1.2.3.4", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]],
  ])("parseIp(%s)", (value, bytes) => expect(parseIp(value)).toEqual(bytes));

  test.each(["1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "localhost", "::g"])(
    "%s is not an address",
    (value) => {
      expect(parseIp(value)).toBeUndefined();
      expect(isBindAddress(value)).toBe(false);
    },
  );

  test("an IP address is not a DNS name, and the fix says why", () => {
    expect(isDnsName("10.0.0.5")).toBe(false);
    expect(isDnsName("ai.example.internal")).toBe(true);
    expect(dnsNameFix("10.0.0.5", "ai.example.internal")).toMatch(/IP address is not a DNS name/);
  });
});
