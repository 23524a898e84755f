/**
 * The audit collector in the e2e suites: real syslog-ng running the config AuditLog renders (localized to
 * loopback and temp directories), and frames sent to it the way Docker's syslog driver sends them.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { AUDIT_DATA_DIR, AUDIT_PORT } from "../../lib/audit";
import { CONFIG_DIR, TLS_FILES } from "../../lib/identities";
import { CertificateFiles } from "./pki";
import { ManagedProcess, requireBinary } from "./processes";
import { Replacement, localize } from "./render";

/** What Docker's syslog driver sends for one line (daemon/logger/syslog: rfc5424micro, app-name = msgid = tag, octet counting). */
export function dockerFrame(tag: string, stream: "stdout" | "stderr", line: string): Buffer {
  const pri = 3 * 8 + (stream === "stdout" ? 6 : 3); // facility daemon; info for stdout, err for stderr
  const ts = new Date().toISOString().replace("Z", "000Z");
  const msg = Buffer.from(`<${pri}>1 ${ts} e2e-docker-host ${tag} ${process.pid} ${tag} - ${line}`);
  return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
}

/** Sends frames over TLS like the daemon; resolves "sent" or the error the handshake ended with. */
export function sendFrames(
  port: number,
  ca: string,
  client: CertificateFiles | undefined,
  frames: Buffer[],
): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port, ca, servername: "localhost", cert: client?.certPem, key: client?.keyPem },
      () => {
        for (const f of frames) socket.write(f);
        // TLS 1.3: the server's verdict on our certificate arrives after our handshake completed.
        setTimeout(() => socket.end(() => resolve("sent")), 300);
      },
    );
    socket.on("error", (e) => resolve(`error: ${e.message}`));
  });
}

/** Every record of the collector's day files. */
export function readDayFiles(dir: string): Array<Record<string, any>> {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l !== ""),
    )
    .map((l) => JSON.parse(l));
}

export interface CollectorFiles {
  readonly ca: CertificateFiles;
  readonly server: CertificateFiles;
  /** Its client certificate toward the Loki gateway, when the config pushes there. */
  readonly client?: CertificateFiles;
}

/**
 * Starts real syslog-ng with the rendered collector config under `dir`: its certificates as the config volume
 * holds them, the day files in `dir`/data, the TLS listener on `port` of the loopback; `replacements` localize
 * anything else (the Loki push URL). The config must pass `--syntax-only` first.
 */
export async function startCollector(
  conf: string,
  dir: string,
  port: number,
  files: CollectorFiles,
  replacements: Replacement[] = [],
): Promise<{ process: ManagedProcess; dataDir: string }> {
  const syslogNg = requireBinary("syslog-ng");
  const cfg = path.join(dir, "cfg");
  const dataDir = path.join(dir, "data");
  fs.mkdirSync(cfg);
  fs.mkdirSync(dataDir);
  fs.writeFileSync(path.join(cfg, TLS_FILES.caCert), files.ca.certPem);
  fs.writeFileSync(path.join(cfg, TLS_FILES.serverCert), files.server.certPem);
  fs.writeFileSync(path.join(cfg, TLS_FILES.serverKey), files.server.keyPem);
  if (files.client) {
    fs.writeFileSync(path.join(cfg, TLS_FILES.clientCert), files.client.certPem);
    fs.writeFileSync(path.join(cfg, TLS_FILES.clientKey), files.client.keyPem);
  }
  const local = localize(
    conf,
    [
      { from: `"${CONFIG_DIR}/`, to: `"${cfg}/`, why: "certificates of the config volume" },
      { from: `"${AUDIT_DATA_DIR}/`, to: `"${dataDir}/`, why: "the audit volume" },
      { from: `port(${AUDIT_PORT})`, to: `port(${port})`, why: "a free loopback port" },
      { from: 'ip("0.0.0.0")', to: 'ip("127.0.0.1")', why: "loopback only on the test host" },
      ...replacements,
    ],
    "syslog-ng.conf",
  );
  const confPath = path.join(dir, "syslog-ng.conf");
  fs.writeFileSync(confPath, local);
  const syntax = spawnSync(syslogNg, ["--syntax-only", "-f", confPath], { encoding: "utf8" });
  if (syntax.status !== 0 || syntax.stderr !== "")
    throw new Error(`syslog-ng --syntax-only: ${syntax.status}\n${syntax.stderr}`);
  // prettier-ignore
  const collector = new ManagedProcess("syslog-ng", syslogNg, [
    "-F", "--no-caps", "-e", "-f", confPath,
    "--persist-file", path.join(dataDir, ".syslog-ng.persist"), "--pidfile", path.join(dir, "syslog-ng.pid"), "--control", path.join(dir, "syslog-ng.ctl"),
  ]);
  await collector.waitForPort(port, () => collector.logs().includes("syslog-ng starting up"));
  return { process: collector, dataDir };
}
