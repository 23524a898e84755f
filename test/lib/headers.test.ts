import {
  CLIENT_CERT_HEADER,
  GATE_IDENTITY_HEADERS,
  IDENTITY_HEADER,
  SPOOFABLE_IDENTITY_HEADERS,
  WEBUI_FORWARDED_EMAIL_HEADER,
  WEBUI_FORWARDED_HEADERS,
  caddyHeaderPlaceholder,
  nginxHeaderVar,
} from "../../lib/headers";

describe("header names", () => {
  test("every header the edge or a sidecar trusts is one the edge strips from clients first", () => {
    for (const h of [IDENTITY_HEADER, CLIENT_CERT_HEADER, ...GATE_IDENTITY_HEADERS])
      expect(SPOOFABLE_IDENTITY_HEADERS).toContain(h);
    expect(new Set(SPOOFABLE_IDENTITY_HEADERS.map((h) => h.toLowerCase())).size).toBe(
      SPOOFABLE_IDENTITY_HEADERS.length,
    );
  });

  test("the Open WebUI email header is among the forwarded headers the chat proxy strips", () => {
    expect(WEBUI_FORWARDED_HEADERS).toContain(WEBUI_FORWARDED_EMAIL_HEADER);
  });

  test("nginx variables and Caddy placeholders name the header the way each server reads it", () => {
    expect(nginxHeaderVar(IDENTITY_HEADER)).toBe("$http_x_zta_identity");
    expect(nginxHeaderVar("Cf-Access-Authenticated-User-Email")).toBe("$http_cf_access_authenticated_user_email");
    expect(caddyHeaderPlaceholder("X-Auth-Request-Email")).toBe("{http.request.header.X-Auth-Request-Email}");
  });
});
