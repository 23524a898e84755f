/**
 * ApiGateway on the engine (test/engine/gateway-stack.ts): LiteLLM (the contract mock, standins/litellm.py),
 * its nginx proxy (the real Debian nginx), Postgres (the real Debian PostgreSQL 15 behind a stand-in of the
 * official entrypoint) and the reconcile job come up hardened; the job registers every app's key; only the
 * gateway reaches Postgres; and from the host through the edge an app's bundle and key reach the mock vLLM
 * through the sidecar, while a key is refused for a model only the other app may use.
 */
import { Testing } from "cdktf";
import { apply, container, destroy, Deployment, leftovers } from "./applier";
import { call, containerLogs, execIn, inspectContainer, runTool } from "./docker-api";
import { pairNetwork } from "./flows";
import { probeEach } from "./probe";
import { APP_A, APP_B, GW_HOST_PORT, GW_HOSTNAME, GW_NAME, GW_PREFIX, MODEL_A, MODEL_B, gatewayStack } from "./gateway-stack";
import { appliedHardening, hardenedAs, hostRequest, jobs, loaders, readsEveryConfigFile, services, settle } from "./stack-checks";
import { buildAllStandins, standinTag, toolImage } from "./standins";

const PROXY = `${GW_NAME}-proxy`;
const DB = `${GW_NAME}-db`;
const KEYS = `${GW_NAME}-keys`;
const SPEND = `${GW_NAME}-spend`;
const GRANTS = `${GW_NAME}-spend-grants`;
const SIDECAR = `${GW_PREFIX}-vllm-0-mtls`;
const DB_NETWORK = pairNetwork(GW_NAME, DB);
const SPEND_NETWORK = pairNetwork(SPEND, DB);

let d: Deployment;
const addr = (type: string, prefix: string) => {
  const a = [...d.values.keys()].find((k) => k.startsWith(`${type}.${prefix}`));
  if (!a) throw new Error(`no ${type}.${prefix}*`);
  return a;
};
const password = (prefix: string) => d.values.get(addr("random_password", prefix))!.result as string;
/** `terraform output -raw gateway_key_<app>`: the key value the output and the job's keys.json hold. */
const keyOf = (app: string) => `sk-${password(`gateway_key-${app}_`)}`;
const masterKey = () => `sk-${password("gateway_master-key")}`;
/** `terraform output -json gateway_app_<app>_bundle`. */
const bundleOf = (app: string) => ({
  ca: d.values.get(addr("tls_self_signed_cert", "inference_ca_root"))!.cert_pem as string,
  cert: d.values.get(addr("tls_locally_signed_cert", `gateway_app-${app}-cert`))!.cert_pem as string,
  key: d.values.get(addr("tls_private_key", `gateway_app-${app}-cert_key`))!.private_key_pem as string,
});

/** A request from the host through the edge's published port, as an app with its bundle. */
function asApp(app: string, path: string, options: { key?: string; body?: unknown } = {}) {
  const b = bundleOf(app);
  return hostRequest({
    port: GW_HOST_PORT,
    servername: GW_HOSTNAME,
    path,
    method: options.body === undefined ? "GET" : "POST",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    ca: b.ca,
    cert: b.cert,
    key: b.key,
    headers: { ...(options.key ? { Authorization: `Bearer ${options.key}` } : {}), ...(options.body === undefined ? {} : { "Content-Type": "application/json" }) },
  });
}

/** LiteLLM's management API from inside its own namespace (where only its proxy and the job live), with the master key. */
async function managementApi(path: string): Promise<any> {
  const r = await runTool({
    image: toolImage(),
    cmd: ["curl", "-sS", "--max-time", "5", "-H", `Authorization: Bearer ${masterKey()}`, `http://127.0.0.1:4000${path}`],
    networkMode: `container:${container(d, GW_NAME).id}`,
    user: "65534:65534",
    timeoutSeconds: 15,
  });
  return JSON.parse(r.output);
}

/**
 * Whether Postgres answers at each host:5432 from `where` (a network, or `container:<id>`), one answer per host:
 * Postgres' SSLRequest (protocol 1234.5679) sent, its one-byte answer read: Postgres itself answered, not
 * merely something that accepts connections. Python from the litellm stand-in; one container per place.
 */
