#!/usr/bin/env bash
# Installs the Debian packages the whole test suite needs (real services, no mocks). Idempotent:
# does nothing when every package is already installed.
set -euo pipefail
PACKAGES=(mariadb-server mariadb-client redis-server openssh-server openssh-client isc-dhcp-server iputils-ping iproute2
  samba ldb-tools python3-winrm openssl procps)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all installed" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "test dependencies: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
# Services must not start on install: tests start their own on free ports in temp dirs.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
$SUDO rm -f /usr/sbin/policy-rc.d
