#!/usr/bin/env python3
"""Every model family of the fixtures through the server: a request with the fixture's image
and prompt gives the text of `vlm-pipeline generate` (greedy) on the same inputs: the
processor, the vision tower, bidirectional prompt spans (PaliGemma, Gemma 3) and M-RoPE
positions (Qwen2-VL) as in `generate`. A second turn about the same image, answered from the
cached prefix, equals the answer of a server that keeps no cache."""
import base64
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverlib import CLI, Server  # noqa: E402

ARCH = os.path.join(os.environ["VLM_SHARED_DIR"], "fixtures", "arch")
N = 8


def ask(srv, messages):
    status, _, body = srv.request("POST", "/v1/chat/completions",
                                  {"messages": messages, "max_tokens": N, "temperature": 0},
                                  timeout=300)
    assert status == 200, body
    reply = json.loads(body)
    return reply["choices"][0]["message"]["content"], reply["usage"]


def check(arch):
    model = os.path.join(ARCH, arch)
    case = json.load(open(os.path.join(model, "case.json")))
    image = os.path.join(model, case["images"][0])
    args = [CLI, "generate", "--model", model, "--image", image, "--prompt", case["prompt"],
            "--max-tokens", str(N), "--temperature", "0"]
    if case.get("system"):
        args += ["--system", case["system"]]
    gen = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr
    want = gen.stdout[:-1] if gen.stdout.endswith("\n") else gen.stdout

    ext = os.path.splitext(image)[1].lower().lstrip(".")
    mime = "image/jpeg" if ext in ("jpg", "jpeg") else "image/" + ext
    url = "data:%s;base64,%s" % (mime, base64.b64encode(open(image, "rb").read()).decode())
    messages = [{"role": "system", "content": case["system"]}] if case.get("system") else []
    messages.append({"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                 {"type": "text", "text": case["prompt"]}]})
    srv = Server(model=model)
    try:
        got, _ = ask(srv, messages)
        turn2 = messages + [{"role": "assistant", "content": got},
                            {"role": "user", "content": "And the colours?"}]
        again, usage = ask(srv, turn2)
    finally:
        srv.stop()
    fresh = Server("--image-cache-mb", "0", model=model)
    try:
        want2, usage2 = ask(fresh, turn2)
    finally:
        fresh.stop()
    reused = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    print("%s: generate %r, serve %r; turn 2 (%d of %d prompt tokens reused) %r, without cache %r"
          % (arch, want, got, reused, usage["prompt_tokens"], again, want2), flush=True)
    assert got == want, arch
    assert again == want2, arch
    assert usage2.get("prompt_tokens_details", {}).get("cached_tokens", 0) == 0


def main():
    for arch in sorted(os.listdir(ARCH)):
        check(arch)


if __name__ == "__main__":
    main()
