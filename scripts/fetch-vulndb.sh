#!/bin/sh
# Download a fresh offline vulnerability database for the scan: OSV's export of every PyPI
# advisory (https://osv.dev, data under CC-BY 4.0). Run it on a machine with internet access,
# copy the file to the server, and point the scan at it:
#   c.OmniscopeApp.scan_vulndb_path = "/var/lib/omniscope/osv-pypi.zip"
# Without it the scan uses the safety-db copy installed from PyPI (frozen at 2021-07).
# Usage: scripts/fetch-vulndb.sh [OUT.zip]   (default: ~/.cache/omniscope/osv-pypi.zip)
set -eu
out=${1:-"$HOME/.cache/omniscope/osv-pypi.zip"}
url=https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip
mkdir -p "$(dirname "$out")"
curl --fail --location --silent --show-error --output "$out.part" "$url"
# Refuse a truncated or non-zip download before replacing the previous database.
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()), "advisories")' "$out.part"
mv "$out.part" "$out"
echo "vulnerability database: $out"
