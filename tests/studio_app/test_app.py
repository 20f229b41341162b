"""The studio's server, live on a free localhost port: the JSON API over the views, refusals as one-line 4xx
answers after which it keeps serving, no path from a client ever read or written, superseded requests dropped,
and 8 clients at once each getting their own correct pictures."""

import asyncio
import io
import json
import random
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.errors import UserError

from .conftest import call, drawn, pixels

pytest.importorskip("starlette", reason='the studio needs pip install "ganforge[studio]"')
pytest.importorskip("uvicorn", reason='the studio needs pip install "ganforge[studio]"')


@pytest.fixture(scope="module")
def studio(runs, tmp_path_factory):
    """(the address of a studio serving the tiny gan, acgan and pix2pix runs and a folder that is no run, the
    runs' folders)."""
    from ganforge.studio_app import running

    folders = [runs("gan"), runs("acgan"), runs("pix2pix"), tmp_path_factory.mktemp("not-a-run")]
    with running(folders, device="cpu") as url:
        yield url, folders


def png(size: tuple[int, int], mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 90).save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height: its signature and header chunk, then a few bytes of image data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_the_runs_are_described_and_a_run_that_cannot_be_read_is_one_line(studio):
    url, _ = studio
    status, answer = call(url, "/api/runs")
    assert status == 200
    gan, acgan, pix2pix, broken = answer["runs"]
    assert gan["samples"] and gan["psi"] and gan["classes"] is None and gan["directions"]
    assert acgan["classes"][7] == "Sneaker" and not acgan["directions"]
    assert pix2pix["translate"] == ["AB"] and not pix2pix["samples"]
    assert "not a ganforge run" in broken["error"] and "\n" not in broken["error"]
    status, answer = call(url, "/api/run/3/view/sample?seed=0")
    assert status == 409 and answer["error"] == broken["error"]
    assert call(url, "/api/run/3/curves")[0] == 200  # its page still loads


def test_a_view_answers_its_picture_with_the_command_that_draws_it(studio, generator):
    url, folders = studio
    status, answer = call(url, "/api/run/0/view/sample?seed=12&psi=0.6")
    assert status == 200
    assert np.array_equal(pixels(answer["image"]), drawn(generator("gan").sample(1, 12, truncation=0.6)[0]))
    assert answer["command"] == f"ganforge sample {folders[0]} --n 1 --seed 12 --truncation 0.6"
    status, answer = call(url, "/api/run/1/view/grid?seed=1&class=Bag")
    assert status == 200 and answer["image"].startswith("data:image/png;base64,")
    assert answer["note"] == "64 samples" and answer["command"].endswith("--class Bag")


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/api/run/0/view/sample?seed=x", 400, "whole number"),
    ("/api/run/0/view/sample?seed=-1", 400, "from 0"),
    ("/api/run/0/view/sample?psi=nan", 400, "number"),
    ("/api/run/0/view/sample?class=Bag", 400, "conditional"),
    ("/api/run/1/view/sample?class=Spaceship", 400, "not a class"),
    ("/api/run/2/view/sample", 400, "pix2pix"),
    ("/api/run/0/view/mix", 400, "style"),
    ("/api/run/0/view/attribute", 400, "give attr"),
    ("/api/run/0/view/edit?code=0123", 410, "no longer held"),
    ("/api/run/0/view/nothing", 404, "no view"),
    ("/api/run/9/view/sample", 404, "no run 9"),
])
def test_bad_requests_are_one_line_and_the_server_keeps_serving(studio, path, status, words):
    url, _ = studio
    got, answer = call(url, path)
    assert got == status and words in answer["error"] and "\n" not in answer["error"]
    assert call(url, "/api/run/0/view/sample?seed=1")[0] == 200


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"", 400, "no file"),
    (b"/etc/passwd", 422, "not an image"),  # a path is bytes like any other: it does not decode
    (png((40, 30))[:-30], 422, "cannot be decoded"),  # truncated
    (png_header(20_000, 20_000), 413, "too large to decode safely"),
    (png_header(5_000, 5_000), 413, "more than the studio takes"),
])
def test_uploads_that_are_not_images_or_too_large_are_refused(studio, body, status, words):
    url, _ = studio
    got, answer = call(url, "/api/run/2/upload/translate?name=x.png", "POST", body)
    assert got == status and words in answer["error"] and "\n" not in answer["error"]
    got, answer = call(url, "/api/run/2/upload/translate?name=x.png", "POST", png((40, 30)))
    assert got == 200 and pixels(answer["image"]).shape == (30, 40)


