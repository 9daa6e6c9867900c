#!/usr/bin/env bash
# Installs the Debian packages Kiln's tests need. `npm test` runs it first (the "pretest" script)
# and .ci/run runs it before `npm install`, so this list is the only one.
#
# Quiet and quick when everything is installed (one dpkg-query, no apt). Otherwise, as root:
# apt-get update + apt-get install -y --no-install-recommends of what is missing. Not root: prints
# the command to run and exits 1 — unless KILN_SKIP_MISSING_TOOLS=1 (and CI is not set), which
# lets the tests run and skip, and list at the end, what needs the missing packages.
set -euo pipefail

# skopeo and umoci read what Kiln writes; libcap2-bin (getcap) lets RUN keep the file capabilities
# a step sets, and setcap makes them in the tests; docker.io runs the differential tests (docker build vs
# kiln build, in a dockerd the tests start themselves) and runc runs containers (dockerd's, and
# Kiln's RUN next); busybox-static makes their base image; bzip2, xz-utils, zstd and python3
# make test archives (zstd is also what @actions/cache compresses with on GitHub runners);
# docker-registry (the CNCF distribution registry), apache2-utils (htpasswd) and openssl serve
# the registry tests on 127.0.0.1; git makes the commits the Nx and Action end-to-end tests read;
# sudo lets a test user run RUN through `sudo -n`, as on GitHub's hosted runners; uidmap
# (newuidmap/newgidmap) maps a user's subordinate ids for rootless RUN;
# debootstrap (with debian-archive-keyring, already there on Debian) makes the Debian 12 rootfs the
# RUN tests start from: scripts/make-test-debian-rootfs.sh, run at the end, once per machine.
PACKAGES=(
  skopeo umoci libcap2-bin
  docker.io runc busybox-static
  bzip2 xz-utils zstd python3
  docker-registry apache2-utils openssl ca-certificates
  git sudo uidmap
  debootstrap debian-archive-keyring
)

flag() { case "${1:-}" in '' | 0 | false | no) return 1 ;; *) return 0 ;; esac; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  declare -A installed=()
  while read -r name status; do
    [ "$status" = "ii" ] && installed[$name]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for p in "${PACKAGES[@]}"; do
    [ -n "${installed[$p]:-}" ] || missing+=("$p")
  done
else
  echo "install-test-deps: no dpkg-query; this script knows Debian's packages only: ${PACKAGES[*]}" >&2
  missing=("${PACKAGES[@]}")
fi

# Last, with the packages in place: the cached Debian rootfs, then the local apt repository the
# nginx seed test installs from (both quick when they are there).
rootfs() {
  bash "$(dirname "$0")/make-test-debian-rootfs.sh"
  exec bash "$(dirname "$0")/make-test-apt-repo.sh"
}

[ "${#missing[@]}" -eq 0 ] && rootfs

command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rootfs
fi

echo "install-test-deps: the tests need Debian packages that are not installed: ${missing[*]}" >&2
echo "install-test-deps: install them as root:" >&2
echo "  sudo sh -c '$command'" >&2
if flag "${KILN_SKIP_MISSING_TOOLS:-}" && ! flag "${CI:-}"; then
  echo "install-test-deps: KILN_SKIP_MISSING_TOOLS is set: going on; the tests that need them are skipped and listed at the end" >&2
  exit 0
fi
echo "install-test-deps: (or set KILN_SKIP_MISSING_TOOLS=1 to run the tests without them; not honoured with CI=true)" >&2
exit 1
