#!/usr/bin/env python3
"""Copies a safetensors file without one tensor (for the missing-tensor test)."""
import json
import struct
import sys

src, dst, victim = sys.argv[1:4]
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
out_header, chunks, offset = {}, [], 0
for name, info in header.items():
    if name == "__metadata__":
        out_header[name] = info
        continue
    if name == victim:
        continue
    begin, end = info["data_offsets"]
    chunks.append(data[begin:end])
    out_header[name] = dict(info, data_offsets=[offset, offset + end - begin])
    offset += end - begin
blob = json.dumps(out_header).encode()
blob += b" " * (-len(blob) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(blob)) + blob + b"".join(chunks))