def test_an_oversize_body_is_refused_by_its_length_and_while_it_streams(studio):
    import http.client
    from urllib.parse import urlsplit

    from ganforge.studio_app.app import MAX_UPLOAD

    u = urlsplit(studio[0])
    declared = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    declared.putrequest("POST", "/api/run/2/upload/translate")
    declared.putheader("Content-Length", str(MAX_UPLOAD + 1))
    declared.endheaders()  # the body is never sent: the length alone is refused
    response = declared.getresponse()
    assert response.status == 413 and "8 MB" in json.loads(response.read())["error"]
    declared.close()
    streamed = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    chunks = (b"\0" * 2**20 for _ in range(9))  # no length given: chunked, refused once past the limit
    streamed.request("POST", "/api/run/2/upload/translate", body=chunks, encode_chunked=True)
    response = streamed.getresponse()
    assert response.status == 413
    streamed.close()
    assert call(studio[0], "/api/run/2/upload/translate", "POST", png((32, 32)))[0] == 200


def test_a_clip_is_continued_and_a_cyclegan_translates_both_ways(runs, generator):
    from ganforge.studio_app import running

    g = generator("video")
    frames = [Image.fromarray(np.full(g.spec.shape[1:], 40 * k, np.uint8)) for k in range(g.context)]
    clip = io.BytesIO()
    frames[0].save(clip, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    with running([runs("video"), runs("cyclegan")], device="cpu") as url:
        status, answer = call(url, "/api/run/0/upload/predict?frames=3&name=walk.gif", "POST", clip.getvalue())
        assert status == 200 and answer["kind"] == "gif" and answer["image"].startswith("data:image/gif;base64,")
        assert answer["command"].endswith("--input walk.gif --frames 3")
        status, answer = call(url, "/api/run/0/upload/predict", "POST", png((5, 7)))
        assert status == 400 and "frame" in answer["error"]  # one frame of another size
        status, described = call(url, "/api/runs")
        assert described["runs"][0]["predict"] == g.context and described["runs"][0]["image"]
        assert described["runs"][1]["translate"] == ["AB", "BA"]
        shown = {d: call(url, f"/api/run/1/upload/translate?direction={d}", "POST", png((28, 28), "RGB"))[1]
                 for d in ("AB", "BA")}
        assert all("image" in a for a in shown.values()) and shown["AB"]["image"] != shown["BA"]["image"]


def test_saving_writes_what_was_shown_under_a_fresh_name_in_the_run_folder(studio):
    url, folders = studio
    _, shown = call(url, "/api/run/0/view/sample?seed=4")
    paths = []
    for _ in range(2):
        status, saved = call(url, f"/api/run/0/save?token={shown['token']}", "POST")
        assert status == 200
        paths.append(folders[0] / "studio" / saved["path"].rsplit("/", 1)[1])
        assert saved["path"] == str(paths[-1])
    assert paths[0].name == "sample_seed4.png" and paths[1].name == "sample_seed4_2.png"
    assert paths[0].read_bytes() == paths[1].read_bytes() == png_bytes_of(shown["image"])
    # a token is the server's own and belongs to its run: nothing else names a file
    for path in (f"/api/run/1/save?token={shown['token']}", "/api/run/0/save?token=../../../etc/passwd",
                 "/api/run/0/save"):
        status, answer = call(url, path, "POST")
        assert status in (400, 410) and "error" in answer


def png_bytes_of(uri: str) -> bytes:
    import base64

    return base64.b64decode(uri.split(",", 1)[1])


def test_no_path_from_a_client_reaches_a_file(studio):
    url, _ = studio
    for path in ("/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/state.py", "/static/studio.py",
                 "/api/run/..%2f..%2fetc/view/sample", "/api/run/-1/view/sample", "/api/run/0/view/..%2f..%2fapp"):
        status, _ = call(url, path)
        assert status == 404, path
    assert call(url, "/static/studio.js")[0] == 200
    # another site's page cannot post to the studio, nor reach it by a name that resolves here
    assert call(url, "/api/run/0/reload", "POST", headers={"Origin": "http://example.com"})[0] == 403
    assert call(url, "/api/runs", headers={"Host": "example.com"})[0] == 400
    status, page = call(url, "/")
    assert status == 200 and b"/static/studio.js" in page


def test_the_curves_are_read_again_while_the_run_trains(studio):
    url, folders = studio
    status, first = call(url, "/api/run/0/curves")
    assert status == 200 and first["step"] == 2 and "loss_d" in first["series"]
    with open(folders[0] / "metrics.jsonl", "a") as f:  # the run logs another step
        f.write(json.dumps({"step": 3, "loss_d": 0.5, "eval_fd_classifier": float("nan")}) + "\n")
    _, second = call(url, "/api/run/0/curves")
    assert second["step"] == 3 and second["series"]["loss_d"][-1] == [3, 0.5]
    assert second["series"]["eval_fd_classifier"] == [[3, None]]  # JSON has no NaN


def test_a_request_superseded_before_it_is_drawn_is_dropped():
    """A view's stream: while the worker is busy, requests 1, 2, 3 arrive; only 3 is drawn, 1 and 2 answer 204."""
    from ganforge.studio_app.state import Studio, Superseded

    studio = Studio([])
    busy, drawn_ids = threading.Event(), []

    async def scenario():
        blocker = studio.work(lambda: busy.wait(10))
        waits = [studio.work(lambda k=k: drawn_ids.append(k), "page-view", k) for k in (1, 2, 3)]
        tasks = [asyncio.ensure_future(w) for w in [blocker, *waits]]
        await asyncio.sleep(0.1)
        busy.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(scenario())
    assert [type(r) for r in results[1:3]] == [Superseded, Superseded] and drawn_ids == [3]
    studio.close()


def test_stale_requests_of_a_live_page_answer_no_content(studio):
    url, _ = studio
    assert call(url, "/api/run/0/view/sample?seed=1&stream=s&rid=5")[0] == 200
    assert call(url, "/api/run/0/view/sample?seed=2&stream=s&rid=4")[0] == 204  # older than one already seen
    assert call(url, "/api/run/0/view/sample?seed=2&stream=t&rid=4")[0] == 200  # another view's stream


def test_eight_clients_at_once_each_get_their_own_correct_pictures(studio, generator):
    """A bounded load test: 8 clients for 3 seconds, each drawing its own seeds; every picture is checked."""
    url, _ = studio
    g = generator("gan")
    cases = {(client, k): (client * 100 + k, [None, 0.7][k % 2]) for client in range(8) for k in range(4)}
    expected = {seed_psi: drawn(g.sample(1, seed_psi[0], truncation=seed_psi[1])[0]) for seed_psi in cases.values()}

    def client(index: int) -> tuple[int, int]:
        served = wrong = 0
        rng = random.Random(index)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            seed, psi = cases[index, rng.randrange(4)]
            query = f"seed={seed}" + (f"&psi={psi}" if psi is not None else "")
            status, answer = call(url, f"/api/run/0/view/sample?{query}")
            served += 1
            wrong += status != 200 or not np.array_equal(pixels(answer["image"]), expected[seed, psi])
        return served, wrong

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))
    assert all(served >= 3 for served, _ in results), results
    assert sum(wrong for _, wrong in results) == 0


