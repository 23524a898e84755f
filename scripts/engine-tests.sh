#!/usr/bin/env bash
# Runs the engine suite (test/engine) as two jest processes at once, against the engine DOCKER_HOST names
# (scripts/docker-engine.sh run ... sets it). Files within a group run one at a time (--runInBand); the
# groups never share a Docker name or a host port:
#   a: the stacks named "inference-*" on host port 443 (the default stack, the examples, the probe, ...)
#   b: the stacks with their own name prefix and port (observability, gateway, backup, lockdown)
# Group a prepares the engine for both (leftovers removed, stand-ins built); group b waits for it. Each
# group's output is printed when it ends; the exit code is 1 if either group failed.
set -uo pipefail
cd "$(dirname "$0")/.."

GROUP_A=(default-stack probe examples replacement audit internal-gateway)
GROUP_B=(observability gateway backup lockdown)

# Every engine test file is in exactly one group: a new file must be placed, never silently left out.
assigned="$(printf '%s\n' "${GROUP_A[@]}" "${GROUP_B[@]}" | sort)"
present="$(ls test/engine/*.engine.test.ts | sed 's|test/engine/||; s|\.engine\.test\.ts$||' | sort)"
if [ "$assigned" != "$present" ]; then
  echo "engine-tests.sh: the groups do not list exactly the engine test files:" >&2
  diff <(echo "$assigned") <(echo "$present") >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
paths() { for f in "$@"; do echo "test/engine/$f.engine.test.ts"; done; }

started=$(date +%s)
ZTA_ENGINE_GROUP=a ZTA_ENGINE_READY_FILE="$work/ready" \
  npx jest -c jest.engine.config.js --runInBand --runTestsByPath $(paths "${GROUP_A[@]}") >"$work/a.log" 2>&1 &
pid_a=$!
ZTA_ENGINE_GROUP=b ZTA_ENGINE_WAIT_FOR="$work/ready" \
  npx jest -c jest.engine.config.js --runInBand --runTestsByPath $(paths "${GROUP_B[@]}") >"$work/b.log" 2>&1 &
pid_b=$!
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?

for g in a b; do
  echo "=============== engine group $g ==============="
  cat "$work/$g.log"
done
echo "engine suite: group a exit $rc_a, group b exit $rc_b, $(( $(date +%s) - started )) s wall time"
[ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ]