async function postgresAnswers(where: string, hosts: string[]): Promise<string[]> {
  const script = [
    "import socket, struct, sys",
    "for host in sys.argv[1:]:",
    "    try:",
    "        s = socket.create_connection((host, 5432), timeout=3)",
    "        s.sendall(struct.pack('!ii', 8, 80877103))",
    "        a = s.recv(1)",
    "        print('postgres' if a in (b'N', b'S') else 'not postgres: %r' % a)",
    "    except (OSError, socket.timeout) as e:",
    "        print('no answer: %s' % type(e).__name__)",
  ].join("\n");
  const r = await runTool({ image: standinTag("litellm"), entrypoint: [], cmd: ["python3", "-c", script, ...hosts], networkMode: where, user: "65534:65534", timeoutSeconds: 15 });
  const lines = r.output.trim().split("\n");
  if (lines.length !== hosts.length) throw new Error(`postgres probe from ${where}: ${r.output}`);
  return lines;
}

/** The address a container has on one of its networks. */
async function ipOn(name: string, network: string): Promise<string> {
  const ip = (await inspectContainer(container(d, name).id)).NetworkSettings.Networks[network]?.IPAddress;
  if (!ip) throw new Error(`${name} has no address on ${network}`);
  return ip;
}

beforeAll(async () => {
  const json = JSON.parse(Testing.synth(gatewayStack(), true));
  d = await apply(json, { standins: await buildAllStandins() });
  await settle(d);
});

afterAll(async () => {
  if (d) await destroy(d);
});

describe("gateway: lifecycle and hardening", () => {
  it("loaders created and never started; every service healthy with no restarts; the model fetch and the reconcile job exited 0", async () => {
    for (const c of loaders(d)) {
      const s = (await inspectContainer(c.id)).State;
      expect({ name: c.name, status: s.Status, started: s.StartedAt }).toEqual({ name: c.name, status: "created", started: "0001-01-01T00:00:00Z" });
    }
    expect(services(d).map((c) => c.name).sort()).toEqual([`${GW_PREFIX}-edge`, `${GW_PREFIX}-gate`, GW_NAME, DB, PROXY, SPEND, `${GW_PREFIX}-vllm-0`, SIDECAR].sort());
    for (const c of services(d)) {
      const i = await inspectContainer(c.id);
      expect({ name: c.name, status: i.State.Status, health: i.State.Health?.Status, restarts: i.RestartCount }).toEqual({ name: c.name, status: "running", health: "healthy", restarts: 0 });
    }
    expect(jobs(d).map((c) => c.name).sort()).toEqual([KEYS, `${GW_PREFIX}-model-fetch`, GRANTS].sort());
    for (const c of jobs(d)) {
      const i = await inspectContainer(c.id);
      expect({ name: c.name, status: i.State.Status, exit: i.State.ExitCode, restarts: i.RestartCount }).toEqual({ name: c.name, status: "exited", exit: 0, restarts: 0 });
    }
  });

  it("LiteLLM, its proxy, Postgres and the job: read-only, no capabilities, no-new-privileges, their users, limits, no host port", async () => {
    // LiteLLM runs as the image's root (lib/images.ts rootReason); the others as their non-root users.
    const users: Record<string, string> = { [GW_NAME]: "", [PROXY]: "101:101", [DB]: "70:70", [KEYS]: "65534:65534", [SPEND]: "70:70", [GRANTS]: "70:70" };
    for (const [name, user] of Object.entries(users)) expect(await appliedHardening(container(d, name))).toEqual(hardenedAs(container(d, name), user));
    // The proxy and the job live in LiteLLM's namespace: no network of their own.
    for (const name of [PROXY, KEYS, GRANTS]) expect((await inspectContainer(container(d, name).id)).HostConfig.NetworkMode).toBe(`container:${container(d, GW_NAME).id}`);
  });

  it("each of them reads every file of every config volume it mounts, as its own user", async () => {
    for (const name of [GW_NAME, PROXY, DB, KEYS, SPEND, GRANTS]) {
      const reads = await readsEveryConfigFile(container(d, name), d);
      expect({ name, files: reads.length > 0 }).toEqual({ name, files: true });
      for (const r of reads) expect({ name, ...r }).toEqual({ name, file: r.file, ok: true });
    }
  });

  it("Postgres initialised its cluster in the data volume as uid 70 (the entrypoint's first-start path) and LiteLLM's role needs the password", async () => {
    const db = container(d, DB);
    const r = await execIn(db.id, ["sh", "-c", "stat -c '%u:%g %a' /var/lib/postgresql/data && cat /var/lib/postgresql/data/PG_VERSION"]);
    expect({ exit: r.exitCode, out: r.output }).toEqual({ exit: 0, out: "70:70 700\n15\n" });
    expect(await containerLogs(db.id)).toContain("PostgreSQL init process complete; ready for start up.");
    // From the gateway's namespace (the mock's psql): the generated password works, a wrong one is refused (scram-sha-256).
    const url = (pw: string) => `postgresql://litellm:${pw}@${DB}:5432/litellm`;
    const ok = await execIn(container(d, GW_NAME).id, ["psql", url(password("gateway_db-password")), "-qAtc", "SELECT current_user"]);
    expect({ exit: ok.exitCode, out: ok.output.trim() }).toEqual({ exit: 0, out: "litellm" });
    const wrong = await execIn(container(d, GW_NAME).id, ["psql", url("wrong"), "-qAtc", "SELECT 1"]);
    expect({ exit: wrong.exitCode, refused: /password authentication failed for user "litellm"/.test(wrong.output) }).toEqual({ exit: 2, refused: true });
  });
});

