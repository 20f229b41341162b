"""A headless chromium driven over the DevTools protocol, for the tests of pages (the report, the studio): the
system binary, a minimal websocket client, a tab opened on a URL, and the studio's page moved as a user moves it
(settle, move, drop: the studio's tests and bench/studio_shots.py). tests/conftest.py's `browser` fixture starts
the browser."""

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def chromium() -> str | None:
    """The system chromium (or Chrome) binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


class DevTools:
    """The DevTools protocol over a minimal websocket client (RFC 6455: masked text frames out, frames in)."""

    def __init__(self, url: str, timeout: float = 30.0):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.split(b"\r\n")[0].split()[1] == b"101", head
        self.next_id = 0
        self.events: list[dict] = []

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the browser closed the DevTools connection")
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, text: str) -> None:
        data = text.encode()
        n = len(data)
        length = bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + n.to_bytes(2, "big") if n < 1 << 16
                                                   else bytes([0x80 | 127]) + n.to_bytes(8, "big"))
        mask = os.urandom(4)  # a client masks every frame it sends
        masked = (np.frombuffer(data, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        self.sock.sendall(bytes([0x81]) + length + mask + masked)

    def _message(self) -> dict:
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(self._read(2 if n == 126 else 8), "big")
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode in (1, 2, 0):  # text, binary, continuation; pings (9) and pongs (10) are ignored
                parts.append(payload)
                if b0 & 0x80:
                    return json.loads(b"".join(parts))

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = self._message()
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]
            self.events.append(msg)

    def wait_for(self, method: str) -> dict:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message())
        return next(e for e in self.events if e.get("method") == method)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def errors(self) -> list[dict]:
        return [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")]

    def close(self) -> None:
        self.sock.close()


def open_page(port: int, url: str) -> DevTools:
    """A new tab, its console and errors recorded, loaded with `url`."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as r:
        target = json.loads(r.read())
    tab = DevTools(target["webSocketDebuggerUrl"])
    for domain in ("Runtime", "Log", "Page"):
        tab.call(f"{domain}.enable")
    tab.call("Page.navigate", url=url)
    deadline = time.monotonic() + 30
    while tab.evaluate("document.readyState + ' ' + document.URL") != f"complete {url}":
        assert time.monotonic() < deadline, f"{url} did not load"
        time.sleep(0.05)
    return tab


@contextmanager
def started(binary: str, profile: Path, width: int = 1200, height: int = 1600):
    """chromium running headless with its DevTools port open: yields (the port, None), or (None, why it did not
    start) where it cannot start here."""
    log_path = profile.parent / f"{profile.name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}",
                                 f"--window-size={width},{height}", "about:blank"],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            port_file = profile / "DevToolsActivePort"  # written once the port is open: "PORT\n/devtools/..."
            deadline = time.monotonic() + 30
            while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    yield None, f"chromium did not start: {log_path.read_text()[-2000:]}"
                    return
                time.sleep(0.1)
            yield int(port_file.read_text().splitlines()[0]), None
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the studio's page, moved as a user moves it -------------------------------------------------------------------


def settle(tab: DevTools, timeout: float = 60, rest: float = 0.0) -> None:
    """Wait until every run's column is laid out and no view has a request in flight or wanted; then `rest`
    seconds more (a screenshot wants the pictures painted)."""
    deadline = time.monotonic() + timeout
    while not tab.evaluate("document.querySelectorAll('.run').length > 0 && window.studio.settled()"):
        assert time.monotonic() < deadline, "the page did not settle"
        time.sleep(0.05)
    time.sleep(rest)


def move(tab: DevTools, selector: str, value, event: str = "input", **wait) -> None:
    """Set a control as a user does: a new value, then its input event; then settle."""
    tab.evaluate(f"(() => {{ const c = document.querySelector({json.dumps(selector)}); c.value = {json.dumps(value)};"
                 f" c.dispatchEvent(new Event('{event}', {{bubbles: true}})); }})()")
    settle(tab, **wait)


def drop(tab: DevTools, selector: str, png: bytes, name: str, **wait) -> None:
    """Drop a PNG file named `name` on the element `selector` names, as a drag from the desktop does; then settle."""
    data = base64.b64encode(png).decode()
    tab.evaluate(f"""(() => {{
        const bytes = Uint8Array.from(atob('{data}'), (c) => c.charCodeAt(0));
        const dropped = new DataTransfer();
        dropped.items.add(new File([bytes], {json.dumps(name)}, {{type: 'image/png'}}));
        document.querySelector({json.dumps(selector)}).dispatchEvent(
            new DragEvent('drop', {{dataTransfer: dropped, bubbles: true, cancelable: true}}));
    }})()""")
    settle(tab, **wait)
