#!/usr/bin/env bash
# Install the independent SMTP servers the interop suite (test/interop, `npm run test:interop`)
# runs Mailgate against: Postfix 3.7 and Dovecot 2.3 (core + submission), from Debian.
#
# - Idempotent: does nothing when every binary is already there.
# - Postfix is preseeded with debconf "No configuration", so it writes no /etc/postfix/main.cf.
# - Never starts the system services: while installing, /usr/sbin/policy-rc.d answers 101
#   ("action forbidden"); one we put there ourselves is removed afterwards. The suite starts its
#   own instances from configs in a temp dir, on loopback ports.
# - Exits non-zero when the packages cannot be installed; the suite then skips loudly.
# See docs/dependencies.md §4.
set -euo pipefail

need_install=0
for bin in /usr/sbin/postfix /usr/sbin/dovecot /usr/lib/dovecot/submission /usr/lib/dovecot/submission-login /usr/bin/openssl /usr/bin/script; do
  if [ ! -x "$bin" ]; then
    echo "install-interop-deps: missing $bin"
    need_install=1
  fi
done
if [ "$need_install" = 0 ]; then
  echo "install-interop-deps: postfix, dovecot-core, dovecot-submissiond and openssl already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-interop-deps: must run as root to apt-get install (the interop suite will skip)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-interop-deps: no apt-get on this machine (the interop suite will skip)" >&2
  exit 1
fi

# Keep package scripts from starting postfix/dovecot as system services.
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  postfix dovecot-core dovecot-submissiond openssl bsdutils

# If a service manager did start them anyway (a machine without policy-rc.d support), stop
# the system instances: the suite runs its own.
for svc in postfix dovecot; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

/usr/sbin/postconf -d mail_version 2>/dev/null || true
/usr/sbin/dovecot --version 2>/dev/null || true
echo "install-interop-deps: done"
