/**
 * Probes from inside the engine: a tool container (busybox + curl, test/engine/standins.ts) attached to a
 * network the suite created, or sharing a container's network namespace (`container:<id>`, which models
 * that container being compromised). Every probe is bounded (curl --max-time, exec's own timeout) and goes
 * only to the suite's own networks.
 *
 * One probe container per place, kept running and reused with `exec` (the suite sends hundreds of probes;
 * a container per probe cost most of its time). The applier's destroy removes them first: Docker keeps a
 * network with a live endpoint.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Deployment } from "./applier";
import { call, execIn, groupFilter, request, suiteDns, suiteLabels } from "./docker-api";
import { toolImage } from "./standins";

/** PEM files the probes present: the CA, an operator and a service identity, and a foreign CA's cert. */
export interface ProbePki {
  readonly dir: string;
}

/** Writes the deployment's CA, the given client identities and a wrong (foreign-CA) identity to a dir. */
/** Every probe PKI dir lives under this root, which the probe containers mount read-only at /pkiroot. */
const PKI_ROOT = path.join(os.tmpdir(), "zta-probe-pki");
/** Label value of the reusable probe containers (under the suite's label key). */
export const PROBE_POOL_LABEL = "probe-pool";

export function probePki(d: Deployment, identities: Record<string, { key: string; cert: string }>): ProbePki {
  fs.mkdirSync(PKI_ROOT, { recursive: true, mode: 0o755 });
  fs.chmodSync(PKI_ROOT, 0o755);
  const dir = fs.mkdtempSync(path.join(PKI_ROOT, "pki-"));
  fs.chmodSync(dir, 0o755);
  const ca = [...d.values.entries()].find(([a]) => a.startsWith("tls_self_signed_cert."));
  if (!ca) throw new Error("no CA in the deployment");
  fs.writeFileSync(path.join(dir, "ca.crt"), ca[1].cert_pem);
  for (const [name, { key, cert }] of Object.entries(identities)) {
    fs.writeFileSync(path.join(dir, `${name}.key`), d.values.get(key)!.private_key_pem, { mode: 0o644 });
    fs.writeFileSync(path.join(dir, `${name}.crt`), d.values.get(cert)!.cert_pem);
  }
  // A client certificate from another CA with the edge's own subject: "the wrong certificate".
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "wrong-ca.key", "-out", "wrong-ca.crt", "-subj", "/O=evil/CN=evil CA", "-days", "1"]);
  run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "wrong.key", "-out", "wrong.csr", "-subj", "/O=cdktf-zero-trust-ai/OU=zta-services/CN=zta-edge"]);
  fs.writeFileSync(path.join(dir, "ext.cnf"), "[e]\nextendedKeyUsage=clientAuth\n");
  run(["x509", "-req", "-in", "wrong.csr", "-CA", "wrong-ca.crt", "-CAkey", "wrong-ca.key", "-set_serial", "7", "-days", "1", "-extfile", "ext.cnf", "-extensions", "e", "-out", "wrong.crt"]);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  return { dir };
}

export interface HttpProbe {
  /** HTTP status, or 0 when no HTTP answer came (refused, TLS alert, timeout). */
  readonly status: number;
  readonly output: string;
}

/**
 * One HTTP(S) request with curl from `where` (a network name, or `container:<id>`).
 * `identity`: a client identity in the probe PKI dir ("wrong" = the foreign CA's), or none.
 */
export async function curlFrom(
  where: string,
  url: string,
  options: { pki?: ProbePki; identity?: string; headers?: string[]; insecure?: boolean; user?: string } = {},
): Promise<HttpProbe> {
  const pkiDir = options.pki ? `/pkiroot/${path.basename(options.pki.dir)}` : "";
  const args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--connect-timeout", "3"];
  if (options.pki) {
    args.push("--cacert", `${pkiDir}/ca.crt`);
    if (options.identity) args.push("--cert", `${pkiDir}/${options.identity}.crt`, "--key", `${pkiDir}/${options.identity}.key`);
  }
  if (options.insecure) args.push("-k");
  for (const h of options.headers ?? []) args.push("-H", h);
  args.push(url);
  const r = await probeExec(where, args, options.user ?? "65534:65534");
  const m = /(\d{3})\s*$/.exec(r.output.trim());
  const status = m ? Number(m[1]) : 0;
  return { status, output: r.output.trim() };
}

