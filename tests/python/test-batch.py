#!/usr/bin/env python3
"""vlm-pipeline batch: the 90 shapes questions give their reference tokens; a run killed
with SIGKILL and --resumed ends with the same result lines; broken lines, missing and
corrupt images become per-line errors."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

CLI = os.environ["VLM_CLI"]
SHARED = os.environ["VLM_SHARED_DIR"]
MODEL = os.path.join(os.environ["VLM_SOURCE_ROOT"], "models", "shapes-idefics3")
EVAL_DIR = os.path.join(SHARED, "eval", "shapes")
TMP = tempfile.mkdtemp(prefix="vlm-batch-")


def write_requests(name, items):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        for i, item in enumerate(items):
            f.write(json.dumps({"id": "q%02d" % i, "prompt": item["question"],
                                "images": [os.path.join(EVAL_DIR, item["image"])]}) + "\n")
    return path


def batch(*args, timeout=120):
    return subprocess.run([CLI, "batch", "--model", MODEL, *args], timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_results(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_reference_tokens(items, requests):
    out = os.path.join(TMP, "results.jsonl")
    start = time.monotonic()
    run = batch("--input", requests, "--output", out, "--max-tokens", "8")
    qps = len(items) / (time.monotonic() - start)
    assert run.returncode == 0, run.stderr
    results = read_results(out)
    assert [r["id"] for r in results] == ["q%02d" % i for i in range(len(items))]
    for r, item in zip(results, items):
        assert r["tokens"] == item["reference_tokens"], (r, item["reference_tokens"])
        assert r["text"] == item["reference_text"] and r["finish_reason"] == "stop", r
        assert set(r["timings"]) >= {"preprocess_ms", "vision_ms", "prefill_ms", "decode_ms"}
    assert "90/90 done, 0 failed" in run.stderr, run.stderr
    print("# batch: %d questions, %.1f questions/s (process start and model load included)"
          % (len(items), qps))


def test_kill_and_resume(items, requests):
    # Longer answers, so that the run is still going when it is killed.
    opts = ["--input", requests, "--max-tokens", "48", "--ignore-eos"]
    full = os.path.join(TMP, "full.jsonl")
    assert batch(*opts, "--output", full).returncode == 0
    killed = os.path.join(TMP, "killed.jsonl")
    proc = subprocess.Popen([CLI, "batch", "--model", MODEL, *opts, "--output", killed],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(killed) and open(killed, "rb").read().count(b"\n") >= len(items) // 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run ended before it was killed"
    partial = open(killed, "rb").read().count(b"\n")
    assert 0 < partial < len(items), partial
    run = batch(*opts, "--output", killed, "--resume")
    assert run.returncode == 0, run.stderr
    strip = lambda r: json.dumps({k: v for k, v in r.items() if k != "timings"}, sort_keys=True)
    resumed = [strip(r) for r in read_results(killed)]
    assert len(resumed) == len(set(resumed)) == len(items), "duplicated or lost lines"
    assert sorted(resumed) == sorted(strip(r) for r in read_results(full))
    # Resuming a finished run does nothing.
    assert batch(*opts, "--output", killed, "--resume").returncode == 0
    assert len(read_results(killed)) == len(items)


def test_bad_lines(items):
    corrupt = os.path.join(TMP, "corrupt.png")
    with open(os.path.join(EVAL_DIR, items[0]["image"]), "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[: len(data) // 2])  # a PNG cut in the middle
    good = {"prompt": items[0]["question"], "images": [os.path.join(EVAL_DIR, items[0]["image"])]}
    lines = [
        json.dumps(dict(good, id="good1")),
        '{"id": "broken", "prompt": ',
        "[1, 2]",
        json.dumps({"id": "no-prompt", "images": good["images"]}),
        json.dumps({"id": "missing", "prompt": "what?", "images": ["does-not-exist.png"]}),
        json.dumps({"id": "corrupt", "prompt": "what?", "images": [corrupt]}),
        json.dumps(dict(good, id="bad-option", max_tokens="many")),
        json.dumps(dict(good, id="unknown-option", colour="red")),
        "",
        json.dumps(dict(good, id="good2", max_tokens=1)),
    ]
    requests = os.path.join(TMP, "bad.jsonl")
    with open(requests, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(TMP, "bad-results.jsonl")
    run = batch("--input", requests, "--output", out)
    assert run.returncode == 0, run.stderr
    results = read_results(out)
    assert len(results) == 9, results
    by_line = {r["line"]: r for r in results}
    assert by_line[1]["id"] == "good1" and by_line[1]["tokens"] == items[0]["reference_tokens"]
    assert by_line[10]["id"] == "good2" and len(by_line[10]["tokens"]) == 1
    assert by_line[10]["finish_reason"] == "length"
    expected = {2: ("format", "line 2"), 3: ("format", "not a JSON object"),
                4: ("invalid", '"prompt"'), 5: ("io", "does-not-exist.png"),
                6: ("format", "corrupt.png"), 7: ("invalid", "max_tokens"),
                8: ("invalid", "colour")}
    for line, (code, words) in expected.items():
        error = by_line[line]["error"]
        assert error["code"] == code and words in error["message"], (line, error)
    # Nothing could run: exit status 1, every line still recorded.
    with open(requests, "w") as f:
        f.write("\n".join(lines[1:8]) + "\n")
    run = batch("--input", requests, "--output", out)
    assert run.returncode == 1 and "none of the 7 requests" in run.stderr, run.stderr
    assert len(read_results(out)) == 7


def main():
    with open(os.path.join(EVAL_DIR, "public.json")) as f:
        items = json.load(f)["items"]
    requests = write_requests("requests.jsonl", items)
    test_reference_tokens(items, requests)
    test_kill_and_resume(items, requests)
    test_bad_lines(items)
    print("batch OK")


if __name__ == "__main__":
    sys.exit(main())
