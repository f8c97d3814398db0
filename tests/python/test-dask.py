#!/usr/bin/env python3
"""vlm_pipeline.dask on a LocalCluster of 2 worker processes (loopback): the 90 shapes
questions give the records `batch` writes; killing a worker mid-run loses nothing."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from distributed import Client, LocalCluster, as_completed

from vlm_pipeline.dask import ModelPlugin, _answer_on_worker, map_requests

SHARED = os.environ["VLM_SHARED_DIR"]
MODEL = os.path.join(os.environ["VLM_SOURCE_ROOT"], "models", "shapes-idefics3")
COMPARED = ("id", "line", "text", "tokens", "prompt_tokens", "finish_reason", "error")


def comparable(records):
    return [{k: r.get(k) for k in COMPARED} for r in records]


def main():
    eval_dir = os.path.join(SHARED, "eval", "shapes")
    with open(os.path.join(eval_dir, "public.json")) as f:
        items = json.load(f)["items"]
    tmp = tempfile.mkdtemp(prefix="vlm-dask-")
    requests = os.path.join(tmp, "requests.jsonl")
    with open(requests, "w") as f:
        for i, item in enumerate(items):
            f.write(json.dumps({"id": "q%02d" % i, "prompt": item["question"],
                                "images": [os.path.join(eval_dir, item["image"])]}) + "\n")
    batch_out = os.path.join(tmp, "batch.jsonl")
    subprocess.run([os.environ["VLM_CLI"], "batch", "--model", MODEL, "--input", requests,
                    "--output", batch_out, "--max-tokens", "8"], check=True, timeout=120)
    with open(batch_out) as f:
        batch = [json.loads(line) for line in f]

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        start = time.monotonic()
        results = map_requests(client, MODEL, requests, timeout=120, max_tokens=8)
        qps = len(results) / (time.monotonic() - start)
        assert comparable(results) == comparable(batch), "dask results differ from batch"
        assert [r["tokens"] for r in results] == [it["reference_tokens"] for it in items]
        print("# dask, 2 workers: %d questions, %.1f questions/s" % (len(results), qps))

        # Kill one worker process while requests are in flight: its tasks run again.
        futures = [client.submit(_answer_on_worker, line, n, eval_dir, {"max_tokens": 8},
                                 pure=False)
                   for n, line in enumerate(open(requests).read().splitlines(), 1)]
        pids = client.run(os.getpid)
        done = as_completed(futures)
        killed = False
        for i, _ in enumerate(done):
            if i == 20 and not killed:
                os.kill(next(iter(pids.values())), signal.SIGKILL)
                killed = True
        assert killed
        again = client.gather(futures)
        assert len(again) == 90 and len({r["id"] for r in again}) == 90
        assert comparable(again) == comparable(batch), "results after a worker kill differ"
        plugins = client.run(lambda dask_worker: list(dask_worker.plugins))
        assert all(ModelPlugin.name in names for names in plugins.values()), plugins
    print("dask OK")


if __name__ == "__main__":
    sys.exit(main())
