#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real components (no mocks), then proves that each
# component works here: a package that is listed as installed but cannot run (a missing module, a broken
# recommends chain) fails this script, not a test half an hour later. Idempotent; the checks always run.
#
#   scripts/install-test-deps.sh            install what is missing, then check every component
#   scripts/install-test-deps.sh --check    only check (installs nothing, needs no root)
#
# Run it as root, or as a user with sudo: only the installing part runs as root (through sudo, when packages
# or the Samba template are missing); the checks run as you, because the tests will.
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
  debootstrap lintian dpkg-dev binutils util-linux
  zsh fish tmux
  chromium
)
# A Samba AD domain provisioned once per Samba version, which tests copy instead of provisioning their own
# (provisioning needs root to chown sysvol, and takes 6-12 s). The realm, domain and password are the tests'
# (test/support/samba.ts); the domain is a throwaway test fixture, readable by every user.
SAMBA_TEMPLATE=${LABOPS_SAMBA_TEMPLATE:-/var/cache/labops-tests/samba-LAB.TEST}
SAMBA_PROVISION=(--realm=LAB.TEST --domain=LAB --adminpass='Lab-Test-Pw-1!' --use-rfc2307 --server-role=dc --dns-backend=NONE)

say() { printf 'test dependencies: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

mode=all
case "${1:-}" in
  --check) mode=check ;;
  --install-only) mode=install ;;
  '') ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown option '$1' (try --help)" ;;
esac

command -v dpkg-query >/dev/null || die "this script needs a Debian-based system (dpkg-query not found)"

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

samba_version() { /usr/sbin/samba --version 2>/dev/null || samba-tool --version 2>/dev/null || echo none; }

template_current() { [ "$(cat "$SAMBA_TEMPLATE/version" 2>/dev/null)" = "$(samba_version)" ] && [ -r "$SAMBA_TEMPLATE/private/sam.ldb" ]; }