describe("gateway: keys", () => {
  it("the reconcile job registered every app's key with its models and limits (its log, then LiteLLM's key list)", async () => {
    const logs = await containerLogs(container(d, KEYS).id);
    expect(logs).toContain(`reconcile: created ${APP_A}`);
    expect(logs).toContain(`reconcile: created ${APP_B}`);
    expect(logs).toContain("reconcile: done, 2 keys declared");
    const list = await managementApi("/key/list?return_full_object=true&size=100");
    const keys = list.keys.map((k: any) => ({ alias: k.key_alias, models: k.models, rpm: k.rpm_limit, expires: k.expires !== null, managed: k.metadata.managed_by }));
    expect(keys.sort((a: any, b: any) => a.alias.localeCompare(b.alias))).toEqual([
      { alias: APP_A, models: [MODEL_A], rpm: 100, expires: false, managed: "cdktf-zero-trust-ai" },
      { alias: APP_B, models: [MODEL_B], rpm: 100, expires: true, managed: "cdktf-zero-trust-ai" },
    ]);
    // Each stored key is the hash of the output's value (LiteLLM keeps sha256 hashes, never the key).
    const info = await managementApi(`/key/info?key=${encodeURIComponent(keyOf(APP_A))}`);
    expect(info.info.key_alias).toBe(APP_A);
  });

  it("the management API is not reachable through the edge, even with the master key", async () => {
    const r = await asApp(APP_A, "/key/list", { key: masterKey() });
    expect(r.status).toBe(404);
    // Positive control: the same app reaches an OpenAI route.
    expect((await asApp(APP_A, "/v1/models", { key: keyOf(APP_A) })).status).toBe(200);
  });
});

