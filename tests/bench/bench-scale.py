#!/usr/bin/env python3
"""bench-scale.py BUILD_DIR: questions/s on the 90 shapes questions for `batch`, the Python
API in a loop and a 2-worker Dask LocalCluster, measured in one run (not a test).

Run from the source root with the build tree's typelib and overrides:
  VLM_PLUGIN_SYSTEM_PATH=build/plugins GI_TYPELIB_PATH=build/core LD_LIBRARY_PATH=build/core \\
      PYTHONPATH=python \\
      /usr/bin/python3 tests/bench/bench-scale.py build"""
import json
import os
import subprocess
import sys
import tempfile
import time

from distributed import Client, LocalCluster
from vlm_pipeline import Vlm, answer, read_requests
from vlm_pipeline.dask import map_requests

SHARED = os.environ.get("VLM_SHARED_DIR", os.path.join("..", "shared"))
MODEL = os.path.abspath(os.path.join("models", "shapes-idefics3"))
OPTIONS = {"max_tokens": 8}


def write_requests(path):
    eval_dir = os.path.abspath(os.path.join(SHARED, "eval", "shapes"))
    items = json.load(open(os.path.join(eval_dir, "public.json")))["items"]
    with open(path, "w") as f:
        for i, item in enumerate(items):
            f.write(json.dumps({"id": i, "prompt": item["question"],
                                "images": [os.path.join(eval_dir, item["image"])]}) + "\n")
    return len(items)


def main():
    cli = os.path.join(sys.argv[1], "core", "cli", "vlm-pipeline")
    work = tempfile.mkdtemp()
    requests = os.path.join(work, "requests.jsonl")
    n = write_requests(requests)

    t = time.monotonic()
    subprocess.run([cli, "batch", "--model", MODEL, "--input", requests, "--output",
                    os.path.join(work, "results.jsonl"), "--max-tokens", "8"],
                   check=True, stderr=subprocess.DEVNULL)
    batch_s = time.monotonic() - t

    t = time.monotonic()
    model = Vlm.Model.load(MODEL)
    for number, request in read_requests(requests):
        answer(model, request, number, work, OPTIONS)
    loop_s = time.monotonic() - t

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t = time.monotonic()
        map_requests(client, MODEL, requests, **OPTIONS)
        dask_first_s = time.monotonic() - t
        t = time.monotonic()
        map_requests(client, MODEL, requests, **OPTIONS)
        dask_warm_s = time.monotonic() - t
    print("%d questions: batch %.1f q/s | Python API loop %.1f q/s | Dask 2 workers %.1f q/s "
          "(first call, model loads included), %.1f q/s (warm)"
          % (n, n / batch_s, n / loop_s, n / dask_first_s, n / dask_warm_s))


if __name__ == "__main__":
    main()
