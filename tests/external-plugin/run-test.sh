#!/bin/sh
# Builds the example plugin outside the source tree against a vlm-pipeline-1.0
# pkg-config file, then checks that the CLI discovers it through VLM_PLUGIN_PATH.
# Usage: run-test.sh PKG_CONFIG_DIR VLM_PIPELINE_BINARY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pcdir=$1
cli=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cc -shared -fPIC -o "$work/libexample.so" "$here/upper-case.c" \
  $(pkg-config --cflags --libs vlm-pipeline-1.0)
export VLM_PLUGIN_PATH="$work"
"$cli" inspect upper-case | grep -q "Upper-cases text"
"$cli" inspect | grep -q "^  example "
out=$("$cli" run "$here/upper.json")
test "$out" = "SHAPES AND COLOURS" || { echo "unexpected output: $out" >&2; exit 1; }
echo "out-of-tree plugin: built, discovered and run"
