"""The studio's web app (Starlette): the page and its three files, and a JSON API over the views.

    GET  /                                the page (static/index.html, studio.js, studio.css)
    GET  /api/runs                        each run: its abilities and controls, or its one-line error
    GET  /api/run/{i}/view/{name}?...     a view (sample, grid, interpolate, interpolation_gif, mix, attribute, edit)
    POST /api/run/{i}/upload/{name}?...   an image or clip as the raw request body (translate, project, predict)
    POST /api/run/{i}/save?token=T        writes a picture the page was shown into RUN/studio/; says where
    POST /api/run/{i}/reload              loads the run's newest checkpoint
    GET  /api/run/{i}/curves              metrics.jsonl, eval.json and summary.json as the page plots them

A view's answer is {"image": data URI, "command", "python", "note", "token"}; every refusal is a 4xx with
{"error": one line}, and the server keeps serving. Requests carry `stream` (one view of one page) and `rid`
(increasing): a request replaced by a newer one of its stream before the worker reaches it gets 204 and is
never drawn (state.Studio.work).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import math
import traceback
import warnings
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ganforge.errors import UserError
from ganforge.studio_app import views
from ganforge.studio_app.state import Refused, Studio, StudioRun, Superseded, curves

STATIC = Path(__file__).parent / "static"
FILES = {"index.html": "text/html; charset=utf-8", "studio.js": "text/javascript; charset=utf-8",
         "studio.css": "text/css; charset=utf-8"}
MAX_UPLOAD = 8 * 2**20  # bytes of an uploaded file
MAX_PIXELS = 4096 * 4096  # an uploaded image's size; larger ones go through `ganforge translate`
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# the page loads nothing from anywhere else, and nothing else may frame it
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
               "connect-src 'self'; frame-ancestors 'none'")
log = logging.getLogger("ganforge.studio_app")


def create_app(sources: list, host: str = "127.0.0.1", device: str = "auto") -> Starlette:
    """The app serving `sources` (run folders or "pretrained:NAME"), bound to `host`."""
    studio = Studio(sources, device)
    routes = [Route("/", partial(page, "index.html")),
              Route("/static/{name}", static),
              Route("/api/runs", answer(lambda request: {"runs": [r.describe() for r in studio.runs]})),
              Route("/api/run/{index:int}/view/{name}", answer(partial(view, studio))),
              Route("/api/run/{index:int}/upload/{name}", answer(partial(upload, studio)), methods=["POST"]),
              Route("/api/run/{index:int}/save", answer(partial(save, studio)), methods=["POST"]),
              Route("/api/run/{index:int}/reload", answer(partial(reload, studio)), methods=["POST"]),
              Route("/api/run/{index:int}/curves", answer(partial(run_curves, studio)))]
    # a page of another site cannot reach the studio through a name that resolves to this machine
    hosts = list(LOOPBACK) if host in LOOPBACK else ["*"]
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
                    lifespan=partial(lifespan, studio))
    app.state.studio = studio
    return app


@contextlib.asynccontextmanager
async def lifespan(studio: Studio, app: Starlette):
    yield
    studio.close()


# -- answers -----------------------------------------------------------------------------------------------------


def reply(data, status: int = 200) -> Response:
    """JSON without NaN or infinities (which JSON.parse refuses): those become null."""
    return Response(json.dumps(finite(data)), status, media_type="application/json",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def finite(data):
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def answer(handler):
    """An endpoint whose handler returns JSON-able data; every error it raises becomes a JSON {"error": ...}."""
    async def endpoint(request: Request) -> Response:
        try:
            if request.method == "POST":
                same_origin(request)
            data = handler(request)
            return reply(await data if hasattr(data, "__await__") else data)
        except Superseded:
            return Response(status_code=204, headers={"X-Superseded": "1", "Cache-Control": "no-store"})
        except Refused as e:
            return reply({"error": str(e)}, e.status)
        except UserError as e:
            return reply({"error": str(e)}, 400)
        except Exception as e:  # noqa: BLE001 - a bug in one view must not take the server down
            log.error("studio: %s", traceback.format_exc())
            return reply({"error": f"internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]}"}, 500)
    return endpoint


def same_origin(request: Request) -> None:
    """A POST from a page of another origin (a site the user visits, posting to localhost) is refused."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Refused(403, f"requests from {origin} are not served; open the studio's own page")


async def page(name: str, request: Request) -> Response:
    return await static_file(name)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FILES:  # the three files by name: nothing else under the package is served
        return reply({"error": f"no file {name}"}, 404)
    return await static_file(name)


async def static_file(name: str) -> Response:
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    if name == "index.html":
        headers["Content-Security-Policy"] = PAGE_POLICY
    return Response((STATIC / name).read_bytes(), media_type=FILES[name], headers=headers)


