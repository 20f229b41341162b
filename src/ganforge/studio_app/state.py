"""What a studio server holds: the runs it was given (each one's Generator, or the one line saying why it could
not be read), what views build on (a run's directions, projected codes), the pictures it has shown (so a save
writes exactly what the page shows), and the one worker thread every torch call runs on, so that requests of
several clients never interleave inside a network and a request superseded by a newer one of the same view is
dropped before it is drawn.

Nothing here takes a path from a client: a run is an index into the list given, a picture or a code a token
this server made, and files are written under the run folder's studio/ only, under names the server picks.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ganforge.errors import UserError
from ganforge.studio_app.views import Directions, Picture

KEPT_PICTURES = 256  # pictures shown, kept for saving (the oldest are dropped)
KEPT_CODES = 64  # projected codes kept for editing
KEPT_STREAMS = 4096  # views whose latest request id is remembered
CURVE_POINTS = 400  # points per curve sent to the page (evenly spaced, the last kept)


class Superseded(Exception):
    """A request of a view that a newer request of the same view has replaced before it was drawn."""


class Refused(Exception):
    """A request refused with an HTTP status and one line for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Lru(OrderedDict):
    """A dict that forgets its oldest entries past `size`."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class StudioRun:
    """One run given to the studio: how the user named it, its folder, its Generator or why it could not be read."""

    def __init__(self, index: int, source: str | os.PathLike, device: str = "auto"):
        self.index, self.source = index, str(source)
        self.g = None
        self.folder: Path | None = None
        self.error: str | None = None
        self.directions: dict[str, Directions] = {}
        self.device = device
        self.load()

    def load(self) -> None:
        """(Re)load the latest checkpoint: a run still training gets its newest weights."""
        from ganforge import pretrained
        from ganforge.runs import load_generator

        folder = Path(self.source)  # a folder still without a checkpoint shows its curves all the same
        self.folder = folder if not pretrained.is_name(self.source) and folder.is_dir() else None
        try:
            self.g = load_generator(self.source, device=self.device)
            self.folder, self.error = self.g.run_dir, None
        except UserError as e:
            self.g, self.error = None, str(e)
        except Exception as e:  # noqa: BLE001 - any run that cannot be read is shown as a line, not a crash
            self.g, self.error = None, f"cannot be read: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
        self.directions = {}

    @property
    def name(self) -> str:
        return self.source if self.source.startswith("pretrained:") else Path(self.source).name or self.source

    def generator(self):
        if self.g is None:
            raise Refused(409, self.error)  # the error names the run
        return self.g

    def directions_in(self, space: str = "z") -> Directions:
        if space not in self.directions:
            self.directions[space] = Directions(self.generator(), self.folder, space)
        return self.directions[space]

    def describe(self) -> dict:
        """What the page needs to lay out this run's controls: its abilities, classes, ranges."""
        from ganforge.generator import abilities
        from ganforge.studio_app.views import takes_noise

        about: dict[str, Any] = {"index": self.index, "name": self.name, "source": self.source, "error": self.error}
        if self.g is None:
            return about
        g = self.g
        can = abilities(g)
        image = g.data.get("kind") in ("image", "video")  # what a picture shows: images, or a clip's frames
        samples = bool(g.spec.is_image) and "SamplesCodes" in can
        psi = {"gaussian": {"min": 0.1, "max": 3.0, "step": 0.05, "value": 1.0},
               "w": {"min": 0.0, "max": 1.0, "step": 0.05, "value": 0.7}}.get(g.latent) if samples else None
        conditional = g.conditional and not g.attributes
        about.update(
            family=g.name, step=g.step, abilities=can, image=image, samples=samples, psi=psi,
            data=g.data.get("name"), shape=list(g.spec.shape),
            classes=[str(c) for c in (g.spec.class_names or range(g.spec.n_cond))] if conditional else None,
            attributes=g.attributes, caption="TakesText" in can, noise=samples and takes_noise(g),
            mix=list(g.style_ranges()) if "MixesStyles" in can else None,
            directions=Directions.names(g, self.folder) if samples else [],
            translate=list(g.directions) if "Translates" in can else None,
            project=samples and "Projects" in can, predict=g.context if "PredictsFrames" in can else None,
            saves_to=str(self.save_folder()) if self.folder else None)
        return about

    def save_folder(self) -> Path:
        return self.folder / "studio"

    def save(self, picture: Picture) -> Path:
        """Write `picture` into the run folder's studio/ under a name no file has yet (never replacing one)."""
        from ganforge import runs

        if self.folder is None:
            raise Refused(409, f"{self.source} has no run folder to save into")
        folder = runs.require_run(self.source) / "studio"  # a shipped generator's run folder is made here
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(1, 10_000):
            path = folder / f"{picture.name}{'' if k == 1 else f'_{k}'}.{picture.kind}"
            try:
                with open(path, "xb") as f:  # exclusive: fails where the name is taken, even by a racing save
                    f.write(picture.data)
                return path
            except FileExistsError:
                continue
        raise Refused(409, f"{folder}: no free name for {picture.name}")


