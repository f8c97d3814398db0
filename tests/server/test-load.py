#!/usr/bin/env python3
"""Load: 200 requests from 8 concurrent clients (plain, streaming, and streaming clients
that hang up midway) against the demo model. Every completed answer equals the answer the
idle server gives for that prompt, every rejection is a clean 503, memory does not creep,
and the server stops cleanly (no sanitizer report)."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverlib import MODEL, Server, chat_body, read_sse  # noqa: E402

CLIENTS, TOTAL = 8, 200
PROMPTS = [
    ("What colour is the largest shape?", os.path.join(MODEL, "example1.png")),
    ("How many shapes are there?", os.path.join(MODEL, "example2.png")),
    ("What colour is the largest shape?", os.path.join(MODEL, "example3.png")),
    ("Describe the picture.", None),
]


def main():
    # No ASan quarantine, so that RSS measures the server and not freed memory kept for
    # use-after-free detection (leaks and overflows are still reported; the other server
    # tests keep the quarantine).
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
    srv = Server("--parallel", "4", "--max-queue", "2", "--image-cache-mb", "16")
    bodies = [chat_body(p, img, max_tokens=24) for p, img in PROMPTS]
    expected = []
    for b in bodies:
        status, _, data = srv.request("POST", "/v1/chat/completions", b)
        assert status == 200, (status, data)
        expected.append(json.loads(data)["choices"][0]["message"]["content"])
    print("reference answers:", expected)

    lock = threading.Lock()
    state = {"next": 0, "done": 0, "rss20": None, "ok": 0, "rejected": 0, "hangups": 0}
    failures = []

    def one(i):
        kind, p = i % 3, (i // 3) % len(PROMPTS)
        body = dict(bodies[p], stream=kind != 0)
        conn = srv.connect(timeout=300)
        try:
            conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            if r.status == 503:
                err = json.loads(r.read())["error"]
                assert r.getheader("Retry-After") and err["type"] and err["message"], err
                return "rejected"
            if r.status != 200:
                return "status %d: %s" % (r.status, r.read()[:200])
            if kind == 0:
                text = json.loads(r.read())["choices"][0]["message"]["content"]
            elif kind == 1:
                text, done = read_sse(r)
                if not done:
                    return "stream without [DONE]"
            else:
                read_sse(r, limit=2)
                return "hangup"
            return "ok" if text == expected[p] else "answer %r != %r" % (text, expected[p])
        finally:
            conn.close()

    def client():
        while True:
            with lock:
                i = state["next"]
                if i >= TOTAL:
                    return
                state["next"] += 1
            try:
                res = one(i)
            except Exception as e:  # noqa: BLE001 - reported as a failure
                res = "exception %r" % e
            with lock:
                state["done"] += 1
                if res == "ok":
                    state["ok"] += 1
                elif res == "rejected":
                    state["rejected"] += 1
                elif res == "hangup":
                    state["hangups"] += 1
                else:
                    failures.append((i, res))
                if state["done"] == 20:
                    state["rss20"] = srv.rss_kb()
            if res == "rejected":
                time.sleep(0.05)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "clients did not finish in time"
    # Slots of clients that hung up are free: nothing stays active.
    deadline = time.monotonic() + 30
    active = None
    while time.monotonic() < deadline:
        _, _, metrics = srv.request("GET", "/metrics")
        for line in metrics.decode().splitlines():
            if line.startswith("vlm_active_sequences "):
                active = int(line.split()[1])
        if active == 0:
            break
        time.sleep(0.1)
    rss_end = srv.rss_kb()
    # One more good request after the storm.
    status, _, data = srv.request("POST", "/v1/chat/completions", bodies[0])
    after_ok = status == 200 and json.loads(data)["choices"][0]["message"]["content"] == expected[0]
    srv.stop()
    print("%.1f s: %d ok, %d rejected (503), %d hang-ups, %d failures; RSS after 20: %d kB, "
          "after all: %d kB; active at the end: %s" % (time.monotonic() - t0, state["ok"],
          state["rejected"], state["hangups"], len(failures), state["rss20"], rss_end, active))
    for f in failures[:10]:
        print("FAIL", f)
    assert not failures, "some answers differ or failed"
    assert state["ok"] > 0 and state["hangups"] > 0
    assert active == 0, "slots still active: %s" % active
    assert after_ok, "a good request failed after the load"
    assert rss_end <= state["rss20"] * 1.10, "RSS grew from %d to %d kB" % (state["rss20"], rss_end)


if __name__ == "__main__":
    main()
