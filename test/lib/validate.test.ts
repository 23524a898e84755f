import { isAllInterfaces, isBindAddress, isCommitSha, isDigestPinned, isDnsName, isEmail } from "../../lib/validate";

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
