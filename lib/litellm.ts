/**
 * LiteLLM proxy, rendered: its config.yaml, the desired-keys file and the reconcile job's script.
 * Pure functions of their options: the ApiGateway construct, the unit tests and the e2e suite (with
 * the LiteLLM contract mock, test/e2e/litellm-mock.py) call them the same way.
 *
 * Names and behaviour read in BerriAI/litellm (v1.83-stable; not run here, LiteLLM cannot be installed):
 * - `general_settings.master_key` / `database_url` are read from config.yaml (docs/proxy/virtual_keys.md);
 *   the file is the secret's only home: no environment variable carries either.
 * - `general_settings.forward_client_headers_to_llm_api` + `litellm_settings.add_user_information_to_llm_headers`
 *   make LiteLLM add `x-litellm-user_api_key_alias` (and the other StandardLoggingUserAPIKeyMetadata
 *   fields) to the upstream request, after the client's own `x-` headers, so the key's alias wins over a
 *   client copy (LiteLLMProxyRequestSetup.add_headers_to_llm_call, litellm/proxy/litellm_pre_call_utils.py).
 *   The gateway's nginx turns that alias into the sidecars' identity header.
 * - `/key/generate` accepts a caller-chosen `key` (sk-...), `key_alias`, `models`, `max_budget`,
 *   `budget_duration`, `rpm_limit`, `tpm_limit`, `duration`, `metadata`; `/key/info?key=`, `/key/update`,
 *   `/key/delete` (`key_aliases`), `/key/list?return_full_object=true` (litellm/proxy/management_endpoints/
 *   key_management_endpoints.py). Keys are stored hashed (sha256) in LiteLLM_VerificationToken.
 */
import { toYaml } from "./yaml";

/** Where LiteLLM listens: loopback of its own namespace (only the gateway's nginx and the reconcile job share it). */
export const LITELLM_PORT = 4000;
/** metadata.managed_by on every key the reconcile job owns; keys without it are never touched. */
export const MANAGED_BY = "cdktf-zero-trust-ai";
/** The header LiteLLM adds with the calling key's alias (add_user_information_to_llm_headers). */
export const LITELLM_KEY_ALIAS_HEADER = "x-litellm-user_api_key_alias";
/**
 * Every header LiteLLM adds from the key (StandardLoggingUserAPIKeyMetadata, prefixed `x-litellm-`): the
 * gateway's nginx removes them all toward the sidecars once it has read the alias.
 */
export const LITELLM_USER_INFO_HEADERS = [
  "user_api_key_hash",
  "user_api_key_alias",
  "user_api_key_spend",
  "user_api_key_max_budget",
  "user_api_key_team_id",
  "user_api_key_project_id",
  "user_api_key_project_alias",
  "user_api_key_user_id",
  "user_api_key_org_id",
  "user_api_key_org_alias",
  "user_api_key_team_alias",
  "user_api_key_end_user_id",
  "user_api_key_user_email",
  "user_api_key_request_route",
  "user_api_key_budget_reset_at",
  "user_api_key_auth_metadata",
].map((k) => `x-litellm-${k}`);

/** One model the gateway offers: its name for clients, and the upstream (vLLM's served name). */
export interface LitellmModel {
  readonly name: string;
  readonly upstreamModel: string;
  /** USD per input token (LiteLLM's custom pricing; budgets are spend in USD). @default 0 */
  readonly inputCostPerToken?: number;
  /** @default 0 */
  readonly outputCostPerToken?: number;
}

export interface LitellmConfigOptions {
  readonly models: LitellmModel[];
  /** OpenAI-compatible base URL LiteLLM calls (the gateway's nginx on loopback). */
  readonly upstreamBaseUrl: string;
  /** `sk-...`; a Terraform reference in the construct. */
  readonly masterKey: string;
  /** `postgresql://user:password@host:port/db`; a Terraform reference inside. */
  readonly databaseUrl: string;
  /** Longest generation, seconds. */
  readonly requestTimeoutSeconds: number;
}

/** config.yaml of the LiteLLM proxy. It holds the master key and the database URL: mount it read-only, never log it. */
export function renderLitellmConfig(o: LitellmConfigOptions): string {
  if (o.models.length === 0) throw new Error("renderLitellmConfig: no models");
  return toYaml(
    {
      model_list: o.models.map((m) => ({
        model_name: m.name,
        litellm_params: {
          // hosted_vllm: OpenAI-compatible, no provider key required (the sidecar injects vLLM's).
          model: `hosted_vllm/${m.upstreamModel}`,
          api_base: o.upstreamBaseUrl,
          input_cost_per_token: m.inputCostPerToken ?? 0,
          output_cost_per_token: m.outputCostPerToken ?? 0,
          timeout: o.requestTimeoutSeconds,
          stream_timeout: o.requestTimeoutSeconds,
        },
      })),
      general_settings: {
        master_key: o.masterKey,
        database_url: o.databaseUrl,
        // Keys, budgets and spend live in Postgres; models only here (nobody adds one through the API).
        store_model_in_db: false,
        // Refuse when the database is down instead of letting every key through.
        allow_requests_on_db_unavailable: false,
        disable_spend_logs: false,
        background_health_checks: false,
        // Needed for the key's alias to reach the upstream (see add_user_information_to_llm_headers).
        forward_client_headers_to_llm_api: true,
      },
      litellm_settings: {
        add_user_information_to_llm_headers: true,
        require_auth_for_metrics_endpoint: true,
        telemetry: false,
        request_timeout: o.requestTimeoutSeconds,
        drop_params: false,
      },
    },
    ["Rendered by cdktf-zero-trust-ai (ApiGateway). Holds the master key: mounted read-only, never logged."],
  );
}

