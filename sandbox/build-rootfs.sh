#!/bin/sh
# Build the sandbox base root filesystem offline-from-registries: debootstrap a minimal Debian
# from the apt mirror, drop caches, and write it as a tarball `docker import` can read.
# Usage: build-rootfs.sh OUT.tar SUITE MIRROR PKG[,PKG...]
# Needs root (debootstrap chroots). The caller caches OUT.tar by a hash of its arguments.
set -eu
out=$1 suite=$2 mirror=$3 include=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/omniscope-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
echo "debootstrap --variant=minbase $suite ($include)"
debootstrap --variant=minbase --include="$include" "$suite" "$work/root" "$mirror" \
  | grep --line-buffered -E '^I: (Retrieving Release|Resolving|Installing core|Configuring required|Configuring the base|Base system)' || true
test -x "$work/root/usr/bin/python3" || { echo "debootstrap failed: no python3 in rootfs" >&2; exit 1; }
# debootstrap leaves packages with unmet (e.g. virtual) dependencies unconfigured and exits 0.
audit=$(chroot "$work/root" dpkg --audit)
if [ -n "$audit" ]; then echo "$audit" >&2; echo "debootstrap left broken packages" >&2; exit 1; fi
# Nothing in the image needs apt state or docs; smaller image, faster import.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* \
       "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/info"
echo "writing $out"
tar --numeric-owner -C "$work/root" -cf "$out.part" .
mv "$out.part" "$out"
