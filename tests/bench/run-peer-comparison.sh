#!/bin/sh
# run-peer-comparison.sh [BUILD_DIR] [WORK_DIR] [ROUNDS]
#
# Builds the random-weight SmolVLM-256M-Instruct (BF16) with make-random-model, converts
# it to MLX 8- and 4-bit with `vlm-pipeline convert`, then runs llama.cpp (the peer,
# ../shared/tools/peer-llamacpp.sh) and `vlm-pipeline bench` back to back on the same
# 512-token prompt and 128 generated tokens, ROUNDS times (default 2), and prints the
# ratios of the bests (the peer's best thread count per phase; ours at its default).
# Then the image figures: vision tower for cats.jpg (13 tiles, BF16) and one tile, exact
# (F32 products) and fast (--vision-precision f16), and peak RSS of the 4-bit model
# answering about cats.jpg.
# Needs node + npm (the peer installs node-llama-cpp on first use) and python3 + numpy.
# The models (~1 GB) go to WORK_DIR (default /tmp/vlm-bench); nothing is written here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=${2:-/tmp/vlm-bench}
rounds=${3:-2}
shared=${VLM_SHARED_DIR:-$src/../shared}
cli="$build/core/cli/vlm-pipeline"
peer="$shared/tools/peer-llamacpp.sh"
out="$work/results"
mkdir -p "$work" "$out"

if [ ! -f "$work/bf16/model.safetensors" ]; then
  /usr/bin/python3 "$here/make-random-model" "$shared/fixtures/tokenizers/smolvlm256m" "$work/bf16"
  # The real checkpoint's processor settings (byte copies of the published files).
  cp "$shared/fixtures/preprocess/pre_smolvlm256m_real/preprocessor_config.json" \
     "$shared/fixtures/preprocess/pre_smolvlm256m_real/processor_config.json" "$work/bf16/"
fi
for b in 8 4; do
  [ -f "$work/q$b/model.safetensors" ] || "$cli" convert --model "$work/bf16" --out "$work/q$b" --quantize "$b"
done
# One tile: the same model without image splitting (only the 512x512 global image).
if [ ! -f "$work/bf16-1tile/config.json" ]; then
  mkdir -p "$work/bf16-1tile"
  for f in "$work"/bf16/*; do ln -sf "$f" "$work/bf16-1tile/"; done
  rm "$work/bf16-1tile/preprocessor_config.json"
  sed 's/"do_image_splitting": true/"do_image_splitting": false/' \
    "$work/bf16/preprocessor_config.json" > "$work/bf16-1tile/preprocessor_config.json"
fi

: > "$out/runs.jsonl"
i=1
while [ "$i" -le "$rounds" ]; do
  for q in q8_0 q4_0; do
    for t in 1 2; do
      echo "round $i: peer $q, $t threads" >&2
      "$peer" "$q" 512 128 "$t" | sed "s/^{/{\"who\":\"peer\",\"round\":$i,/" >> "$out/runs.jsonl"
    done
  done
  for m in q8 q4; do
    echo "round $i: vlm-pipeline $m" >&2
    "$cli" bench --model "$work/$m" --prompt-tokens 512 --gen-tokens 128 --repeat 3 --json \
      | sed "s/^{/{\"who\":\"ours\",\"round\":$i,\"quant\":\"$m\",/" >> "$out/runs.jsonl"
  done
  i=$((i + 1))
done
echo "image: cats.jpg, BF16 (13 tiles), 1 tile, and the 4-bit model" >&2
img="$shared/images/cats.jpg"
"$cli" bench --model "$work/bf16" --image "$img" --gen-tokens 16 --repeat 1 --json \
  | sed 's/^{/{"who":"image","quant":"bf16",/' >> "$out/runs.jsonl"
"$cli" bench --model "$work/bf16-1tile" --image "$img" --gen-tokens 16 --repeat 3 --json \
  | sed 's/^{/{"who":"image-1tile","quant":"bf16",/' >> "$out/runs.jsonl"
# The fast mode: the tower's products in FP16 (where the CPU has AVX512-FP16).
"$cli" bench --model "$work/bf16" --image "$img" --gen-tokens 16 --repeat 2 --json \
  --vision-precision f16 | sed 's/^{/{"who":"image-f16","quant":"bf16",/' >> "$out/runs.jsonl"
"$cli" bench --model "$work/bf16-1tile" --image "$img" --gen-tokens 16 --repeat 3 --json \
  --vision-precision f16 | sed 's/^{/{"who":"image-1tile-f16","quant":"bf16",/' >> "$out/runs.jsonl"
"$cli" bench --model "$work/q4" --image "$img" --gen-tokens 16 --repeat 1 --json \
  | sed 's/^{/{"who":"image","quant":"q4",/' >> "$out/runs.jsonl"

/usr/bin/python3 - "$out/runs.jsonl" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def peer(q, key):
    v = [(r[key], r["threads"]) for r in runs if r["who"] == "peer" and r["quant"] == q]
    return max(v) if v else (0, 0)
def ours(q, key):
    v = [r["best"][key] for r in runs if r["who"] == "ours" and r["quant"] == q]
    return max(v) if v else 0
print("phase    model   peer best (threads)   vlm-pipeline best   ratio")
for ours_q, peer_q in (("q8", "q8_0"), ("q4", "q4_0")):
    for key, name in (("prefill_tokens_per_s", "prefill"), ("decode_tokens_per_s", "decode")):
        p, t = peer(peer_q, key)
        o = ours(ours_q, key)
        print(f"{name:8} {ours_q:6} {p:10.1f} ({t})        {o:12.1f}      {o / p if p else 0:6.2f}x")
for r in runs:
    if r["who"].startswith("image"):
        print(f"{r['who']:12} {r['quant']:5} vision {r['vision_ms']:.0f} ms (best {r['best']['vision_ms']:.0f}), "
              f"preprocess {r['preprocess_ms']:.0f} ms, prefill {r['prefill_tokens_per_s']:.1f} tok/s, "
              f"decode {r['decode_tokens_per_s']:.1f} tok/s, peak RSS {r['peak_rss_mb']:.0f} MB")
PY
