"""`ganforge studio`: a live page in the browser for trained runs, served by ganforge itself on this machine.

    ganforge studio runs/a runs/b --port 8765      # or ganforge.studio(["runs/a", "runs/b"]) from Python

The layout: views.py draws each picture from a Generator (no server), state.py holds the runs and the one worker
thread their torch calls run on, app.py is the Starlette app (routes, request checks, errors as JSON), static/
the page (one HTML, one JS, one CSS file; nothing is fetched from the network), command.py the command line.
Starlette and uvicorn come with the optional extra `pip install "ganforge[studio]"`; they are imported only here,
when a server starts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import webbrowser
from collections.abc import Iterator

from ganforge.errors import UserError

DEFAULT_RUN = "pretrained:fashion"  # what `ganforge studio` shows without a run: the generator ganforge ships
DEFAULT_PORT = 8765
MISSING = 'the studio needs Starlette and uvicorn: pip install "ganforge[studio]"'


def require_server_libraries() -> None:
    """One line naming the extra where Starlette or uvicorn is not installed."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError(MISSING) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one), so the address printed is the one served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot serve on {host}:{port} ({e.strerror}); give another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def _server(runs, host: str, port: int, device: str):
    require_server_libraries()
    import uvicorn

    from ganforge.studio_app.app import LOOPBACK, create_app

    sources = [str(r) for r in runs] or [DEFAULT_RUN]
    app = create_app(sources, host, device)
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    return uvicorn.Server(config), sock, app, host not in LOOPBACK


def serve(runs=(), host: str = "127.0.0.1", port: int = DEFAULT_PORT, open_browser: bool = False,
          device: str = "auto") -> None:
    """Serve the studio for `runs` (run folders or "pretrained:NAME"; none: pretrained:fashion) until Ctrl-C.
    Prints its address, each run that cannot be read, and a warning where `host` is not this machine alone."""
    server, sock, app, exposed = _server(runs, host, port, device)
    url = address(sock)
    for run in app.state.studio.runs:
        print(f"  run {run.index}: {run.source}" + (f"  (cannot be shown: {run.error})" if run.error else ""))
    print(f"ganforge studio: serving at {url} (Ctrl-C stops)", flush=True)
    if exposed:
        print(f"warning: --host {host} serves the studio beyond this machine: anyone who can reach it can draw "
              "from these runs and save pictures into their folders", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def running(runs=(), host: str = "127.0.0.1", port: int = 0, device: str = "auto") -> Iterator[str]:
    """The studio served from a thread for the block (tests, benchmarks, screenshots): yields its address."""
    server, sock, _, _ = _server(runs, host, port, device)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the studio server did not start")
        time.sleep(0.02)
    try:
        yield address(sock)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
