#!/usr/bin/env bash
# Installs the Debian packages turnout's tests and benchmarks use, when it can
# (root + apt-get). Otherwise it lists what is missing; the tests that need a
# missing program are skipped locally and fail in CI (TURNOUT_REQUIRE_SYSTEM=1).
set -uo pipefail

# program -> Debian package
declare -A wanted=(
  [nginx]=nginx
  [haproxy]=haproxy
  [wrk]=wrk
  [postgres]=postgresql
  [prometheus]=prometheus
)

missing=()
for prog in "${!wanted[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] ||
    compgen -G "/usr/lib/postgresql/*/bin/$prog" >/dev/null || missing+=("${wanted[$prog]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  # Packaged services must not start system-wide: tests start their own on free ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "warning: apt-get could not install: ${missing[*]}" >&2
  }
  rm -f /usr/sbin/policy-rc.d
else
  echo "note: not installing ${missing[*]} (needs root and apt-get); tests that need them will be skipped" >&2
fi
exit 0