/** One app's key as the reconcile job registers it. */
export interface DesiredKey {
  /** The key alias (the app's name): what the sidecars see as `gateway:<alias>`. */
  readonly alias: string;
  /** The key value, `sk-...` (a Terraform reference in the construct). */
  readonly key: string;
  readonly models: string[];
  /** USD per budget window; null = no budget. */
  readonly maxBudget: number | null;
  /** LiteLLM duration of the budget window, e.g. "30d"; null without a budget. */
  readonly budgetDuration: string | null;
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  /** Lifetime from registration, e.g. "90d"; null = no expiry. */
  readonly duration: string | null;
}

/** keys.json for the reconcile job (secret: it holds every app's key). */
export function renderDesiredKeys(keys: DesiredKey[]): string {
  return JSON.stringify({ managed_by: MANAGED_BY, keys }, null, 2) + "\n";
}

/**
 * The reconcile job (Python 3 stdlib only: the LiteLLM image has python, no curl). Idempotent, keyed by
 * alias: a key that exists is updated to the declared limits; a declared key that does not exist yet
 * (first apply, or a rotated value) replaces whatever key holds its alias; managed keys whose alias is
 * no longer declared are deleted (revoked). It exits non-zero on any unexpected answer, so the
 * container's bounded restart retries it and Terraform sees the failure.
 */
export function renderReconcileScript(): string {
  return `# Rendered by cdktf-zero-trust-ai (ApiGateway): registers the declared app keys with LiteLLM.
import json, os, sys, time, urllib.error, urllib.parse, urllib.request

CONFIG = os.environ.get("ZTA_CONFIG_DIR", "/etc/zta")
BASE = os.environ.get("ZTA_LITELLM_URL", "http://127.0.0.1:${LITELLM_PORT}")
WAIT = int(os.environ.get("ZTA_WAIT_SECONDS", "300"))
MASTER = open(os.path.join(CONFIG, "master-key")).read().strip()
DESIRED = json.load(open(os.path.join(CONFIG, "keys.json")))
MANAGED = DESIRED["managed_by"]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + MASTER)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def must(status, answer, what):
    if status != 200:
        sys.exit("reconcile: %s failed: HTTP %s %s" % (what, status, answer))
    return answer


def wait_ready():
    deadline = time.time() + WAIT
    while True:
        try:
            with urllib.request.urlopen(BASE + "/health/readiness", timeout=5) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        if time.time() > deadline:
            sys.exit("reconcile: LiteLLM not ready after %ss" % WAIT)
        time.sleep(2)


def managed_keys():
    keys, page = [], 1
    while True:
        answer = must(*call("GET", "/key/list?return_full_object=true&size=100&page=%d" % page), "key/list")
        for k in answer.get("keys", []):
            if isinstance(k, dict) and (k.get("metadata") or {}).get("managed_by") == MANAGED:
                keys.append(k)
        if page >= int(answer.get("total_pages") or 1):
            return keys
        page += 1


def limits(d):
    return {
        "key_alias": d["alias"],
        "models": d["models"],
        "max_budget": d["maxBudget"],
        "budget_duration": d["budgetDuration"],
        "rpm_limit": d["rpmLimit"],
        "tpm_limit": d["tpmLimit"],
        "metadata": {"managed_by": MANAGED, "app": d["alias"]},
    }


def main():
    wait_ready()
    declared = {d["alias"] for d in DESIRED["keys"]}
    for d in DESIRED["keys"]:
        status, _ = call("GET", "/key/info?key=" + urllib.parse.quote(d["key"]))
        if status == 200:
            must(*call("POST", "/key/update", dict(limits(d), key=d["key"])), "key/update " + d["alias"])
            print("reconcile: updated", d["alias"])
            continue
        # A new or rotated value: the old key of this alias (if any) is revoked first.
        stale = [k for k in managed_keys() if k.get("key_alias") == d["alias"]]
        if stale:
            must(*call("POST", "/key/delete", {"key_aliases": [d["alias"]]}), "key/delete " + d["alias"])
            print("reconcile: revoked previous key of", d["alias"])
        body = dict(limits(d), key=d["key"])
        if d["duration"]:
            body["duration"] = d["duration"]
        must(*call("POST", "/key/generate", body), "key/generate " + d["alias"])
        print("reconcile: created", d["alias"])
    removed = sorted({k.get("key_alias") for k in managed_keys() if k.get("key_alias") not in declared})
    if removed:
        must(*call("POST", "/key/delete", {"key_aliases": removed}), "key/delete " + ",".join(removed))
        print("reconcile: revoked", ", ".join(removed))
    print("reconcile: done,", len(declared), "keys declared")


main()
`;
}
