#!/bin/sh
# Make sure a Docker engine answers `docker info`, installing and starting one if needed.
# Idempotent: does nothing when the engine already runs. Meant for root on Debian 12 (the
# setup scripts and CI call it); on other systems start Docker yourself.
# Also installs debootstrap, which `omniplug sandbox build` needs for the offline base image,
# iptables (the sandbox network's host firewall, omniscope_jupyter/sandbox/firewall.py), and,
# where this Debian has the package, gVisor's runsc, registered with the engine as the runtime
# "runsc" (c.OmniscopeApp.sandbox_runtime = "runsc"; OMNISCOPE_GVISOR=0 skips it).
set -eu
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT=${DOCKERD_WAIT_SECONDS:-60}
DAEMON_JSON=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
GVISOR=${OMNISCOPE_GVISOR:-1}

need_pkgs=""
command -v dockerd >/dev/null 2>&1 || need_pkgs="$need_pkgs docker.io"
command -v debootstrap >/dev/null 2>&1 || need_pkgs="$need_pkgs debootstrap"
command -v iptables-save >/dev/null 2>&1 || need_pkgs="$need_pkgs iptables"
if [ "$GVISOR" = 1 ] && ! command -v runsc >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  # Only when this Debian ships it (bookworm: runsc 0.0~20221219); nothing else is fetched.
  if ! apt-cache show runsc >/dev/null 2>&1; then apt-get update -qq; fi
  if apt-cache show runsc >/dev/null 2>&1; then need_pkgs="$need_pkgs runsc"
  else echo "ensure-docker: this Debian has no runsc package; gVisor stays unavailable"; fi
fi
if [ -n "$need_pkgs" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "ensure-docker: need root to install:$need_pkgs" >&2; exit 1; fi
  echo "ensure-docker: installing$need_pkgs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null
fi

# Register runsc in daemon.json (merged into what is there; rewritten only when it changes).
# --network=host: Debian 12's runsc (2022-12) refuses its own network stack on current kernels
# ("cannot run with network enabled in root network namespace"), so it uses the host kernel's
# stack inside the container's own network namespace, which Docker sets up as for runc.
# --host-uds=open: the container's runner connects to its host-side control socket (/job/ctl,
# pool.py); it can open only sockets that are mounted into it, and no other is.
registered=0
if [ "$GVISOR" = 1 ] && command -v runsc >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  py=$(command -v python3 || command -v python3.11 || true)
  if [ -z "$py" ]; then
    echo "ensure-docker: no python3 to edit $DAEMON_JSON; runsc not registered" >&2
  else
    mkdir -p "$(dirname "$DAEMON_JSON")"
    registered=$("$py" - "$DAEMON_JSON" "$(command -v runsc)" <<'PY'
import json, os, sys
path, runsc = sys.argv[1], sys.argv[2]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
wanted = {"path": runsc, "runtimeArgs": ["--network=host", "--host-uds=open"]}
if config.get("runtimes", {}).get("runsc") == wanted:
    print(0)
else:
    config.setdefault("runtimes", {})["runsc"] = wanted
    with open(path + ".tmp", "w") as out:
        json.dump(config, out, indent=2)
        out.write("\n")
    os.replace(path + ".tmp", path)
    print(1)
PY
)
  fi
fi

if docker info >/dev/null 2>&1; then
  if [ "$registered" = 1 ]; then
    # SIGHUP reloads the runtimes without restarting the engine or its containers.
    echo "ensure-docker: runsc registered in $DAEMON_JSON; reloading dockerd"
    kill -HUP "$(cat /var/run/docker.pid)"
    i=0
    until docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; do
      i=$((i + 1)); [ "$i" -ge 20 ] && { echo "ensure-docker: dockerd did not load runsc" >&2; exit 1; }
      sleep 0.5
    done
  fi
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
