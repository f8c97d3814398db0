"""vlm_pipeline: Python helpers on top of the Vlm typelib (``from gi.repository import Vlm``).

``answer()`` turns one request of the ``vlm-pipeline batch`` format into the result line
``batch`` writes, so that Python loops and ``vlm_pipeline.dask`` give the same records.
"""
import json
import os

import gi

gi.require_version("Vlm", "1.0")
from gi.repository import GLib, GObject, Vlm  # noqa: E402

__all__ = ["Vlm", "answer", "read_requests"]

# VlmError codes by value, as `batch` names them in error objects.
_ERROR_NAMES = ["failed", "io", "format", "invalid", "not-found", "unsupported", "plugin",
                "limit", "cancelled"]
_REQUEST_FIELDS = ("id", "prompt", "images")


def read_requests(path):
    """(line number, text) of every non-blank line of a JSONL file, as `batch` reads it."""
    with open(path, encoding="utf-8") as f:
        return [(n, text.strip()) for n, text in enumerate(f, 1) if text.strip()]


def _error_record(request_id, line, error):
    if isinstance(error, GLib.Error) and error.domain == "vlm-error-quark" \
            and 0 <= error.code < len(_ERROR_NAMES):
        code = _ERROR_NAMES[error.code]
    else:
        code = "format" if isinstance(error, ValueError) else "failed"
    message = error.message if isinstance(error, GLib.Error) else str(error)
    return {"id": request_id, "line": line, "error": {"message": message, "code": code}}


def _params(request, line, defaults):
    params = Vlm.GenerateParams(**(defaults or {}))
    for name, value in request.items():
        if name in _REQUEST_FIELDS:
            continue
        if name == "stop" and isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = GObject.Value(GObject.TYPE_STRV, [v for v in value if isinstance(v, str)])
        elif isinstance(value, bool):
            value = GObject.Value(GObject.TYPE_BOOLEAN, value)
        elif isinstance(value, int):
            value = GObject.Value(GObject.TYPE_INT64, value)
        elif isinstance(value, float):
            value = GObject.Value(GObject.TYPE_DOUBLE, value)
        elif isinstance(value, str):
            value = GObject.Value(GObject.TYPE_STRING, value)
        else:
            value = GObject.Value(GObject.TYPE_POINTER, None)
        try:
            params.set_option(name, value)
        except GLib.Error as e:
            raise GLib.Error("line %d: %s" % (line, e.message), e.domain, e.code)
    return params


def answer(model, request, line, base_dir=".", defaults=None):
    """The result record `batch` writes for one request.

    request: a dict ({"id", "prompt", "images", options...}) or one JSONL line of text;
    line: its 1-based line number; base_dir: what relative image paths are relative to;
    defaults: GenerateParams settings for every request (max_tokens=8, ...).
    A request that cannot run gives {"id", "line", "error": {"message", "code"}}.
    """
    if isinstance(request, str):
        try:
            request = json.loads(request)
        except ValueError as e:
            return _error_record(None, line, ValueError("line %d: not JSON: %s" % (line, e)))
    if not isinstance(request, dict):
        return _error_record(None, line, ValueError("line %d: not a JSON object" % line))
    request_id = request.get("id")
    prompt, images = request.get("prompt"), request.get("images") or []
    try:
        if not isinstance(prompt, str):
            raise GLib.Error('line %d: "prompt" must be a string' % line, "vlm-error-quark", 3)
        if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
            raise GLib.Error('line %d: "images" must be a list of file names' % line,
                             "vlm-error-quark", 3)
        paths = [os.path.join(base_dir, i) for i in images]
        result = model.generate(prompt, paths, params=_params(request, line, defaults))
    except GLib.Error as e:
        return _error_record(request_id, line, e)
    record = {"id": request_id, "line": line}
    record.update(result.as_dict())
    return record
