#!/bin/sh
# Rebuild src/skindose/report_assets/viewer.bundle.js (the report's 3-D view) from viewer.js
# and three.js from the npm registry. Needs node/npm; run from the repository root.
# The bundle is committed, so that installing skindose needs neither node nor a network.
set -eu
THREE_VERSION=0.187.0
ESBUILD_VERSION=0.25
assets=src/skindose/report_assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$assets/viewer.js" "$work/"
(cd "$work" && npm install --no-save --silent "three@$THREE_VERSION" "esbuild@$ESBUILD_VERSION")
"$work/node_modules/.bin/esbuild" "$work/viewer.js" --bundle --minify --format=iife \
  --target=es2020 --legal-comments=none --outfile="$assets/viewer.bundle.js"
cp "$work/node_modules/three/LICENSE" "$assets/three.LICENSE"
printf 'three %s (npm), bundled with esbuild %s by scripts/build_report_js.sh\n' \
  "$THREE_VERSION" "$ESBUILD_VERSION" > "$assets/VERSION"
ls -l "$assets"
