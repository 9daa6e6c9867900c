#!/usr/bin/env bash
# Makes the Debian 12 root filesystem the RUN tests start from (kiln-test/debian:bookworm, see
# packages/core/test/helpers/base-images.ts), once per machine: `debootstrap --variant=minbase
# bookworm` from the machine's own apt mirror, tidied (below) and packed as a deterministic tar:
#
#   ${KILN_TEST_CACHE_DIR:-/var/cache/kiln-test}/debian-bookworm-minbase.tar
#   ${KILN_TEST_CACHE_DIR:-/var/cache/kiln-test}/debian-bookworm-minbase.tar.recipe   (RECIPE below)
#
# scripts/install-test-deps.sh runs it (so `npm test` and .ci/run do): the tests themselves never
# reach the network. Quick and quiet when the tar is there and was made by this RECIPE; otherwise
# it makes it (about 2 minutes: debootstrap downloads ~30 MB of packages and installs them).
#
# The mirror: KILN_TEST_DEBIAN_MIRROR, else the first URI that apt uses for the suite "bookworm"
# (/etc/apt/sources.list.d/*.sources, then /etc/apt/sources.list), else http://deb.debian.org/debian.
#
# Needs root (debootstrap chroots and makes device nodes). Not root, or no debootstrap: says what
# to run and exits 1, unless KILN_SKIP_MISSING_TOOLS=1 (and CI is not set): then the tests that
# need the rootfs are skipped and listed at the end of the run.
set -euo pipefail

# Bump when anything below changes what ends up in the tar: the cached tar is then made again.
RECIPE='kiln-test debian bookworm minbase v1'
SUITE=bookworm
# Reproducible timestamps inside the rootfs (shadow's "last password change" day, for one), the
# same instant as the corpus' CONTEXT_MTIME: 2020-01-01T00:00:00Z.
EPOCH=1577836800

CACHE_DIR="${KILN_TEST_CACHE_DIR:-/var/cache/kiln-test}"
TAR="$CACHE_DIR/debian-bookworm-minbase.tar"
STAMP="$TAR.recipe"

say() { echo "make-test-debian-rootfs: $*" >&2; }
flag() { case "${1:-}" in '' | 0 | false | no) return 1 ;; *) return 0 ;; esac; }
current() { [ -f "$TAR" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; }

current && exit 0

cannot() {
  say "$1"
  say "the Debian 12 test rootfs ($TAR) is missing or stale; make it as root:"
  say "  sudo bash scripts/install-test-deps.sh   (installs debootstrap, then runs this script)"
  if flag "${KILN_SKIP_MISSING_TOOLS:-}" && ! flag "${CI:-}"; then
    say "KILN_SKIP_MISSING_TOOLS is set: going on; the tests that need it are skipped and listed at the end"
    exit 0
  fi
  exit 1
}

[ "$(id -u)" -eq 0 ] || cannot "not root (debootstrap needs root)"
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || cannot "no debootstrap (Debian package debootstrap)"
PATH="$PATH:/usr/sbin:/sbin"

# The apt mirror that serves bookworm on this machine.
mirror_from_apt() {
  local f
  shopt -s nullglob
  # deb822 stanzas: a URIs: line and a Suites: line naming bookworm, in the same paragraph.
  for f in /etc/apt/sources.list.d/*.sources; do
    awk -v suite="$SUITE" '
      function flush() { if (uri != "" && has && deb) { print uri; found = 1; exit } uri = ""; has = 0; deb = 0 }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "types:" { deb = 0; for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
      END { if (!found) flush() }
    ' "$f"
  done
  # One-line form: deb [options] URI SUITE COMPONENTS...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
  done
}
MIRROR="${KILN_TEST_DEBIAN_MIRROR:-$({ mirror_from_apt || true; } | head -n 1)}"
if [ -z "$MIRROR" ]; then
  MIRROR=http://deb.debian.org/debian
  say "no apt source for $SUITE on this machine; using $MIRROR (set KILN_TEST_DEBIAN_MIRROR to choose)"
fi

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.debian-bookworm-minbase.lock"
flock -w 1200 9 || cannot "another run holds $CACHE_DIR/.debian-bookworm-minbase.lock"
current && exit 0 # made by the run we waited for

work="$(mktemp -d "$CACHE_DIR/.debian-bookworm-minbase.XXXXXX")"
cleanup() {
  # debootstrap mounts /proc and /sys inside the target while it configures packages: never let a
  # failed or interrupted run leave them mounted, nor delete through them.
  local m
  for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rootfs="$work/rootfs"
keyring=()
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
say "debootstrap --variant=minbase $SUITE from $MIRROR (once per machine; about 2 minutes)"
start=$SECONDS
if ! env SOURCE_DATE_EPOCH=$EPOCH LC_ALL=C.UTF-8 TZ=UTC DEBIAN_FRONTEND=noninteractive \
  debootstrap --variant=minbase "${keyring[@]}" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  say "debootstrap failed; the end of its log:"
  tail -n 25 "$work/debootstrap.log" >&2
  [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 25 "$rootfs/debootstrap/debootstrap.log" >&2
  exit 1
fi

# Tidy as Debian's official images are tidied, so the tar depends on the packages only: no
# downloaded .debs or package lists, no logs or caches stamped with the time of the run, no files
# copied from this host (hostname, resolv.conf), an empty /dev (runtimes provide one).
(
  cd "$rootfs"
  rm -rf debootstrap
  rm -f var/cache/apt/archives/*.deb var/cache/apt/*.bin
  find var/lib/apt/lists -maxdepth 1 -type f -delete # keeps partial/ (_apt's, 0700)
  rm -f var/log/bootstrap.log var/log/dpkg.log var/log/alternatives.log var/log/apt/*
  find var/log -type f -exec truncate -s 0 {} +
  rm -f var/cache/ldconfig/aux-cache var/lib/dpkg/*-old var/cache/debconf/*-old etc/*-
  rm -f etc/hostname etc/resolv.conf etc/machine-id
  rm -rf dev/* proc/* sys/* tmp/* tmp/.[!.]*
  echo "deb http://deb.debian.org/debian $SUITE main" >etc/apt/sources.list
)
# shadow's "last change" day: SOURCE_DATE_EPOCH is honoured by shadow's own tools; pin it anyway.
day=$((EPOCH / 86400))
sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\1$day:/" "$rootfs/etc/shadow"

tar -C "$rootfs" --format=posix --numeric-owner --sort=name --mtime=@0 \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$TAR"
echo "$RECIPE" >"$work/recipe"
mv "$work/recipe" "$STAMP"
say "made $TAR ($(du -m "$TAR" | cut -f1) MB) in $((SECONDS - start)) s"