def shown(studio: Studio, run: StudioRun, picture: views.Picture) -> dict:
    mime = "image/gif" if picture.kind == "gif" else "image/png"
    out = {"image": f"data:{mime};base64,{base64.b64encode(picture.data).decode('ascii')}", "kind": picture.kind,
           "command": picture.command, "python": picture.python, "note": picture.note,
           "token": studio.keep(run, picture)}
    if "codes" in picture.extra:
        out["code"] = out["token"]  # the projected code, for edits
    return out


# -- parameters -------------------------------------------------------------------------------------------------


class Query:
    """A request's query parameters, each checked and converted; a bad one is a 400 naming it."""

    def __init__(self, params):
        self.params = params

    def _converted(self, name: str, convert, what: str):
        """The parameter through `convert`, or None where it is not given; one that does not convert is a 400."""
        text = self.params.get(name)
        if text in (None, ""):
            return None
        try:
            return convert(text)
        except ValueError:
            raise Refused(400, f"{name}={text[:40]!r}: give {what}") from None

    def integer(self, name: str, default: int | None = None, low: int = 0, high: int = 2**31 - 1) -> int | None:
        value = self._converted(name, int, "a whole number")
        if value is None:
            return default
        if not low <= value <= high:
            raise Refused(400, f"{name}={value}: give a number from {low} to {high}")
        return value

    def number(self, name: str, default: float | None = None, low: float = -1e6, high: float = 1e6) -> float | None:
        value = self._converted(name, float, "a number")
        if value is None:
            return default
        if not (math.isfinite(value) and low <= value <= high):
            raise Refused(400, f"{name}={self.params[name][:40]}: give a number from {low:g} to {high:g}")
        return value

    def text(self, name: str, default: str | None = None, limit: int = 200) -> str | None:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        if len(value) > limit:
            raise Refused(400, f"{name}: at most {limit} characters")
        return value

    def file_name(self) -> str:
        """The uploaded file's name, for the command lines only (it is never opened)."""
        return Path(self.text("name", "image.png", 120)).name or "image.png"


# -- views --------------------------------------------------------------------------------------------------------


def samples_of(q: Query) -> dict:
    return {"psi": q.number("psi", None, 0.0, 10.0), "condition": q.text("class"), "caption": q.text("caption")}


VIEWS = {  # name -> the view drawn from the run and its query
    "sample": lambda run, q: views.sample(run.generator(), run.source, q.integer("seed", 0), **samples_of(q),
                                          noise=q.integer("noise")),
    "grid": lambda run, q: views.grid(run.generator(), run.source, q.integer("seed", 0), **samples_of(q),
                                      n=q.integer("n", None, 1, 256)),
    "interpolate": lambda run, q: views.interpolate(run.generator(), run.source, q.integer("a", 0), q.integer("b", 1),
                                                    q.number("t", 0.5, 0.0, 1.0), q.text("slerp") == "1"),
    "interpolation_gif": lambda run, q: views.interpolation_gif(
        run.generator(), run.source, q.integer("a", 0), q.integer("b", 1), q.integer("steps", 24, 2, 60),
        q.text("slerp") == "1"),
    "mix": lambda run, q: views.mix(run.generator(), run.source, q.integer("row", 0), q.integer("column", 1)),
    "attribute": lambda run, q: views.attribute(run.generator(), run.source, run.directions_in(),
                                                q.integer("seed", 0), required(q, "attr"),
                                                q.number("strength", 1.0, -10.0, 10.0)),
}


def required(q: Query, name: str) -> str:
    value = q.text(name)
    if value is None:
        raise Refused(400, f"give {name}")
    return value


async def view(studio: Studio, request: Request) -> dict:
    run = studio.run(request.path_params["index"])
    name = request.path_params["name"]
    q = Query(request.query_params)
    if name == "edit":
        return await edit(studio, run, q)
    if name not in VIEWS:
        raise Refused(404, f"no view {name}; views: {', '.join([*VIEWS, 'edit'])}")
    stream, rid = q.text("stream", limit=100), q.integer("rid", 0, 0, 2**53)
    return await studio.work(lambda: shown(studio, run, VIEWS[name](run, q)), stream, rid)


async def edit(studio: Studio, run: StudioRun, q: Query) -> dict:
    """A projected code (a token of the projection's answer) moved along a direction, or drawn as a class."""
    found = studio.kept(studio.codes, run, required(q, "code"), "projected code")
    condition, attr = q.text("class"), q.text("attr")

    def draw():
        directions = run.directions_in(found["space"]) if attr is not None else None
        return shown(studio, run, views.edit(run.generator(), run.source, found["codes"], found["stem"], directions,
                                             attr, q.number("strength", 0.0, -10.0, 10.0), condition))
    return await studio.work(draw, q.text("stream", limit=100), q.integer("rid", 0, 0, 2**53))


