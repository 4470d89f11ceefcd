#!/usr/bin/env bash
# Installs the Debian packages Ferry needs to build, run and test — only the
# missing ones. Sourced or run by scripts/run and scripts/test.
set -euo pipefail

FERRY_BUILD_PKGS=(
  gcc clang meson ninja-build pkg-config
  libinih-dev libsqlite3-dev libcrypt-dev libcmocka-dev libssl-dev liboath-dev libseccomp-dev
  sqlite3 openssl libkrb5-dev libsystemd-dev libmicrohttpd-dev libcurl4-openssl-dev libpq-dev
  libssh-dev
  zlib1g-dev
)
# bench/run only (the reference servers): vsftpd is installed; proftpd-core,
# proftpd-mod-crypto and pure-ftpd conflict with it as packages, so bench/run
# unpacks them with apt-get download + dpkg -x (FERRY_BENCH_UNPACK); the four
# libraries are what proftpd-core links to; binutils for nm (does a ferryd
# without [transfer] fsync call fsync at all?); postgresql for the PostgreSQL
# store rows (a private server, initdb + pg_ctl; `--no-postgres` skips them);
# openssh-server + openssh-client for the SFTP rows (a private sshd with its
# own sshd_config; bench/run installs it without starting or enabling the
# system's sshd: policy-rc.d, /etc/ssh/sshd_not_to_be_run, systemctl disable).
FERRY_BENCH_PKGS=(
  vsftpd openssl libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3
  binutils postgresql
  openssh-server openssh-client
)
FERRY_BENCH_UNPACK=(proftpd-core proftpd-mod-crypto pure-ftpd)
# Commands the tests run beyond a minimal Debian (debootstrap --variant=minbase
# has the required/essential packages: coreutils, util-linux (setpriv,
# prlimit, runuser), mount, passwd, login...): procps for /bin/kill (the
# units' ExecReload, checked by systemd-analyze verify), strace for
# test_admin_race; haproxy for the tests behind a balancer (test_proxy_haproxy, test_cluster,
# started by the test itself: the package's service is not used); postgresql
# (initdb, pg_ctl, psql) for the tests that run against [store] postgres (a
# private server in a temporary directory); openssh-client (sftp, ssh-keygen),
# sshpass (sftp's password in batch mode) and python3-paramiko for the SFTP
# tests; netbase for /etc/hosts and /etc/services, which a minbase root
# lacks (its postinst writes /etc/hosts with localhost: lftp resolves
# ftp://localhost through it, e.g. test_vhost's HOST test; lftp depends on
# netbase too, this only says so); python3-pytest-xdist runs the integration suite in parallel
# (scripts/test: -n FERRY_TEST_JOBS).
FERRY_TEST_PKGS=(
  python3 python3-pytest curl lftp wget tnftp oathtool fail2ban man-db clang-format
  libclang-rt-14-dev systemd krb5-kdc krb5-admin-server krb5-user python3-gssapi
  rclone ncftp python3-aioftp procps strace haproxy postgresql
  openssh-client sshpass python3-paramiko netbase
  python3-pytest-xdist
)

ferry_missing() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

ferry_install() {
  local missing
  missing=$(ferry_missing "$@")
  [ -z "$missing" ] && return 0
  echo "ferry: installing missing Debian packages: $missing"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "ferry: need root (or sudo) to install: $missing" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-all}" in
    build) ferry_install "${FERRY_BUILD_PKGS[@]}" ;;
    all|test) ferry_install "${FERRY_BUILD_PKGS[@]}" "${FERRY_TEST_PKGS[@]}" ;;
  esac
fi
