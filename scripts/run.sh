#!/usr/bin/env bash
# Set everything up, install the example plugins, and run JupyterLab with the OmniScope
# extension; the REST API answers on http://localhost:8001/api/plugins/...
# The token is $JUPYTER_TOKEN if set, else a new one written to .omniscope-token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PATH="$PWD/.venv/bin:$PATH"
for example in plugins/examples/*/; do
  name=$(basename "$example")
  if ! omniplug info "$name" >/dev/null 2>&1; then
    omniplug install "$example" --enable --user setup
  fi
done

# JupyterLab serves a workspace folder the repository ignores (sdk/create makes projects there,
# so nothing lands in the source tree), seeded with the example notebooks.
WORKSPACE=${OMNISCOPE_WORKSPACE:-$PWD/workspace}
mkdir -p "$WORKSPACE"
cp -rn examples/notebooks/. "$WORKSPACE/" 2>/dev/null || true

TOKEN=${JUPYTER_TOKEN:-$(python -c 'import secrets; print(secrets.token_hex(24))')}
echo "$TOKEN" > .omniscope-token
chmod 600 .omniscope-token
cat <<MSG

OmniScope is starting: JupyterLab and the plugin API on http://localhost:8001
  token:  $TOKEN   (also in .omniscope-token)
  files:  $WORKSPACE
  try:    curl -H "Authorization: token $TOKEN" http://localhost:8001/api/plugins/list
MSG
exec jupyter lab --port 8001 --ip 127.0.0.1 --no-browser --allow-root \
  --ServerApp.port_retries=0 --IdentityProvider.token="$TOKEN" --notebook-dir="$WORKSPACE" \
  --ServerApp.identity_provider_class=omniscope_jupyter.web.identity.TokenUserIdentityProvider
