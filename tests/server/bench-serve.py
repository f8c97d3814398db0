#!/usr/bin/env python3
"""bench-serve.py MODEL_DIR IMAGE: serving figures (not a test; run by hand).

Text: 1, 2, 4, 8 concurrent streaming clients, each a distinct prompt of about 128 tokens
and 64 generated tokens: aggregate decode tokens/s, p50/p95 time to first token.
Image: time to first token of a first and of a second turn about IMAGE; p99 inter-token
latency of a running text stream alone, and while another client sends IMAGE. Peak RSS."""
import base64
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverlib import Server  # noqa: E402

WORDS = ("river mountain cloud paper window garden silver engine orange castle thunder "
         "pencil forest marble rocket harbor lantern meadow copper violin").split()


def prompt(i, n_words=60):
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] + str((i + k) % 10) for k in range(n_words))


def stream(srv, messages, max_tokens=64):
    """Returns (ttft, [token times], usage) of one streaming request."""
    body = {"messages": messages, "max_tokens": max_tokens, "stream": True,
            "stream_options": {"include_usage": True}}
    t0 = time.monotonic()
    conn = srv.connect(timeout=1800)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, r.read()
    times, usage, text = [], None, ""
    while True:
        line = r.fp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        if line[6:] == b"[DONE]":
            break
        obj = json.loads(line[6:])
        if obj.get("usage"):
            usage = obj["usage"]
        for ch in obj.get("choices", []):
            piece = ch.get("delta", {}).get("content")
            if piece:
                times.append(time.monotonic())
                text += piece
    conn.close()
    return (times[0] - t0 if times else None), times, usage, text


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def text_level(srv, n, base):
    results = [None] * n

    def run(i):
        results[i] = stream(srv, [{"role": "user", "content": prompt(base + i)}])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = min(r[1][0] for r in results)
    last = max(r[1][-1] for r in results)
    tokens = sum(r[2]["completion_tokens"] - 1 for r in results)
    ttfts = [r[0] for r in results]
    return tokens / (last - first), pct(ttfts, 50), pct(ttfts, 95), results[0][2]["prompt_tokens"]


def main():
    model, image = sys.argv[1], sys.argv[2]
    srv = Server("--parallel", "8", "--image-cache-mb", "1024", model=model, timeout=600)
    try:
        stream(srv, [{"role": "user", "content": "warm up"}], 4)
        for i, n in enumerate([1, 2, 4, 8]):
            tps, p50, p95, pt = text_level(srv, n, 100 * (i + 1))
            print("text: %d clients (prompt %d tokens): %.1f tok/s aggregate decode, TTFT p50 %.2f s p95 %.2f s"
                  % (n, pt, tps, p50, p95), flush=True)
        ext = os.path.splitext(image)[1].lower().lstrip(".")
        mime = "image/jpeg" if ext in ("jpg", "jpeg") else "image/" + ext
        url = "data:%s;base64,%s" % (mime, base64.b64encode(open(image, "rb").read()).decode())
        turn1 = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                              {"type": "text", "text": "Describe this image."}]}]
        ttft1, _, usage1, answer = stream(srv, turn1, 16)
        turn2 = turn1 + [{"role": "assistant", "content": answer},
                         {"role": "user", "content": "What colour is the largest animal?"}]
        ttft2, _, usage2, _ = stream(srv, turn2, 16)
        print("image: turn 1 TTFT %.2f s (%d prompt tokens), turn 2 TTFT %.2f s (%d prompt tokens, "
              "%d reused) = %.1f%%" % (ttft1, usage1["prompt_tokens"], ttft2, usage2["prompt_tokens"],
                                       usage2["prompt_tokens_details"]["cached_tokens"],
                                       100 * ttft2 / ttft1), flush=True)
        with open("/proc/%d/status" % srv.proc.pid) as f:
            hwm = [l for l in f if l.startswith("VmHWM")][0].split()[1]
        print("peak RSS: %.0f MB" % (int(hwm) / 1024))
    finally:
        srv.stop(timeout=120)

    # A fresh server, so that the image is not in the feature cache: its vision tower runs
    # while the text stream decodes (the stream's prompt is cached after its first run, as
    # in a conversation; only the decode steps are timed).
    srv = Server("--parallel", "8", model=model, timeout=600)
    try:
        # A running text stream of 192 tokens (191 gaps, so that p99 is not just the largest
        # gap), alone, then again with another client sending IMAGE 0.5 s into it.
        def gaps(times):
            return [b - a for a, b in zip(times, times[1:])]
        text = [{"role": "user", "content": prompt(7)}]
        stream(srv, [{"role": "user", "content": "warm up"}], 4)
        alone = gaps(stream(srv, text, 192)[1])
        a99, a50 = pct(alone, 99), statistics.median(alone)
        res = {}
        tt = threading.Thread(target=lambda: res.setdefault("t", stream(srv, text, 192)))
        tt.start()
        time.sleep(0.5)
        th = threading.Thread(target=stream, args=(srv, turn1, 4))
        th.start()
        tt.join()
        th.join()
        beside = gaps(res["t"][1])
        b99, b50 = pct(beside, 99), statistics.median(beside)
        print("ITL of a running text stream: alone p50 %.1f ms p99 %.1f ms; beside an image request p50 %.1f ms "
              "p99 %.1f ms (%.2fx)" % (1e3 * a50, 1e3 * a99, 1e3 * b50, 1e3 * b99, b99 / a99), flush=True)
    finally:
        srv.stop(timeout=120)


if __name__ == "__main__":
    main()
