#!/usr/bin/env bash
# Installs the real binaries the e2e suite runs (Caddy, nginx, openssl, Prometheus + promtool) from Debian's packages when
# they are missing. Idempotent; needs root (or sudo). The tests fail, never skip, without them.
set -euo pipefail
missing=()
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# One package for both: the observability tests run prometheus and promtool (2.42 on bookworm).
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || missing+=(prometheus)
# The backup job's scripts (test/e2e/backup.e2e.test.ts): restic 0.14, sqlite3, PostgreSQL 15, promtool.
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
# The audit collector (test/e2e/audit.e2e.test.ts): Debian's syslog-ng 3.38; the package would start a system syslog, the tests run their own.
[ -x /usr/sbin/syslog-ng ] || missing+=(syslog-ng-core)
# ...and its http() destination, the push to Loki (test/e2e/audit-loki.e2e.test.ts).
[ -e /usr/lib/syslog-ng/3.38/libhttp.so ] || missing+=(syslog-ng-mod-http)
# The runbooks' audit queries (test/e2e/runbook-commands.e2e.test.ts) run with Debian's jq.
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # renders the trust-zone SVG (test/e2e/trust-diagram.e2e.test.ts)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing from Debian: ${missing[*]}"
  $sudo apt-get update -qq
  # The package would start its own nginx service; the tests run their own instances on loopback.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "caddy $(caddy version | cut -d' ' -f1), $(nginx -v 2>&1 | cut -d' ' -f3), $(openssl version | cut -d' ' -f1-2), $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3)"
