#!/bin/sh
# vlm-pipeline convert: the Idefics3 fixture rewritten in the mlx-community layout keeps its
# exact greedy tokens; 8-bit (group 32) and 4-bit --skip-vision conversions quantize the
# modules mlx-vlm would, load back and generate.
# Usage: test-convert.sh VLM_PIPELINE   (VLM_SHARED_DIR locates the fixtures)
set -u
cli=$1
fx="$VLM_SHARED_DIR/fixtures/arch/idefics3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
prompt=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompt"])' "$fx/case.json")

run() { # MODEL OUT.json
  "$cli" generate --model "$1" --image "$fx/cats.jpg" --prompt "$prompt" --max-tokens 12 \
    --ignore-eos --json > "$2" || fail "generate on $1 failed"
}

"$cli" convert --model "$fx" --out "$work/mlx" || fail "convert (dense) failed"
run "$work/mlx" "$work/dense.json"
"$cli" convert --model "$fx" --out "$work/q8" --quantize 8 --group-size 32 || fail "convert -q 8 failed"
run "$work/q8" "$work/q8.json"
"$cli" convert --model "$fx" --out "$work/q4" --quantize 4 --skip-vision || fail "convert -q 4 failed"
run "$work/q4" "$work/q4.json"
"$cli" convert --model "$fx" --out "$work/bad" --quantize 3 2>/dev/null
[ $? = 2 ] || fail "--quantize 3 was not a usage error"

/usr/bin/python3 - "$fx/case.json" "$work" <<'PY' || fail "converted checkpoints"
import json, struct, sys
case, work = json.load(open(sys.argv[1])), sys.argv[2]
def header(d):
    f = open(f"{work}/{d}/model.safetensors", "rb")
    return json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
dense = json.load(open(f"{work}/dense.json"))
assert dense["tokens"] == case["greedy_tokens"], (dense["tokens"], case["greedy_tokens"])
h = header("mlx")
assert h["__metadata__"]["format"] == "mlx"
assert h["vision_model.embeddings.patch_embedding.weight"]["shape"][1:3] == [8, 8], "conv layout"
assert "language_model.lm_head.weight" in h and not any(k.endswith(".scales") for k in h)
q8 = header("q8")
cfg = json.load(open(f"{work}/q8/config.json"))
assert cfg["quantization"] == {"group_size": 32, "bits": 8}, cfg["quantization"]
for m in ("language_model.layers.0.self_attn.q_proj", "language_model.embed_tokens",
          "vision_model.encoder.layers.0.mlp.fc1", "vision_model.embeddings.position_embedding",
          "connector.modality_projection.proj"):
    assert q8[m + ".weight"]["dtype"] == "U32" and m + ".scales" in q8 and m + ".biases" in q8, m
assert "language_model.norm.weight" in q8 and "language_model.norm.scales" not in q8
q4 = header("q4")
assert not any(k.startswith("vision_model.") and k.endswith(".scales") for k in q4), "skip-vision"
assert "language_model.layers.0.mlp.down_proj.scales" in q4
for d in ("q8", "q4"):
    assert len(json.load(open(f"{work}/{d}.json"))["tokens"]) == 12, d
PY
echo "convert: all checks passed"
