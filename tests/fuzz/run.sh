#!/bin/sh
# Builds the safetensors header fuzzer with clang (libFuzzer + ASan/UBSan) and runs
# it for SECONDS (default 30) on a copy of the seed corpus.
set -eu
secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}
mkdir -p "$out/corpus"
cc=$(command -v clang || command -v clang-14)
flags=$(pkg-config --cflags --libs glib-2.0 gobject-2.0)
$cc -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/core" -I"$root/include" -DVLM_COMPILATION \
  "$root/tests/fuzz/fuzz-safetensors.c" "$root/core/weights/safetensors-header.c" \
  "$root/core/vlm-dtype.c" "$root/core/vlm-error.c" $flags -o "$out/fuzz-safetensors"
cp "$root"/tests/fuzz/corpus/* "$out/corpus/"
"$out/fuzz-safetensors" -max_total_time="$secs" -max_len=4096 -timeout=5 "$out/corpus"
