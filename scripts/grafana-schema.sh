#!/usr/bin/env bash
# Installs the Node tooling in tools/grafana-schema (exact versions from its
# package-lock.json) and builds the dashboard JSON Schema from @grafana/schema.
# Needs Node.js 20+ and npm: Debian bookworm's own nodejs is 18, too old for the
# schema generator's dependencies, so this asks for it instead of installing it.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tools/grafana-schema" && pwd)"
for tool in node npm; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool is missing; install Node.js 20 or newer (with npm) for $dir" >&2
    exit 1
  }
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "error: Node.js $(node --version) is too old for $dir; install Node.js 20 or newer" >&2
  exit 1
fi
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
node build-schema.js