describe("gateway: Postgres is reachable from the gateway and its spend exporter only", () => {
  it("from every other network and every other namespace Postgres gives no answer (by name or address); from the gateway's namespace and the exporter it answers", async () => {
    const dbIp = await ipOn(DB, DB_NETWORK);
    const spendIp = await ipOn(DB, SPEND_NETWORK);
    // Two networks, each with Postgres and one caller alone (an attacker there would be a third endpoint).
    expect(Object.keys((await inspectContainer(container(d, DB).id)).NetworkSettings.Networks).sort()).toEqual([DB_NETWORK, SPEND_NETWORK].sort());
    for (const [network, caller] of [
      [DB_NETWORK, GW_NAME],
      [SPEND_NETWORK, SPEND],
    ]) {
      const endpoints = await call("GET", `/networks/${encodeURIComponent(network)}`);
      expect({ network, members: Object.values(endpoints.json().Containers).map((c: any) => c.Name).sort() }).toEqual({ network, members: [caller, DB].sort() });
    }
    const refused = expect.stringMatching(/^(no answer|not postgres): /);
    // By address only from places with no route out: from a network with one (the edge's, the gate's egress)
    // a packet to an address the host does not route would leave the machine, and the suite sends nothing
    // beyond its own networks. There, and from namespaces on such a network, the probe goes by name alone.
    const routedOut = new Set(
      (await Promise.all(d.networks.map(async (n) => ({ n, info: (await call("GET", `/networks/${n.id}`)).json() }))))
        .filter((x) => x.info.Internal !== true)
        .map((x) => x.n.name),
    );
    const targets = (onRoutedOut: boolean) => (onRoutedOut ? [DB] : [DB, dbIp]);
    // The name does not resolve there (gaierror); the address is not routed (timeout).
    const fromNetworks = d.networks.filter((x) => x.name !== DB_NETWORK && x.name !== SPEND_NETWORK).map((n) => ({ from: n.name, where: n.name, hosts: targets(routedOut.has(n.name)) }));
    const namespaceOwners = services(d).filter((c) => !String(c.config.network_mode ?? "").startsWith("container:"));
    const fromNamespaces = await Promise.all(
      namespaceOwners
        .filter((x) => x.name !== GW_NAME && x.name !== DB && x.name !== SPEND)
        .map(async (c) => {
          const nets = Object.keys((await inspectContainer(c.id)).NetworkSettings.Networks);
          return { from: c.name, where: `container:${c.id}`, hosts: targets(nets.some((n) => routedOut.has(n))) };
        }),
    );
    const places = [...fromNetworks, ...fromNamespaces];
    const seen = await probeEach(places, async (p) => ({ from: p.from, answers: await postgresAnswers(p.where, p.hosts) }), 8);
    expect(seen).toEqual(places.map((p) => ({ from: p.from, answers: p.hosts.map(() => refused) })));
    expect(routedOut.size).toBeGreaterThan(0);
    // Positive control: the gateway's namespace (LiteLLM, its proxy and the job) reaches it by name and address.
    expect(await postgresAnswers(`container:${container(d, GW_NAME).id}`, [DB, dbIp])).toEqual(["postgres", "postgres"]);
    // The exporter by name and by its network's address; the gateway network's address is not routed from it.
    expect(await postgresAnswers(`container:${container(d, SPEND).id}`, [DB, spendIp, dbIp])).toEqual(["postgres", "postgres", refused]);
  });

  it("the exporter's role reads the spend logs and nothing else, and cannot write (psql in the exporter, with its password file)", async () => {
    const asReader = (sql: string) =>
      execIn(container(d, SPEND).id, ["env", "PGPASSFILE=/tmp/pgpass", "psql", "-X", "-qAt", "-h", DB, "-U", "zta_spend_reader", "-d", "litellm", "-c", sql]);
    const ok = await asReader('SELECT count(*) >= 0 FROM "LiteLLM_SpendLogs"');
    expect({ exit: ok.exitCode, out: ok.output.trim() }).toEqual({ exit: 0, out: "t" });
    const keys = await asReader("SELECT count(*) FROM zta_mock_keys");
    expect({ exit: keys.exitCode, denied: /permission denied for table zta_mock_keys/.test(keys.output) }).toEqual({ exit: 1, denied: true });
    const write = await asReader('DELETE FROM "LiteLLM_SpendLogs"');
    expect({ exit: write.exitCode, refused: /read-only transaction|permission denied/.test(write.output) }).toEqual({ exit: 1, refused: true });
    expect(await containerLogs(container(d, GRANTS).id)).toContain('spend grants: zta_spend_reader may read "LiteLLM_SpendLogs" only');
  });
});