def test_the_command_line_prints_its_address_and_warns_beyond_this_machine(runs):
    process = subprocess.Popen([sys.executable, "-m", "ganforge", "studio", str(runs("gan")), "--port", "0",
                                "--host", "0.0.0.0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any("serving at" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        lines.append(process.stdout.readline())
        address = next(line for line in lines if "serving at" in line).split("serving at ")[1].split()[0]
        assert address.startswith("http://0.0.0.0:")
        assert any(line.startswith("warning: --host 0.0.0.0") for line in lines), lines
        port = address.rstrip("/").rsplit(":", 1)[1]
        assert call(f"http://127.0.0.1:{port}/", "/api/runs")[0] == 200
    finally:
        process.terminate()
        process.wait(30)


def test_without_the_server_libraries_the_command_names_the_extra(monkeypatch, capsys):
    import builtins

    real = builtins.__import__

    def no_starlette(name, *args, **kwargs):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_starlette)
    assert main(["studio"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'ganforge studio: error: the studio needs Starlette and uvicorn: pip install "ganforge[studio]"'


def test_ganforge_studio_is_callable_and_a_taken_port_is_one_line(runs):
    import socket

    import ganforge

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with pytest.raises(UserError, match="cannot serve on 127.0.0.1:") as e:
            # the package serves when called, as ganforge.api.studio does
            ganforge.studio([runs("gan")], port=taken.getsockname()[1], device="cpu")
        assert "--port" in str(e.value) and "\n" not in str(e.value)
    finally:
        taken.close()