install_packages() { # as root
  local missing=("$@")
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: the package archive cannot be reached (see above)"
  local unknown=() p
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p")
  done
  [ ${#unknown[@]} -eq 0 ] || die "not available from the configured archives: ${unknown[*]}"
  # Services must not start on install: tests start their own on free ports in temp dirs.
  local policy=/usr/sbin/policy-rc.d had_policy=false log status=0
  [ -e "$policy" ] && had_policy=true
  $had_policy || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
  log=$(mktemp)
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 || status=$?
  $had_policy || rm -f "$policy"
  if [ $status -ne 0 ]; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "apt-get install failed (exit $status) for ${missing[*]}: see the lines above; run 'dpkg --audit' if a package was left half-configured"
  fi
  rm -f "$log"
}

make_samba_template() { # as root
  local next="$SAMBA_TEMPLATE.new.$$" log
  rm -rf "$next"
  mkdir -p "$next"
  log=$(mktemp)
  if ! samba-tool domain provision --targetdir "$next" "${SAMBA_PROVISION[@]}" >"$log" 2>&1; then
    tail -n 5 "$log" >&2
    rm -rf "$next" "$log"
    die "samba-tool domain provision failed (last lines above)"
  fi
  rm -f "$log"
  samba_version >"$next/version"
  chmod -R a+rX "$next"
  rm -rf "$SAMBA_TEMPLATE"
  mv "$next" "$SAMBA_TEMPLATE"
  say "provisioned the Samba test domain template in $SAMBA_TEMPLATE"
}

mapfile -t missing < <(missing_packages)
if [ "$mode" = check ]; then
  [ ${#missing[@]} -eq 0 ] || say "not installed: ${missing[*]}"
elif [ ${#missing[@]} -gt 0 ] || ! template_current; then
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "${missing[*]:-the Samba template} needs root: run this script as root (sudo is not installed)"
    say "${missing[*]:+missing ${missing[*]}; }running the installing part as root with sudo"
    sudo -- "$0" --install-only || die "the installing part failed (above)"
  else
    [ ${#missing[@]} -eq 0 ] || install_packages "${missing[@]}"
    template_current || make_samba_template
  fi
fi
[ "$mode" = install ] && exit 0

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
  printf '[mysqld]\ndatadir=%s\nsocket=%s\nskip-networking\npid-file=%s\nskip-log-bin\n' "$d/data" "$d/sock" "$d/pid" >"$d/my.cnf"
  [ "$(id -u)" -ne 0 ] || echo 'user=root' >>"$d/my.cnf"
  mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 \
    || { tail -n 5 "$d/install.log"; return 1; }
  /usr/sbin/mariadbd --defaults-file="$d/my.cnf" >"$d/server.log" 2>&1 &
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

check_samba() { # as the tests do: a copy of the template, read and written with the ldb tools
  template_current || { echo "no current Samba template in $SAMBA_TEMPLATE (run this script without --check)"; return 1; }
  local d=$work/samba
  cp -r "$SAMBA_TEMPLATE" "$d"
  ldbsearch -H "$d/private/sam.ldb" '(sAMAccountName=Administrator)' dn | grep -q '^dn: CN=Administrator' \
    || { echo "ldbsearch found no Administrator in a copy of the template"; return 1; }
  printf 'dn: CN=Administrator,CN=Users,DC=LAB,DC=TEST\nchangetype: modify\nreplace: description\ndescription: deps check\n' \
    | ldbmodify -H "$d/private/sam.ldb" >/dev/null || { echo "ldbmodify failed on a copy of the template"; return 1; }
}

# The package test (test/package): dpkg-shlibdeps and lintian on a tiny package of their own; debootstrap knows
# this machine's suite and, unless the test's root is cached already, resolves it from apt's mirror (15 s); chroot
# in namespaces of the test's own.
check_dpkg_dev() {
  local d=$work/shlibdeps
  mkdir -p "$d/debian" "$d/usr/bin"
  cp /bin/true "$d/usr/bin/t"
  printf 'Source: t\n\nPackage: t\nArchitecture: any\n' >"$d/debian/control"
  (cd "$d" && dpkg-shlibdeps -O --warnings=0 -eusr/bin/t) | grep -q '^shlibs:Depends=libc6' && strip --version >/dev/null
}

check_lintian() {
  local d=$work/lintian
  mkdir -p "$d/pkg/DEBIAN" "$d/pkg/usr/share/t"
  printf 'x\n' >"$d/pkg/usr/share/t/x"
  printf 'Package: t\nVersion: 1\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: t\n t\n' >"$d/pkg/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$d/pkg" "$d/t.deb" >/dev/null || return 1
  # a package without a copyright file: lintian must find that (an error) and say so
  lintian --fail-on none "$d/t.deb" 2>&1 | grep -q 'no-copyright-file' || { echo "lintian did not report the missing copyright file"; return 1; }
}

check_debootstrap() {
  local suite
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$suite" ] && [ -e "/usr/share/debootstrap/scripts/$suite" ] || { echo "debootstrap does not know this machine's suite '${suite}'"; return 1; }
  [ "$(id -u)" -eq 0 ] || return 0
  unshare --mount --net --pid --fork --propagation private true || { echo "cannot create mount, network and PID namespaces"; return 1; }
  if ls -d /var/cache/labops-tests/debian-"$suite"-minbase-*/etc/os-release >/dev/null 2>&1; then return 0; fi
  local mirror
  mirror=$(apt-get indextargets --format '$(REPO_URI)' "Release: $suite" 2>/dev/null | grep -v security | head -n 1)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian/
  debootstrap --print-debs --variant=minbase --include=systemd,procps,logrotate,man-db "$suite" "$work/debootstrap" "$mirror" | grep -qw systemd
}

check_shells() { # the completion tests drive each shell for real: bash and fish directly, zsh in a tmux pty
  zsh -f -c "autoload -U compinit && compinit -u -d '$work/zcompdump' && (( \$+functions[compdef] ))" || { echo "zsh compinit failed"; return 1; }
  [ "$(fish --no-config -c 'complete -c probe -f -a yes; complete -C "probe "')" = yes ] || { echo "fish complete -C failed"; return 1; }
  local s="labops-deps-$$"
  TERM=xterm tmux -L "$s" new-session -d -s "$s" -x 80 -y 24 'sleep 5' && tmux -L "$s" kill-server || { echo "tmux cannot start a session"; return 1; }
}

# The status page's browser test (test/e2e/status-page.test.ts) drives Debian's chromium through playwright-core.
check_chromium() {
  chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/chromium" --dump-dom 'data:text/html,<p id=x>chromium-ok</p>' 2>/dev/null | grep -q 'chromium-ok' \
    || { echo "headless chromium did not render a page"; return 1; }
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
check dpkg-dev        check_dpkg_dev
check lintian         check_lintian
check debootstrap     check_debootstrap
check shells          check_shells
check chromium        check_chromium
if [ "$(id -u)" -eq 0 ]; then
  check useradd       command -v useradd chpasswd
else
  say "note    the sshd tests need root (a test user with a password); as $(id -un) they are skipped"
fi

if [ ${#failed[@]} -gt 0 ]; then
  die "these components do not work: ${failed[*]}"
fi
say "every component works"