# -- uploads ------------------------------------------------------------------------------------------------------


async def upload(studio: Studio, request: Request) -> dict:
    run = studio.run(request.path_params["index"])
    name = request.path_params["name"]
    q = Query(request.query_params)
    if name not in ("translate", "project", "predict"):
        raise Refused(404, f"no upload {name}; uploads: translate, project, predict")
    data = await body(request)

    def draw():
        g, file = run.generator(), q.file_name()
        if name == "translate":
            direction = q.text("direction", "AB", 2)
            views.require(g, views.Translates, "translation maps an image of one domain to another",
                          "use a pix2pix, cyclegan or srgan run")
            picture = decode_image(data, g.input_channels(direction) if direction in g.directions else 1)
            return shown(studio, run, views.translate(g, run.source, picture, direction, file))
        if name == "project":
            from ganforge.projection import check_space

            check_space(g, None)
            channels, height, width = g.spec.shape
            picture = decode_image(data, channels, (width, height))  # centre-cropped to the run's aspect, resized
            return shown(studio, run, views.project(g, run.source, picture, q.integer("steps", 100, 0, 1000), file))
        return shown(studio, run, views.predict(g, run.source, uploaded_clip(data), q.integer("frames", 10, 1, 60),
                                                file))
    return await studio.work(draw)


async def body(request: Request, limit: int = MAX_UPLOAD) -> bytes:
    """The raw request body, refused past `limit` bytes: by its declared length before reading, else while
    it streams in."""
    declared = request.headers.get("content-length")
    too_large = Refused(413, f"the file is larger than the studio takes ({limit // 2**20} MB)")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large
    if not data:
        raise Refused(400, "the request holds no file: send the image's bytes as the request body")
    return bytes(data)


def checked_size(data: bytes) -> None:
    """Refuse, from the header alone, what is not an image or is too large to decode (the readers' own check on
    Pillow's decompression-bomb limit, then the studio's smaller one)."""
    from PIL import Image

    from ganforge.data.folder import bad_file_reason

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # as data.folder reads images
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                width, height = img.size
    except Exception as e:  # noqa: BLE001 - Pillow's plugins raise many types on malformed files
        bomb = "too large" in bad_file_reason(e)
        raise Refused(413 if bomb else 422, f"the file sent: {bad_file_reason(e)}") from None
    if width * height > MAX_PIXELS:
        raise Refused(413, f"the image is {width}x{height}, more than the studio takes ({MAX_PIXELS:,} pixels); "
                           "`ganforge translate` and `ganforge project` read it from a file")


def decode_image(data: bytes, channels: int, size: tuple[int, int] | None = None):
    """uint8 C x H x W of an uploaded image, through the dataset readers' decoder (data.folder.decode_image:
    decompression-bomb limit kept, truncated files refused, EXIF rotation and transparency handled)."""
    import numpy as np
    import torch

    from ganforge.data.folder import bad_file_reason
    from ganforge.data.folder import decode_image as decode

    checked_size(data)
    try:
        a = decode(io.BytesIO(data), channels, size)
    except Exception as e:  # noqa: BLE001 - as checked_size
        raise Refused(422, f"the file sent: {bad_file_reason(e)}") from None
    return torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1)


def uploaded_clip(data: bytes):
    """uint8 T x H x W gray frames of an uploaded GIF (or a single image), as `ganforge predict` reads a file."""
    import numpy as np
    import torch

    from ganforge.data.folder import bad_file_reason
    from ganforge.predicting import decode_frames

    checked_size(data)
    try:
        frames = decode_frames(io.BytesIO(data), every=True)
    except Exception as e:  # noqa: BLE001 - as checked_size
        raise Refused(422, f"the file sent: {bad_file_reason(e)}") from None
    return torch.from_numpy(np.stack(frames))


# -- saving, reloading, curves ------------------------------------------------------------------------------------


async def save(studio: Studio, request: Request) -> dict:
    run = studio.run(request.path_params["index"])
    picture = studio.kept(studio.pictures, run, required(Query(request.query_params), "token"), "picture")
    path = await studio.work(lambda: run.save(picture))
    return {"path": str(path), "command": picture.command}


async def reload(studio: Studio, request: Request) -> dict:
    run = studio.run(request.path_params["index"])
    await studio.work(run.load)
    return run.describe()


async def run_curves(studio: Studio, request: Request) -> dict:
    run = studio.run(request.path_params["index"])
    return await run_in_threadpool(curves, run.folder)  # files only: never waits behind the worker
