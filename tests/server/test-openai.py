#!/usr/bin/env python3
"""The official `openai` npm package (tests/server/client, installed by .ci/run) against the
server: one plain and one streaming request with a bundled image; both texts must equal
`vlm-pipeline generate` on the same prompt and image with greedy decoding."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverlib import CLI, MODEL, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = os.path.join(MODEL, "example1.png")
PROMPT = "What colour is the largest shape?"
N = "16"


def main():
    client_dir = os.path.join(HERE, "client")
    if not os.path.isdir(os.path.join(client_dir, "node_modules", "openai")):
        sys.exit("the openai package is missing: npm install --prefix tests/server/client openai@5")
    gen = subprocess.run([CLI, "generate", "--model", MODEL, "--image", IMAGE, "--prompt", PROMPT,
                          "--max-tokens", N], capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr
    want = gen.stdout[:-1] if gen.stdout.endswith("\n") else gen.stdout
    srv = Server("--api-key", "sk-local")
    try:
        out = subprocess.run(["node", os.path.join(client_dir, "openai-test.mjs"),
                              "http://127.0.0.1:%d" % srv.port, "sk-local", IMAGE, PROMPT, N],
                             capture_output=True, text=True, timeout=600, cwd=client_dir)
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    print("generate: %r\nopenai plain: %r\nopenai stream: %r" % (want, got["plain"], got["stream"]))
    assert got["plain"] == want and got["stream"] == want
    assert got["plain_finish"] in ("stop", "length") and got["stream_finish"] == got["plain_finish"]
    assert got["usage"]["completion_tokens"] > 0 and got["usage"]["prompt_tokens"] > 0


if __name__ == "__main__":
    main()
