"""Answer `vlm-pipeline batch` requests on a dask.distributed cluster.

    from distributed import Client
    from vlm_pipeline.dask import map_requests
    client = Client("tcp://scheduler:8786")
    results = map_requests(client, "models/shapes-idefics3", "requests.jsonl", max_tokens=8)

Each worker loads the model once (a worker plugin, run again on a restarted worker);
requests are independent tasks, so those of a worker that dies are run again elsewhere;
results come back in input order with the records `batch` writes.
"""
import os

from distributed import WorkerPlugin, get_worker, wait

from . import Vlm, answer, read_requests

__all__ = ["ModelPlugin", "map_requests"]


class ModelPlugin(WorkerPlugin):
    """Loads a model once per worker process; tasks find it with get_worker()."""

    name = "vlm-model"

    def __init__(self, model):
        self.model_path = model
        self.model = None

    def setup(self, worker):
        self.model = Vlm.Model.load(self.model_path)


def _answer_on_worker(request, line, base_dir, defaults):
    plugin = get_worker().plugins[ModelPlugin.name]
    return answer(plugin.model, request, line, base_dir, defaults)


def map_requests(client, model, requests, base_dir=None, timeout=None, **defaults):
    """Answers requests on the client's cluster; returns the records in input order.

    requests: a JSONL file name (image paths relative to its folder), or a list of dicts
    (image paths relative to base_dir, default the current folder); model: a folder or
    Hugging Face id that every worker can load; defaults: settings for every request
    (max_tokens=8, temperature=...); timeout: seconds to wait for all results.
    """
    if isinstance(requests, (str, os.PathLike)):
        base_dir = base_dir or os.path.dirname(os.path.abspath(requests))
        numbered = read_requests(requests)
    else:
        numbered = list(enumerate(requests, 1))
    base_dir = os.path.abspath(base_dir or ".")
    client.register_worker_plugin(ModelPlugin(model))
    futures = [client.submit(_answer_on_worker, request, line, base_dir, defaults, pure=False)
               for line, request in numbered]
    wait(futures, timeout=timeout)
    return client.gather(futures)
