#!/usr/bin/env python3
"""Hostile input: each bad request gets its status and an OpenAI error body, the server
never crashes or hangs, and a good request still succeeds afterwards."""
import base64
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverlib import MODEL, Server, chat_body  # noqa: E402

KEY = "test-key-123"
AUTH = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}
PNG = os.path.join(MODEL, "example1.png")


def png_declaring(width, height):
    """A PNG whose header declares width x height (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
    data += struct.pack(">I", zlib.crc32(chunk) & 0xffffffff)
    idat = b"IDAT" + zlib.compress(b"\0" * 1024)
    data += struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat) & 0xffffffff)
    return data


def data_url(data, mime="image/png"):
    return "data:%s;base64,%s" % (mime, base64.b64encode(data).decode())


def with_image_url(url, text="What colour is the largest shape?"):
    return {"model": "shapes-idefics3", "max_tokens": 4,
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]}]}


def main():
    png = open(PNG, "rb").read()
    tmp = tempfile.mkdtemp(prefix="vlm-allow-")
    allowed = os.path.join(tmp, "ok.png")
    with open(allowed, "wb") as f:
        f.write(png)
    outside = tempfile.NamedTemporaryFile(suffix=".png", delete=False)
    outside.write(png)
    outside.close()
    os.symlink(outside.name, os.path.join(tmp, "link.png"))
    good = chat_body("What colour is the largest shape?", PNG, max_tokens=8)

    cases = [
        # (name, body bytes or dict, headers, expected status, method, path)
        ("malformed json", b'{"model": "shapes-idefics3", "messages": [', AUTH, 400),
        ("not an object", b"[1, 2, 3]", AUTH, 400),
        ("empty body", b"", AUTH, 400),
        ("no messages", {"model": "shapes-idefics3"}, AUTH, 400),
        ("empty messages", {"messages": []}, AUTH, 400),
        ("messages not a list", {"messages": "hello"}, AUTH, 400),
        ("message not an object", {"messages": [42]}, AUTH, 400),
        ("no role", {"messages": [{"content": "hi"}]}, AUTH, 400),
        ("unknown role", {"messages": [{"role": "wizard", "content": "hi"}]}, AUTH, 400),
        ("content a number", {"messages": [{"role": "user", "content": 7}]}, AUTH, 400),
        ("content empty list", {"messages": [{"role": "user", "content": []}]}, AUTH, 400),
        ("unknown part type", {"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
         AUTH, 400),
        ("image part without url", {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {}}]}]}, AUTH, 400),
        ("unknown model", dict(good, model="gpt-17"), AUTH, 404),
        ("model not a string", dict(good, model=3), AUTH, 400),
        ("max_tokens -1", dict(good, max_tokens=-1), AUTH, 400),
        ("max_tokens 0", dict(good, max_tokens=0), AUTH, 400),
        ("max_tokens 10^9", dict(good, max_tokens=10 ** 9), AUTH, 400),
        ("max_tokens a string", dict(good, max_tokens="5"), AUTH, 400),
        ("max_completion_tokens 1.5", dict(good, max_completion_tokens=1.5), AUTH, 400),
        ("temperature 5", dict(good, temperature=5), AUTH, 400),
        ("top_p 0", dict(good, top_p=0), AUTH, 400),
        ("stream a string", dict(good, stream="yes"), AUTH, 400),
        ("n = 3", dict(good, n=3), AUTH, 400),
        ("five stop strings", dict(good, stop=["a", "b", "c", "d", "e"]), AUTH, 400),
        ("seed negative", dict(good, seed=-4), AUTH, 400),
        ("deeply nested json", b"[" * 100000 + b"]" * 100000, AUTH, 400),
        ("nested messages", {"messages": [{"role": "user", "content": [[[[[]]]]]}]}, AUTH, 400),
        ("invalid base64", with_image_url("data:image/png;base64,@@@not*base64@@@"), AUTH, 400),
        ("base64 bad padding", with_image_url("data:image/png;base64,iVBORw0=KGgo"), AUTH, 400),
        ("wrong mime type", with_image_url(data_url(png, "image/jpeg")), AUTH, 400),
        ("text mime type", with_image_url(data_url(b"hello", "text/plain")), AUTH, 400),
        ("not base64 data url", with_image_url("data:image/png,rawbytes"), AUTH, 400),
        ("png declaring 100000x100000", with_image_url(data_url(png_declaring(100000, 100000))),
         AUTH, 413),
        ("truncated png", with_image_url(data_url(png[: len(png) // 2])), AUTH, 400),
        ("png header then garbage", with_image_url(data_url(png[:60] + b"\x00garbage" * 50)),
         AUTH, 400),
        ("empty image", with_image_url("data:image/png;base64,"), AUTH, 400),
        ("remote url", with_image_url("https://example.com/cat.png"), AUTH, 400),
        ("local path, not allowed", with_image_url("/etc/passwd"), AUTH, 400),
        ("path traversal", with_image_url(os.path.join(tmp, "..", "..", "etc", "passwd")), AUTH, 400),
        ("symlink out of the folder", with_image_url(os.path.join(tmp, "link.png")), AUTH, 400),
        ("file url outside", with_image_url("file://" + outside.name), AUTH, 400),
        ("too many images", {"model": "shapes-idefics3", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(png)}}] * 3}]}, AUTH, 422),
        ("prompt longer than the context", dict(chat_body("red blue green " * 6000),
                                                max_tokens=4), AUTH, 400),
        ("body over the limit", b"{" + b" " * (3 << 20) + b"}", AUTH, 413),
        ("no api key", good, {"Content-Type": "application/json"}, 401),
        ("wrong api key", good, {"Authorization": "Bearer test-key-124"}, 401),
        ("api key without Bearer", good, {"Authorization": KEY}, 401),
        ("models without key", None, {}, 401, "GET", "/v1/models"),
        ("GET on completions", None, AUTH, 405, "GET", "/v1/chat/completions"),
        ("unknown endpoint", None, AUTH, 404, "GET", "/v1/nothing"),
    ]
    failures = []
    srv = Server("--api-key", KEY, "--max-body-mb", "2", "--max-images", "2", "--parallel", "2",
                 "--allow-local-images", tmp, "--max-image-pixels", "4000000")
    try:
        for case in cases:
            name, body, headers, want = case[:4]
            method, path = (case[4], case[5]) if len(case) > 4 else ("POST", "/v1/chat/completions")
            status, _, data = srv.request(method, path, body, headers)
            ok = status == want
            try:
                err = json.loads(data)["error"]
                ok = ok and isinstance(err["message"], str) and isinstance(err["type"], str) \
                    and "param" in err and "code" in err
            except (ValueError, KeyError, TypeError):
                ok = False
            print("%-32s %d %s" % (name, status, "ok" if ok else "FAIL " + data[:200].decode(errors="replace")))
            if not ok:
                failures.append(name)

        # A 1 MB header line: refused (or the connection closed), and the server lives on.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
        except OSError:
            pass
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
        s.close()
        ok = reply == b"" or reply.split(b" ")[1] in (b"400", b"413", b"431")
        print("%-32s %s" % ("1 MB header line", "ok" if ok else "FAIL " + reply[:100].decode(errors="replace")))
        if not ok:
            failures.append("1 MB header line")

        # /health stays open without the key; an allowed local file works.
        status, _, _ = srv.request("GET", "/health")
        assert status == 200, status
        status, _, data = srv.request("POST", "/v1/chat/completions", with_image_url(allowed), AUTH)
        print("%-32s %d" % ("allowed local file", status))
        if status != 200:
            failures.append("allowed local file")
        status, _, data = srv.request("POST", "/v1/chat/completions", good, AUTH)
        answer = json.loads(data)
        print("%-32s %d %r" % ("good request afterwards", status,
                               answer.get("choices", [{}])[0].get("message")))
        if status != 200 or answer["choices"][0]["finish_reason"] not in ("stop", "length"):
            failures.append("good request afterwards")
    finally:
        srv.stop()
        shutil.rmtree(tmp)
        os.unlink(outside.name)
    print("%d cases, %d failures" % (len(cases) + 3, len(failures)))
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
