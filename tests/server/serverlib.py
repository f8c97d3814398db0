"""Starts and stops `vlm-pipeline serve` for the server tests (Python standard library only).

Every wait is bounded in time; the server's stderr is kept so tests can check that it
exits 0 and that no sanitizer reported anything."""
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import time

BUILD = os.environ.get("VLM_BUILD_ROOT", "build")
SOURCE = os.environ.get("VLM_SOURCE_ROOT", ".")
CLI = os.path.join(BUILD, "core", "cli", "vlm-pipeline")
MODEL = os.path.join(SOURCE, "models", "shapes-idefics3")


class Server:
    def __init__(self, *args, model=MODEL, timeout=120):
        self.log = tempfile.NamedTemporaryFile(prefix="vlm-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([CLI, "serve", "--model", model, "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.stderr())
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
            time.sleep(0.05)
        while time.monotonic() < deadline:
            status, _, _ = self.request("GET", "/health")
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("server not ready:\n" + self.stderr())

    def stderr(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def connect(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=120):
        conn = self.connect(timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=60):
        """SIGTERM, then checks a clean exit and a silent sanitizer."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("server did not stop within %d s" % timeout)
        log = self.stderr()
        os.unlink(self.log.name)
        assert code == 0, "server exit status %d:\n%s" % (code, log[-4000:])
        assert "Sanitizer" not in log and "runtime error" not in log, log[-4000:]
        return log


def chat_body(prompt, image=None, **extra):
    content = []
    if image:
        import base64
        with open(image, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        content.append({"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}})
    content.append({"type": "text", "text": prompt})
    body = {"model": "shapes-idefics3", "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


def read_sse(resp, limit=None):
    """The content deltas of an SSE response (stops after `limit` events when given)."""
    text, events, done = [], 0, False
    buf = b""
    while True:
        line = resp.fp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        payload = line[6:]
        if payload == b"[DONE]":
            done = True
            break
        obj = json.loads(payload)
        if "error" in obj:
            raise RuntimeError("stream error: %s" % obj)
        for ch in obj.get("choices", []):
            text.append(ch.get("delta", {}).get("content") or "")
        events += 1
        if limit is not None and events >= limit:
            break
    return "".join(text), done
