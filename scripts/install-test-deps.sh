#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real components (no mocks), then proves that each
# component works here: a package that is listed as installed but cannot run (a missing module, a broken
# recommends chain) fails this script, not a test half an hour later. Idempotent; the checks always run.
#
#   scripts/install-test-deps.sh            install what is missing, then check every component
#   scripts/install-test-deps.sh --check    only check (installs nothing, needs no root)
#
# Run as root, or as a user with sudo: the script elevates only itself, only when it must install.
set -euo pipefail

# Listed explicitly because the script installs without recommends: samba-tool domain provision needs
# samba-ad-provision, samba-dsdb-modules and samba-vfs-modules, which samba only recommends.
PACKAGES=(
  mariadb-server mariadb-client
  redis-server redis-tools
  openssh-server openssh-client
  isc-dhcp-server
  iputils-ping iproute2
  samba samba-ad-provision samba-dsdb-modules samba-vfs-modules samba-common-bin ldb-tools
  python3 python3-winrm
  openssl procps passwd
)

say() { printf 'test dependencies: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  '') ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown option '$1' (try --help)" ;;
esac

command -v dpkg-query >/dev/null || die "this script needs a Debian-based system (dpkg-query not found)"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] && ! $check_only; then
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing ${missing[*]}: run this script as root (sudo is not installed)"
    say "missing ${missing[*]}: re-running as root with sudo"
    exec sudo -- "$0" "$@"
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: the package archive cannot be reached (see above)"
  unknown=()
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p")
  done
  [ ${#unknown[@]} -eq 0 ] || die "not available from the configured archives: ${unknown[*]}"
  # Services must not start on install: tests start their own on free ports in temp dirs. The policy
  # file is removed again whatever happens.
  policy=/usr/sbin/policy-rc.d
  had_policy=false
  [ -e "$policy" ] && had_policy=true
  $had_policy || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
  trap '$had_policy || rm -f "$policy"' EXIT
  log=$(mktemp)
  status=0
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 || status=$?
  $had_policy || rm -f "$policy"
  trap - EXIT
  if [ $status -ne 0 ]; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "apt-get install failed (exit $status) for ${missing[*]}: see the lines above; run 'dpkg --audit' if a package was left half-configured"
  fi
  rm -f "$log"
elif [ ${#missing[@]} -gt 0 ]; then
  say "not installed: ${missing[*]}"
fi

# --- prove each component works (as tests will use it: temp dirs, loopback, no system service) ---
work=$(mktemp -d /tmp/labops-deps-check.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
failed=()
check() { # check <component> <command...>: runs the command, output kept for the failure message
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    say "ok      $name"
  else
    say "FAILED  $name: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    failed+=("$name")
  fi
}

check_mariadb() {
  local d=$work/mariadb
  mkdir -p "$d/data"
  printf '[mysqld]\ndatadir=%s\nsocket=%s\nskip-networking\npid-file=%s\nuser=%s\nskip-log-bin\n' \
    "$d/data" "$d/sock" "$d/pid" "$(id -un)" >"$d/my.cnf"
  mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 \
    || { tail -n 5 "$d/install.log"; return 1; }
  mariadbd --defaults-file="$d/my.cnf" >"$d/server.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  for _ in $(seq 1 100); do
    mariadb --socket="$d/sock" -u"$(id -un)" -N -B -e 'SELECT 1' 2>/dev/null | grep -qx 1 && { kill "$pid"; wait "$pid" 2>/dev/null || true; return 0; }
    kill -0 "$pid" 2>/dev/null || { tail -n 5 "$d/server.log"; return 1; }
    sleep 0.2
  done
  tail -n 5 "$d/server.log"; return 1
}

check_redis() {
  local d=$work/redis
  mkdir -p "$d"
  redis-server --port 0 --unixsocket "$d/sock" --dir "$d" --save '' --daemonize no --logfile "$d/log" &
  local pid=$!; pids+=("$pid")
  for _ in $(seq 1 50); do
    [ "$(redis-cli -s "$d/sock" ping 2>/dev/null)" = PONG ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$d/log"; return 1; }
    sleep 0.1
  done
  return 1
}

check_sshd() {
  local d=$work/sshd
  mkdir -p "$d"
  ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519" || return 1
  printf 'HostKey %s\nListenAddress 127.0.0.1\nPort 22022\nPidFile %s\n' "$d/host_ed25519" "$d/pid" >"$d/sshd_config"
  # the privilege-separation directory, absent where the service never ran; test/support/sshd.ts makes it too
  [ "$(id -u)" -ne 0 ] || mkdir -p -m 755 /run/sshd
  /usr/sbin/sshd -t -f "$d/sshd_config"
}

check_dhcpd() {
  local d=$work/dhcpd
  mkdir -p "$d"
  printf 'subnet 127.99.0.0 netmask 255.255.255.0 {\n  host t { hardware ethernet 00:11:22:33:44:55; fixed-address 127.99.0.9; next-server 127.99.0.1; }\n}\n' >"$d/dhcpd.conf"
  /usr/sbin/dhcpd -t -q -cf "$d/dhcpd.conf"
}

check_samba() {
  local d=$work/samba
  mkdir -p "$d"
  samba-tool domain provision --targetdir "$d" --realm=DEPS.TEST --domain=DEPS --adminpass='Deps-Check-Pw-1!' \
    --use-rfc2307 --server-role=dc --dns-backend=NONE >"$d.log" 2>&1 || { tail -n 5 "$d.log"; return 1; }
  ldbsearch -H "$d/private/sam.ldb" '(sAMAccountName=Administrator)' dn | grep -q '^dn: CN=Administrator' \
    || { echo "ldbsearch found no Administrator in the provisioned sam.ldb"; return 1; }
  command -v ldbmodify >/dev/null
}

check mariadb         check_mariadb
check redis           check_redis
check sshd            check_sshd
check dhcpd           check_dhcpd
check ping            ping -n -c 1 -W 2 127.0.0.1
check ip              ip -o addr show lo
check samba           check_samba
check python3-winrm   /usr/bin/python3 -c 'import winrm, winrm.protocol'
check openssl         openssl version
check useradd         command -v useradd chpasswd

if [ ${#failed[@]} -gt 0 ]; then
  die "these components do not work: ${failed[*]}"
fi
say "every component works"