/**
 * Whether a plain TCP connection to host:port opens from `where` (busybox nc, bounded). Busybox's nc has
 * no `-z` (it refuses the option, so a check built on it could never see an open port): connect with
 * stdin closed instead. A refused, unanswered (-w 3) or unresolvable connect exits 1; an open one exits 0
 * when the server closes, or is cut off by `timeout` (143) when the server waits for the client.
 */
export async function tcpOpens(where: string, host: string, port: number): Promise<boolean> {
  const r = await probeExec(
    where,
    ["sh", "-c", 'timeout 4 nc -w 3 "$0" "$1" </dev/null >/dev/null 2>&1; echo "rc=$?"', host, String(port)],
    "65534:65534",
  );
  const rc = Number(/rc=(\d+)/.exec(r.output)?.[1] ?? -1);
  if (rc !== 0 && rc !== 1 && rc !== 143) throw new Error(`tcpOpens ${host}:${port} from ${where}: ${r.output}`);
  return rc === 0 || rc === 143;
}

/** Probe containers by place; a promise, so concurrent first probes from one place share one container. */
const pool = new Map<string, Promise<string>>();

/** The running probe container for `where`, created on first use (and again if its namespace owner was replaced). */
async function probeContainer(where: string): Promise<string> {
  const known = pool.get(where);
  if (known) {
    const id = await known.catch(() => undefined);
    if (id) {
      const state = await request("GET", `/containers/${id}/json`);
      if (state.status === 200 && state.json().State?.Running) return id;
      await request("DELETE", `/containers/${id}?force=1`);
    }
    // Another caller may have started the replacement while this one looked.
    if (pool.get(where) !== known) return probeContainer(where);
  }
  const starting = startProbeContainer(where);
  pool.set(where, starting);
  return starting;
}

async function startProbeContainer(where: string): Promise<string> {
  const created = await call("POST", "/containers/create", {
    Image: toolImage(),
    // Bounded: it exits by itself after 30 minutes even if a run is killed before its cleanup.
    Cmd: ["sleep", "1800"],
    User: "65534:65534",
    Labels: suiteLabels(PROBE_POOL_LABEL),
    HostConfig: {
      NetworkMode: where,
      Binds: [`${PKI_ROOT}:/pkiroot:ro`],
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges:true"],
      // (A container sharing another's namespace keeps that container's resolv.conf.)
      ...suiteDns(where),
    },
  });
  const id = created.json().Id as string;
  await call("POST", `/containers/${id}/start`);
  return id;
}

/**
 * Runs `probe` for every item, at most `concurrency` at a time (each probe is bounded by its own
 * timeouts), and returns the results in the items' order: a test compares the whole list at once.
 */
export async function probeEach<T, R>(items: readonly T[], probe: (item: T) => Promise<R>, concurrency = 16): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await probe(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

async function probeExec(where: string, cmd: string[], user: string): Promise<{ exitCode: number; output: string }> {
  fs.mkdirSync(PKI_ROOT, { recursive: true, mode: 0o755 });
  return execIn(await probeContainer(where), cmd, user);
}

/** Removes every probe container (the applier's destroy calls it before it deletes networks). */
export async function closeProbes(): Promise<void> {
  for (const c of (await call("GET", `/containers/json?all=1&filters=${groupFilter(PROBE_POOL_LABEL)}`)).json()) await request("DELETE", `/containers/${c.Id}?force=1`);
  pool.clear();
}

/** The gateway address Docker's IPAM gave a network (the host side of its bridge, unless inhibited). */
export async function gatewayOf(network: string): Promise<string> {
  const n = (await call("GET", `/networks/${encodeURIComponent(network)}`)).json();
  const gw = n.IPAM?.Config?.[0]?.Gateway;
  if (!gw) throw new Error(`network ${network} has no IPAM gateway: ${JSON.stringify(n.IPAM)}`);
  return gw;
}

/**
 * A TCP service on the host bound to all interfaces (like an sshd or a database), on a free high port,
 * answering a marker line; closed by `close()`. It stands in for "any host service".
 */
export async function hostServiceOnAllInterfaces(): Promise<{ port: number; close: () => Promise<void>; connections: () => number }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    s.end("HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhost-service");
  });
  await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, connections: () => count, close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
