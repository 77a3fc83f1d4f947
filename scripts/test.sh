#!/usr/bin/env bash
# The whole evo-voice test suite, on a fresh machine or an old one.
#
# 1. Installs what is missing: PostgreSQL server binaries, a JDK and, for
#    jemalloc, make and a C compiler (apt;
#    javac checks the generated Java DTOs), the Node and Python packages of
#    the real-client tests (pinned versions).
# 2. Builds once (test profile) and runs every Rust test (unit, property, integration,
#    PostgreSQL, crash), the API integration tests a second time on
#    PostgreSQL (EVO_TEST_STORE=postgres), then the real-client tests.
#
# A test that cannot get PostgreSQL fails (it never skips); under CI=true
# (`.ci/run` sets it) so do the Node and Python client tests.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

need_apt=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if ! command -v javac >/dev/null 2>&1; then
  need_apt+=(default-jdk-headless)
fi
# The browser test imports /types/mjs in Debian's Chromium, driven by the
# pinned npm playwright-core (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  need_apt+=(chromium)
fi
# jemalloc, the default allocator (tikv-jemalloc-sys), is built from C
# source with make and a C compiler.
if ! command -v make >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
  need_apt+=(make gcc libc6-dev)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${need_apt[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  elif [ "${CI:-}" = true ]; then
    echo "error: cannot install ${need_apt[*]} (not root or no apt); the tests need them" >&2
    exit 1
  else
    echo "warning: cannot install ${need_apt[*]}; run: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

if [ -d tests/clients ]; then
  if [ -f tests/clients/node/package.json ]; then
    log "installing the Node client test packages"
    (cd tests/clients/node && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ -f tests/clients/browser/package.json ]; then
    log "installing the browser test packages (playwright-core only; Chromium comes from apt)"
    (cd tests/clients/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ -f tests/clients/python/requirements.txt ]; then
    log "installing the Python client test packages"
    python3 -m pip install --quiet --disable-pip-version-check -r tests/clients/python/requirements.txt
  fi
fi

# Build once, in the profile the tests run in: `cargo build --all-targets`
# builds in the `dev` profile, and `cargo test` would then compile the whole
# workspace a second time in `test` (twice the time and the disk). This also
# leaves target/debug/evo-voice for the client tests, and checks that the
# benchmarks compile.
if [ "${CI:-}" = true ]; then
  # A CI checkout is built once: incremental state would only double the disk.
  export CARGO_INCREMENTAL=0
fi
log "building"
cargo test --workspace --all-targets --locked --no-run
log "running the Rust tests"
cargo test --workspace --locked --no-fail-fast
# The API integration tests again, on PostgreSQL: the binary starts a
# throwaway cluster (and fails, never skips, when it cannot).
log "running the API integration tests on PostgreSQL"
# `--workspace` (not `-p evo-server`) keeps the features the build step
# resolved, so the binary is reused rather than built again with its
# dependencies.
EVO_TEST_STORE=postgres cargo test --workspace --test api --locked

if [ "${CI:-}" = true ]; then
  # Under CI the browser and Node must be there; the tests would fail anyway,
  # this says why first.
  [ -x /usr/bin/chromium ] || { echo "error: /usr/bin/chromium is required (apt-get install chromium)" >&2; exit 1; }
  command -v node >/dev/null || { echo "error: node is required" >&2; exit 1; }
fi
log "running the real-client tests (@servicestack/client, servicestack PyPI)"
export EVO_VOICE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/evo-voice"
(cd tests/clients/node && npm test)
(cd tests/clients/python && python3 -m pytest -q)
log "running the browser tests (the agent console in Debian's Chromium)"
(cd tests/clients/browser && npm test)
