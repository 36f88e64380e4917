#!/bin/sh
# Make sure a Docker engine answers `docker info`, installing and starting one if needed.
# Idempotent: does nothing when the engine already runs. Meant for root on Debian 12 (the
# setup scripts and CI call it); on other systems start Docker yourself.
# Also installs debootstrap, which `omniplug sandbox build` needs for the offline base image.
set -eu
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT=${DOCKERD_WAIT_SECONDS:-60}

need_pkgs=""
command -v dockerd >/dev/null 2>&1 || need_pkgs="$need_pkgs docker.io"
command -v debootstrap >/dev/null 2>&1 || need_pkgs="$need_pkgs debootstrap"
if [ -n "$need_pkgs" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "ensure-docker: need root to install:$need_pkgs" >&2; exit 1; fi
  echo "ensure-docker: installing$need_pkgs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "ensure-docker: engine is running"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "ensure-docker: Docker is not running and I am not root" >&2; exit 1; fi

echo "ensure-docker: starting dockerd (log: $LOG)"
# setsid: dockerd outlives this script and the shell that called it.
setsid dockerd >>"$LOG" 2>&1 < /dev/null &
i=0
until docker info >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge "$WAIT" ]; then
    echo "ensure-docker: dockerd did not become ready within ${WAIT}s; last log lines:" >&2
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  sleep 1
done
echo "ensure-docker: engine is ready"
