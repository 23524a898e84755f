import { CATCH_ALL_SERVICE, ingressProblems } from "../../lib/tunnel-ingress";

const routed = { hostname: "chat.example.com", service: "https://inference-chat:8444", accessRequired: true };

describe("ingressProblems", () => {
  test("a routed rule that requires Access followed by the catch-all is sound", () => {
    expect(ingressProblems([routed, { service: CATCH_ALL_SERVICE }])).toEqual([]);
  });

  test("a missing or misplaced catch-all is reported", () => {
    expect(ingressProblems([routed]).join()).toMatch(/last rule must be the catch-all/);
    expect(ingressProblems([{ service: CATCH_ALL_SERVICE }, routed]).join()).toMatch(/catch-all before the end|last rule/);
    expect(ingressProblems([routed, { service: "http_status:200" }]).join()).toMatch(/last rule must be the catch-all/);
  });

  test("a routed rule without a hostname or without Access is reported", () => {
    expect(ingressProblems([{ service: "https://x:1", accessRequired: true }, { service: CATCH_ALL_SERVICE }]).join()).toMatch(/no hostname/);
    expect(ingressProblems([{ ...routed, accessRequired: false }, { service: CATCH_ALL_SERVICE }]).join()).toMatch(/does not require a valid Access JWT/);
  });
});
