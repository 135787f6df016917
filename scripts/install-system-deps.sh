#!/usr/bin/env bash
# Install the Debian packages the test suites use, idempotently, without starting any service:
# - Postfix, Dovecot (submission + oauth2) for the interoperability suite (test/interop), via
#   scripts/install-interop-deps.sh;
# - Chromium for the admin page's browser tests (playwright-core drives /usr/bin/chromium);
# - openssl for certificate fixtures.
# A package that cannot be installed makes its suite skip (loudly), so one failure here does
# not stop the others from being installed.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

bash scripts/install-interop-deps.sh || echo "WARNING: the interop servers could not be installed; test/interop will skip"

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  # Nothing may start during installation; remove the guard afterwards only if we made it.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  for i in 1 2 3; do apt-get update -qq && break || sleep 5; done
  apt-get install -y -qq --no-install-recommends "${need[@]}" || { echo "WARNING: could not install ${need[*]}; the browser tests will skip"; exit 1; }
fi
