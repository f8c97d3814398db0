#!/usr/bin/env python3
"""Loads the Vlm typelib through PyGObject, lists the registry and validates pipelines."""
import os
import sys

import gi

gi.require_version("Vlm", "1.0")
from gi.repository import GLib, Vlm  # noqa: E402

registry = Vlm.Registry.get_default()
names = [f.get_name() for f in registry.list_factories()]
assert "text-sink" in names, names
kinds = {f.get_name(): Vlm.element_kind_to_string(f.get_kind()) for f in registry.list_factories()}
assert kinds["text-sink"] == "sink", kinds

pipeline = Vlm.Pipeline.new_from_data(
    '{"prompt": "hi", "nodes": [{"id": "out", "element": "text-sink", '
    '"inputs": {"text": "@prompt"}}]}', -1, None)
assert pipeline.list_node_ids() == ["out"]
chunks = []
pipeline.connect("text", lambda _p, node, text: chunks.append((node, text)))
assert pipeline.run(None)
assert chunks == [("out", "hi\n")], chunks

try:
    Vlm.Pipeline.new_from_data('{"nodes": [{"id": "x", "element": "nope"}]}', -1, None)
except GLib.Error as e:
    assert "node 'x'" in e.message and "nope" in e.message, e.message
else:
    sys.exit("an unknown element was accepted")

shape = [2, 3]
t = Vlm.Tensor.new(Vlm.DType.F32, shape)
assert t.get_shape() == shape and t.get_numel() == 6
print("introspection OK:", len(names), "elements")
