#!/usr/bin/env bash
# Runs the unit tests of zava_tool and the period parser with the host's
# python3 (3.10 or newer) against componentize-py's stub bindings.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$here
while [ ! -f "$root/wit/zava-mcp.wit" ]; do root=$(dirname "$root"); done
componentize=${COMPONENTIZE_PY:-$root/target/tools/venv/bin/componentize-py}
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
"$componentize" -d "$root/wit" -w tool-component bindings "$stubs/b" >/dev/null
PYTHONPATH="$stubs/b:$here" PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s "$here/tests" "$@"
