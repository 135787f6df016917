#!/usr/bin/env bash
# Install the Debian packages the test suites use, idempotently, without starting any service:
# - Postfix, Dovecot (submission + oauth2) for the interoperability suite (test/interop), via
#   scripts/install-interop-deps.sh;
# - Chromium for the admin page's browser tests (playwright-core drives /usr/bin/chromium);
# - openssl for certificate fixtures;
# - the SMTP clients the relay's interop tests drive (test/relay/clients.test.ts): swaks (with
#   Net::SSLeay/IO::Socket::SSL for its STARTTLS), msmtp, curl; Postfix (as a client) and
#   Cyrus SASL's PLAIN/LOGIN plugins come with the interop servers above / libsasl2-modules;
# - PostgreSQL's server binaries for the PostgreSQL store's tests (scripts/run-tests.mjs starts a
#   throwaway cluster from /usr/lib/postgresql/*/bin as the `postgres` user; the Debian service
#   itself is never started: policy-rc.d below).
# A package that cannot be installed makes its suite skip (loudly), so one failure here does
# not stop the others from being installed.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

bash scripts/install-interop-deps.sh || echo "WARNING: the interop servers could not be installed; test/interop will skip"

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
# swaks without Net::SSLeay cannot STARTTLS ("*** TLS not available").
perl -MNet::SSLeay -MIO::Socket::SSL -e 1 >/dev/null 2>&1 || need+=(libnet-ssleay-perl libio-socket-ssl-perl)
command -v msmtp >/dev/null 2>&1 || need+=(msmtp)
command -v curl >/dev/null 2>&1 || need+=(curl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/lib/x86_64-linux-gnu/sasl2/libplain.so ] || [ -e /usr/lib/aarch64-linux-gnu/sasl2/libplain.so ] || need+=(libsasl2-modules)
if [ ${#need[@]} -gt 0 ]; then
  # Nothing may start during installation; remove the guard afterwards only if we made it.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  for i in 1 2 3; do apt-get update -qq && break || sleep 5; done
  apt-get install -y -qq --no-install-recommends "${need[@]}" || { echo "WARNING: could not install ${need[*]}; the browser tests / relay client tests will skip"; exit 1; }
fi
