#!/usr/bin/env bash
# Makes a local apt repository with nginx and everything it needs beyond the Debian 12 test rootfs
# (scripts/make-test-debian-rootfs.sh), once per machine, from this machine's apt sources:
#
#   ${KILN_TEST_CACHE_DIR:-/var/cache/kiln-test}/apt-nginx/{*.deb,Packages,Release}
#
# The seed test (packages/core/test/run/seeds.test.ts) serves it on 127.0.0.1 and builds
# `RUN apt-get update && apt-get install -y nginx` against it, so the test itself never reaches the
# network. apt resolves what to fetch against the rootfs's own dpkg status, so the repository
# holds exactly what that image lacks. Quick and quiet when it is there and was made by RECIPE.
# Needs root (apt-get); scripts/install-test-deps.sh runs it after the rootfs.
set -euo pipefail

RECIPE='kiln-test apt nginx v1'
CACHE_DIR="${KILN_TEST_CACHE_DIR:-/var/cache/kiln-test}"
ROOTFS_TAR="$CACHE_DIR/debian-bookworm-minbase.tar"
REPO="$CACHE_DIR/apt-nginx"
STAMP="$REPO/.recipe"

say() { echo "make-test-apt-repo: $*" >&2; }
flag() { case "${1:-}" in '' | 0 | false | no) return 1 ;; *) return 0 ;; esac; }
[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ] && exit 0

cannot() {
  say "$1; the nginx seed test needs $REPO; make it as root: sudo bash scripts/install-test-deps.sh"
  if flag "${KILN_SKIP_MISSING_TOOLS:-}" && ! flag "${CI:-}"; then exit 0; fi
  exit 1
}
[ "$(id -u)" -eq 0 ] || cannot "not root (apt-get needs root)"
[ -f "$ROOTFS_TAR" ] || cannot "no Debian test rootfs at $ROOTFS_TAR"
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get"

work="$(mktemp -d "$CACHE_DIR/.apt-nginx.XXXXXX")"
chmod 755 "$work" # apt downloads as _apt
trap 'rm -rf "$work"' EXIT
tar -xf "$ROOTFS_TAR" -C "$work" ./var/lib/dpkg/status
mkdir -p "$work/archives/partial"
say "downloading nginx and what it needs beyond the Debian test rootfs (once per machine)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get -qq -o Dir::State::Status="$work/var/lib/dpkg/status" -o Dir::Cache::Archives="$work/archives" \
  -o Debug::NoLocking=1 --download-only --no-install-recommends -y install nginx >/dev/null

# A flat repository: Packages (each .deb's control fields, file name, size and SHA256) and a
# Release that lists it; the image trusts it with [trusted=yes].
(
  cd "$work/archives"
  for deb in *.deb; do
    dpkg-deb -f "$deb"
    echo "Filename: ./$deb"
    echo "Size: $(stat -c %s "$deb")"
    echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
    echo
  done >Packages
  {
    echo "Origin: kiln-test"
    echo "Label: kiln-test"
    echo "Date: Wed, 01 Jan 2020 00:00:00 UTC"
    echo "SHA256:"
    echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"
  } >Release
  rm -rf partial lock
)
rm -rf "$REPO"
mv "$work/archives" "$REPO"
echo "$RECIPE" >"$STAMP"
say "made $REPO ($(ls "$REPO"/*.deb | wc -l) packages)"
