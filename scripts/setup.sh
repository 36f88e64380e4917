#!/usr/bin/env bash
# Set up everything the product and its tests need, on Debian 12 as root (idempotent):
# a Python 3.11+ virtualenv in .venv with the package and its test extras, the Docker engine
# (installed and started when none runs), and the sandbox images (built offline on first need).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  step "installing Python 3.11 (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv
  PYTHON=python3.11
fi

# R on the host serves the example plugins' local tests and authors' `omniplug scan` of R code;
# plugins themselves always run in the sandbox image's R.
if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(jsonlite)' >/dev/null 2>&1; then
  step "installing R (apt: r-base-core r-cran-jsonlite)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core r-cran-jsonlite >/dev/null
fi

# Headless Chromium drives the JupyterLab panel's browser test (Playwright uses this binary;
# it never downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
  step "installing Chromium (apt), for the JupyterLab panel's browser test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# PostgreSQL server binaries for tests/postgres: each test session starts its own throwaway
# cluster on a unix socket (the system service is not used and may stay down).
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  step "installing PostgreSQL (apt), for the db_url tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# iproute2 (`ip`): the security tests put test hosts of their own in network namespaces.
if ! command -v ip >/dev/null 2>&1; then
  step "installing iproute2 (apt), for the security tests' network-namespace test hosts"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
step "installing omniscope_jupyter and its test dependencies into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

step "making sure a Docker engine runs"
bash scripts/ensure-docker.sh

if [ -x .venv/bin/omniplug ] && .venv/bin/omniplug sandbox --help >/dev/null 2>&1; then
  step "building the sandbox images (offline; cached by a hash of their inputs)"
  .venv/bin/omniplug sandbox build
fi