class Studio:
    """The runs, the worker thread and what the views have shown."""

    def __init__(self, sources: list, device: str = "auto"):
        self.runs = [StudioRun(i, s, device) for i, s in enumerate(sources)]
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-studio")
        self.pictures: Lru = Lru(KEPT_PICTURES)  # token -> (run index, Picture)
        self.codes: Lru = Lru(KEPT_CODES)  # token -> (run index, projection's extra)
        self.latest: Lru = Lru(KEPT_STREAMS)  # a page's view (its stream id) -> the newest request id seen
        self.lock = threading.Lock()

    def run(self, index: int) -> StudioRun:
        if not 0 <= index < len(self.runs):
            raise Refused(404, f"no run {index}: this studio shows runs 0 to {len(self.runs) - 1}")
        return self.runs[index]

    async def work(self, job: Callable[[], Any], stream: str | None = None, rid: int = 0) -> Any:
        """`job()` on the worker thread. With a `stream` (one view of one page) and its request id, a request
        that a newer one of the same stream has replaced by the time the worker reaches it is not drawn."""
        if stream is not None:
            with self.lock:
                self.latest[stream] = max(rid, self.latest.get(stream, rid))

        def guarded():
            if stream is not None:
                with self.lock:
                    if self.latest.get(stream, rid) > rid:
                        raise Superseded
            return job()

        return await asyncio.wrap_future(self.worker.submit(guarded))

    def keep(self, run: StudioRun, picture: Picture) -> str:
        token = secrets.token_hex(8)
        self.pictures[token] = (run.index, picture)
        if "codes" in picture.extra:
            self.codes[token] = (run.index, picture.extra)
        return token

    def kept(self, store: Lru, run: StudioRun, token: str, what: str):
        found = store.get(token)
        if found is None or found[0] != run.index:
            raise Refused(410, f"this {what} is no longer held by the studio; draw it again")
        return found[1]

    def close(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)


# -- curves and metrics --------------------------------------------------------------------------------------


def curves(folder: Path | None) -> dict:
    """What the report shows of training, read now (the run may still be training): each logged value of
    metrics.jsonl against the step (at most CURVE_POINTS each), eval.json's values and protocol, summary.json."""
    out: dict[str, Any] = {"series": {}, "eval": None, "summary": None, "step": None}
    if folder is None:
        return out
    records = []
    path = folder / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written, or cut short by a crash
            if isinstance(record, dict) and isinstance(record.get("step"), (int, float)):
                records.append(record)
    series: dict[str, list] = {}
    for record in records:
        for key, value in record.items():
            if key not in ("step", "images") and isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(key, []).append([record["step"], value])  # NaN: null in the answer
    out["series"] = {k: thin(v, CURVE_POINTS) for k, v in series.items()}
    out["step"] = records[-1]["step"] if records else None
    for name in ("eval", "summary"):
        try:
            data = json.loads((folder / f"{name}.json").read_text())
            out[name] = data if isinstance(data, dict) else None
        except (OSError, ValueError):
            pass
    return out


def thin(points: list, limit: int) -> list:
    """At most `limit` of `points`, evenly spaced, the first and the last kept."""
    if len(points) <= limit:
        return points
    return [points[round(i * (len(points) - 1) / (limit - 1))] for i in range(limit)]