describe("gateway: from the host through the edge", () => {
  const chat = (model: string, stream = false) => ({ model, messages: [{ role: "user", content: "hello there" }], max_tokens: 8, stream });

  it("an app's bundle and key reach the mock vLLM through the gateway proxy and the sidecar, attributed to the app", async () => {
    const r = await asApp(APP_A, "/v1/chat/completions", { key: keyOf(APP_A), body: chat(MODEL_A) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).choices.length).toBeGreaterThan(0);
    // The sidecar saw the gateway's certificate and the app LiteLLM verified. nginx logs after the answer and the
    // daemon copies the line to the log asynchronously (missed once on the engine): bounded, 20 tries.
    let line: any;
    for (let i = 0; i < 20 && !line; i++) {
      const audit = (await containerLogs(container(d, SIDECAR).id)).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      line = audit.reverse().find((l) => l.route === "/v1/chat/completions");
      if (!line) await new Promise((r) => setTimeout(r, 250));
    }
    expect({ identity: line?.identity, cert: /CN=zta-gateway/.test(line?.client_cert ?? ""), status: line?.status }).toEqual({ identity: `gateway:${APP_A}`, cert: true, status: 200 });
    // The models list is the key's allowlist.
    const models = JSON.parse((await asApp(APP_B, "/v1/models", { key: keyOf(APP_B) })).body).data.map((m: any) => m.id);
    expect(models).toEqual([MODEL_B]);
  });

  it("the call appears in the spend exporter's log as one gateway.call line with the app, model and token counts", async () => {
    let line: any;
    // The exporter polls every 5 s (no settle lag in this stack): bounded, 12 tries.
    for (let i = 0; i < 12 && !line; i++) {
      const logs = (await containerLogs(container(d, SPEND).id)).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      line = logs.find((l) => l.event === "gateway.call" && l.app === APP_A);
      if (!line) await new Promise((r) => setTimeout(r, 2500));
    }
    expect(line).toEqual({
      event: "gateway.call",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      request_id: expect.stringMatching(/^chatcmpl-/),
      app: APP_A,
      model: MODEL_A,
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
      spend_usd: 0,
      status: "success",
    });
    expect(line.total_tokens).toBe(line.prompt_tokens + line.completion_tokens);
    expect(line.total_tokens).toBeGreaterThan(0);
  });

  it("streams through every hop (more than one socket read carries token events)", async () => {
    const r = await asApp(APP_B, "/v1/chat/completions", { key: keyOf(APP_B), body: chat(MODEL_B, true) });
    expect(r.status).toBe(200);
    expect(r.eventsPerRead.length).toBeGreaterThan(1);
  });

  it("a key for app A is refused for the model only app B may use, with LiteLLM's status and message; B's key is served", async () => {
    const refused = await asApp(APP_A, "/v1/chat/completions", { key: keyOf(APP_A), body: chat(MODEL_B) });
    expect({ status: refused.status, message: /key not allowed to access model/.test(refused.body) }).toEqual({ status: 401, message: true });
    expect((await asApp(APP_B, "/v1/chat/completions", { key: keyOf(APP_B), body: chat(MODEL_B) })).status).toBe(200);
  });

  it("refuses a request without a key, with a made-up key, and without an app certificate", async () => {
    expect((await asApp(APP_A, "/v1/chat/completions", { body: chat(MODEL_A) })).status).toBe(401);
    expect((await asApp(APP_A, "/v1/chat/completions", { key: "sk-made-up", body: chat(MODEL_A) })).status).toBe(401);
    const b = bundleOf(APP_A);
    const noCert = await hostRequest({ port: GW_HOST_PORT, servername: GW_HOSTNAME, path: "/v1/models", ca: b.ca, headers: { Authorization: `Bearer ${keyOf(APP_A)}` } }).catch((e: Error) => ({ status: 0, body: e.message }));
    // The edge requires and verifies a client certificate for this site: the handshake fails, no HTTP answer.
    expect({ status: noCert.status, tlsRefusal: /certificate required|alert|socket hang up|ECONNRESET/i.test(noCert.body) }).toEqual({ status: 0, tlsRefusal: true });
  });
});

describe("gateway: a second apply changes the apps", () => {
  it("A's limit changed and B removed: the job is replaced and runs again, A's key keeps working with the new limit, B's key is revoked", async () => {
    const keyB = keyOf(APP_B);
    const first = d;
    const json = JSON.parse(Testing.synth(gatewayStack([{ name: APP_A, models: [MODEL_A, MODEL_B], requestsPerMinute: 50 }]), true));
    d = await apply(json, { standins: await buildAllStandins() }, "1", first);
    await settle(d);
    // LiteLLM and Postgres are kept (their config did not change): the keys live on in the database volume.
    expect(d.notes.filter((n) => n.startsWith("replaced")).sort()).toEqual([`replaced ${KEYS}`, `replaced ${KEYS}-config-loader`, `replaced ${PROXY}`, `replaced ${PROXY}-config-loader`].sort());
    const job = await inspectContainer(container(d, KEYS).id);
    expect({ status: job.State.Status, exit: job.State.ExitCode }).toEqual({ status: "exited", exit: 0 });
    const logs = await containerLogs(container(d, KEYS).id);
    expect(logs).toContain(`reconcile: updated ${APP_A}`);
    expect(logs).toContain(`reconcile: revoked ${APP_B}`);
    const list = await managementApi("/key/list?return_full_object=true&size=100");
    expect(list.keys.map((k: any) => ({ alias: k.key_alias, models: k.models, rpm: k.rpm_limit }))).toEqual([{ alias: APP_A, models: [MODEL_A, MODEL_B], rpm: 50 }]);
    // Through the edge: A's unchanged key may now call model-b; B's revoked key is refused.
    expect((await asApp(APP_A, "/v1/chat/completions", { key: keyOf(APP_A), body: { model: MODEL_B, messages: [{ role: "user", content: "hi" }] } })).status).toBe(200);
    const revoked = await asApp(APP_A, "/v1/models", { key: keyB });
    expect({ status: revoked.status, invalid: /Invalid proxy server token/.test(revoked.body) }).toEqual({ status: 401, invalid: true });
  });
});

describe("gateway: destroy", () => {
  it("leaves nothing behind", async () => {
    await destroy(d);
    const left = await leftovers();
    d = undefined as unknown as Deployment;
    expect(left).toEqual({ containers: [], networks: [], volumes: [] });
  });
});

