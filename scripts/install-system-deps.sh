#!/usr/bin/env bash
# Install the Debian packages the test suites use, idempotently, without starting any service:
# - Postfix, Dovecot (submission + oauth2) for the interoperability suite (test/interop);
# - Chromium for the admin page's browser tests (playwright-core drives /usr/bin/chromium);
# - openssl for certificate fixtures.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
if [ -x scripts/install-interop-deps.sh ] || [ -f scripts/install-interop-deps.sh ]; then
  bash scripts/install-interop-deps.sh
fi
if [ ${#need[@]} -gt 0 ]; then
  # Nothing may start during installation.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  for i in 1 2 3; do apt-get update -qq && break || sleep 5; done
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
