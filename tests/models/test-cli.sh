#!/bin/sh
# generate from the command line: the demo answer, --json, --dump-tensors, and the exit
# status and message for bad inputs (missing or unreadable image, more <image> markers
# than images, a checkpoint missing a tensor).
# Usage: test-cli.sh VLM_PIPELINE SOURCE_ROOT
set -u
cli=$1
root=$2
model="$root/models/shapes-idefics3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect STATUS PATTERN CMD...: exit status and a stderr pattern
expect() {
  want=$1 pattern=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  got=$?
  [ "$got" = "$want" ] || fail "$* exited $got, expected $want: $(cat "$work/err")"
  grep -q -- "$pattern" "$work/err" || fail "$*: stderr lacks '$pattern': $(cat "$work/err")"
}

out=$("$cli" generate --model "$model" --image "$model/example1.png" \
  --prompt "What colour is the largest shape?") || fail "demo generate failed"
[ "$out" = " orange" ] || fail "demo answer was '$out'"

"$cli" generate --model "$model" --image "$model/example2.png" --prompt "How many shapes are there?" \
  --json --dump-tensors "$work/dump.safetensors" >"$work/json" || fail "generate --json failed"
/usr/bin/python3 - "$work/json" "$work/dump.safetensors" <<'PY' || fail "bad --json or dump"
import json, struct, sys
r = json.load(open(sys.argv[1]))
for key in ("text", "tokens", "prompt_tokens", "finish_reason", "timings", "peak_rss_mb"):
    assert key in r, key
for key in ("load_ms", "preprocess_ms", "vision_ms", "prefill_ms", "decode_ms",
            "prefill_tokens_per_s", "decode_tokens_per_s"):
    assert key in r["timings"], key
assert r["finish_reason"] == "stop" and r["prompt_tokens"] > 0, r
f = open(sys.argv[2], "rb")
n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n))
want = {"input_ids": "I64", "pixel_values": "F32", "image_features": "F32",
        "inputs_embeds": "F32", "final_hidden": "F32", "logits_last": "F32"}
for name, dtype in want.items():
    assert h[name]["dtype"] == dtype, (name, h.get(name))
assert h["input_ids"]["shape"] == [1, r["prompt_tokens"]]
assert h["final_hidden"]["shape"][0] == r["prompt_tokens"]
PY

expect 1 "nowhere.png" "$cli" generate --model "$model" --image "$work/nowhere.png" --prompt "Hi?"
head -c 300 "$model/example1.png" >"$work/cut.png"
expect 1 "cut.png" "$cli" generate --model "$model" --image "$work/cut.png" --prompt "Hi?"
printf 'not an image at all' >"$work/text.png"
expect 1 "text.png" "$cli" generate --model "$model" --image "$work/text.png" --prompt "Hi?"
expect 1 "image" "$cli" generate --model "$model" --image "$model/example1.png" \
  --prompt "Compare <image> with this one."

mkdir "$work/broken"
for f in "$model"/*; do ln -s "$f" "$work/broken/"; done
rm "$work/broken/model.safetensors"
/usr/bin/python3 "$root/tests/models/drop-tensor.py" "$model/model.safetensors" \
  "$work/broken/model.safetensors" model.text_model.layers.1.mlp.up_proj.weight
expect 1 "model.text_model.layers.1.mlp.up_proj.weight" \
  "$cli" generate --model "$work/broken" --image "$model/example1.png" --prompt "Hi?"

expect 2 "--model" "$cli" generate --prompt "no model"
expect 2 "Unknown option" "$cli" generate --model "$model" --prompt "x" --no-such-flag
echo "generate CLI: all checks passed"
