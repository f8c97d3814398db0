#!/bin/sh
# `generate --model fixtures/arch/<name> --image <case.images> --prompt <case.prompt>
# [--system <case.system>] --max-tokens 12 --ignore-eos` gives case.greedy_tokens for every
# architecture fixture (the acceptance command of each model family).
# Usage: test-arch-cli.sh VLM_PIPELINE
set -u
cli=$1
arch="$VLM_SHARED_DIR/fixtures/arch"
status=0
for dir in "$arch"/*/; do
  name=$(basename "$dir")
  # The command line, built from case.json (one argument per line).
  args=$(/usr/bin/python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
c = json.load(open(os.path.join(d, "case.json")))
out = ["--model", d, "--prompt", c["prompt"], "--max-tokens", str(c["max_tokens"]), "--json"]
for image in c["images"]:
    out += ["--image", os.path.join(d, image)]
if c.get("system"):
    out += ["--system", c["system"]]
if c.get("ignore_eos"):
    out.append("--ignore-eos")
print("\n".join(out))
PY
)
  old_ifs=$IFS
  IFS='
'
  # shellcheck disable=SC2086
  json=$("$cli" generate $args) || { echo "FAIL $name: generate exited $?"; status=1; IFS=$old_ifs; continue; }
  IFS=$old_ifs
  if printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
case = json.load(open(sys.argv[1]))
got = json.load(sys.stdin)["tokens"]
sys.exit(0 if got == case["greedy_tokens"] else 1)' "$dir/case.json"; then
    echo "ok $name: 12 greedy tokens identical"
  else
    echo "FAIL $name: tokens differ: $json"
    status=1
  fi
done
exit $status
