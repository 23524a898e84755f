import * as fs from "fs";
import * as path from "path";
import { TLS_FILES } from "../../lib/identities";
import { writeConfigVolume } from "../support/chain";
import { makeTempDir } from "../support/processes";
import { renderChain } from "../support/render";

// The suite writes each service's files under the names the constructs upload; these pin that it
// reads those names from the constructs and refuses a list that differs.
describe("test/support: config volumes as the constructs upload them", () => {
  test("the rendered chain lists the files the edge and the sidecar upload, certificates under TLS_FILES", () => {
    const r = renderChain();
    expect([...r.edgeFiles].sort()).toEqual(["Caddyfile", ...Object.values(TLS_FILES)].sort());
    expect([...r.sidecarFiles].sort()).toEqual(
      ["nginx.conf", "upstream-auth.conf", TLS_FILES.caCert, TLS_FILES.serverCert, TLS_FILES.serverKey].sort(),
    );
  });

  test("writeConfigVolume writes exactly the uploaded files, and throws on a missing or an extra one", () => {
    const dir = makeTempDir("zta-support-");
    try {
      const uploaded = ["nginx.conf", TLS_FILES.caCert];
      writeConfigVolume(path.join(dir, "ok"), uploaded, { "nginx.conf": "conf", [TLS_FILES.caCert]: "pem" });
      expect(fs.readdirSync(path.join(dir, "ok")).sort()).toEqual([...uploaded].sort());
      expect(() => writeConfigVolume(path.join(dir, "missing"), uploaded, { "nginx.conf": "conf" })).toThrow(
        /no local content for \[ca\.crt\]/,
      );
      expect(() =>
        writeConfigVolume(path.join(dir, "extra"), uploaded, {
          "nginx.conf": "conf",
          [TLS_FILES.caCert]: "pem",
          [TLS_FILES.clientKey]: "key",
        }),
      ).toThrow(/files it does not upload \[client\.key\]/);
      expect(fs.existsSync(path.join(dir, "missing"))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
