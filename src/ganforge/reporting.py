"""`ganforge report RUN`: one self-contained HTML page for a run folder.

The page needs no network and no other file: every picture is inlined as a data: URI, the CSS and the few
lines of JS (the slider through the sample frames) are in the page. It shows what the run folder holds and
skips what it does not: what the run trained and did, read from its own files (run_description; the preset's
description only where the run is that preset), the config, the training curves, the sample frames over
training (samples/) beside the real images, eval.json's values and protocol, the last evaluation during
training (metrics.jsonl), the nearest-neighbour panel and any other figure, and summary.json.
"""

from __future__ import annotations

import base64
import html
import json
import math
from datetime import datetime
from pathlib import Path

from ganforge import pretrained
from ganforge.errors import UserError
from ganforge.files import write_text_atomic
from ganforge.run_description import describe_run
from ganforge.runs import require_run
from ganforge.version import __version__

MAX_FRAMES = 100  # slider positions kept (evenly spaced, first and last included): the page stays a few MB
# pictures in the run folder that have their own place on the page, or repeat the frames under the slider
# (samples.png is the last frame, progress.png a strip of frames); any other PNG goes under "Other figures"
NOT_OTHER_FIGURES = {"curves.png", "reals.png", "nearest.png", "samples.png", "progress.png"}
MAIN_SERIES = "step"  # samples/step_NNNNNN.png (training/samples.py); a family adds e.g. recon_NNNNNN.png
SERIES_TITLES = {"recon": "Reconstructions", "codes": "Code space"}

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 1.5em;color:#222}
h1{margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#666;margin:.2em 0 1em}
.row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
figure{margin:0}figcaption{color:#555;font-size:.9em;margin-top:.3em}
img{max-width:100%;border:1px solid #eee}img.px{image-rendering:pixelated}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:13px}
.slider{display:flex;align-items:center;gap:1em;margin:.5em 0}.slider input{flex:1;max-width:500px}
.note{color:#777;font-size:.9em}
"""

# shows, for the slider's step, each series' latest frame at or before that step
SLIDER_JS = """
const data = JSON.parse(document.getElementById('frames').textContent);
const slider = document.getElementById('step');
function show() {
  const step = data.steps[Number(slider.value)];
  document.getElementById('step-label').textContent = 'step ' + step;
  for (const s of data.series) {
    let i = s.steps.length - 1;
    while (i >= 0 && s.steps[i] > step) i--;
    const img = document.getElementById('frame-' + s.index);
    img.style.visibility = i < 0 ? 'hidden' : 'visible';
    if (i >= 0) {
      img.src = s.frames[i];
      document.getElementById('caption-' + s.index).textContent = s.title + ', step ' + s.steps[i];
    }
  }
}
slider.addEventListener('input', show);
"""


def write_report(run_dir: str | Path, out: str | Path | None = None, force: bool = False) -> Path:
    """Write the run's HTML page to `out` (default RUN_DIR/report.html) and return its path."""
    pretrained.not_shipped(run_dir, "a report of training curves, samples over training and checkpoints")
    run = Path(run_dir)
    if not run.exists():
        raise UserError(f"{run} does not exist; give a run folder made by `ganforge train`")
    run = require_run(run)
    out = Path(out) if out is not None else run / "report.html"
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / 'report.html'}")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it")
    return write_text_atomic(out, render(run))


# -- the page ------------------------------------------------------------------------------------------------


def render(run: Path) -> str:
    """The page for run folder `run`, as one string."""
    config_text = (run / "config.yaml").read_text()
    name = run.resolve().name
    body = [f"<h1>{_e(name)}</h1>", _subtitle(run)]
    body += _origin((_read_json(run / "run.json") or {}).get("init"))
    body += _summary(_read_json(run / "summary.json"))
    series = _frame_series(run / "samples")
    data = (_read_json(run / "run.json") or {}).get("data")
    body += _frames(series, run / "reals.png", _main_title(data if isinstance(data, dict) else {}))
    if (run / "curves.png").is_file():
        body += ["<h2>Training curves</h2>", _figure(run / "curves.png", "curves.png")]
    body += _evaluation(_read_json(run / "eval.json"))
    body += _last_eval(run / "metrics.jsonl")
    if (run / "nearest.png").is_file():
        body += ["<h2>Nearest training images</h2>",
                 _figure(run / "nearest.png", "nearest.png: each sample, its nearest training image in pixel "
                                              "space and (when shown) in feature space", pixels=True)]
    # anything else a command drew into the run folder (a family's latest picture repeats its series)
    others = [p for p in sorted(run.glob("[!.]*.png"))  # not the .tmp-* file of a write killed midway
              if p.name not in NOT_OTHER_FIGURES and p.stem not in series]
    if others:
        body += ["<h2>Other figures</h2>", '<div class="row">', *(_figure(p, p.name) for p in others), "</div>"]
    body += ["<h2>Config</h2>", "<details><summary>config.yaml (resolved)</summary>",
             f"<pre>{_e(config_text)}</pre></details>",
             (f'<p class="note">ganforge {_e(__version__)} report of {_e(str(run.resolve()))}, '
              f"{datetime.now().isoformat(timespec='seconds')}</p>")]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(name)} - ganforge report</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _subtitle(run: Path) -> str:
    """What the run trained and did, from its own files (run_description), under the run's name."""
    return f'<p class="sub">{"<br>".join(map(_e, describe_run(run)))}</p>'


def _origin(init) -> list[str]:
    """A fine-tuned run (train.init): the run and checkpoint its networks started from (run.json)."""
    if not isinstance(init, dict) or "run" not in init:
        return []
    average = ", G's average from its average" if init.get("averaged") else ""
    where = f'{_e(str(init["run"]))} at step {_e(_fmt(init.get("step")))} ({_e(str(init.get("checkpoint", "")))})'
    return [f'<p class="sub">fine-tuned: every network started from {where}{average}; optimisers fresh</p>']


def _summary(summary: dict | None) -> list[str]:
    if not summary:
        return []
    rows = [(label, summary[key]) for key, label in (("steps", "steps"), ("images_seen", "images seen"),
                                                    ("seconds", "seconds"), ("images_per_s", "images/s"))
            if key in summary]
    best = summary.get("best")
    if isinstance(best, dict):
        rows.append(("best", ", ".join(f"{k} {_fmt(v)}" for k, v in best.items())))
    out = ["<h2>Training</h2>", _table(rows)]
    final = summary.get("final")
    if isinstance(final, dict) and final:
        out += ["<details><summary>last logged values</summary>", _table(list(final.items())), "</details>"]
    return out


def _frame_series(samples: Path) -> dict[str, dict[int, Path]]:
    """The frames in samples/ by series and step: step_000500.png, a family's recon_000500.png; a bare
    000500.png counts as a sample frame."""
    series: dict[str, dict[int, Path]] = {}
    # not hidden names: a write killed midway leaves its .tmp-* file (ganforge.files)
    for path in samples.glob("[!.]*.png") if samples.is_dir() else ():
        name, _, step = path.stem.rpartition("_")
        if step.isdigit():
            series.setdefault(name or MAIN_SERIES, {})[int(step)] = path
    return series


def _main_title(data: dict) -> str:
    """What the frames of samples/step_*.png show: samples of fixed noise, or the outputs for fixed held-out
    inputs where the run translates images or continues clips (run.json's data description)."""
    held_out = data.get("input_shape") or data.get("kind") == "video"
    return "Outputs for fixed inputs" if held_out else "Samples (fixed noise)"


def _frames(series: dict[str, dict[int, Path]], reals: Path, main_title: str) -> list[str]:
    """The slider through the sample frames, one picture per series, and the real images beside them."""
    reals_figure = _figure(reals, "real training images", pixels=True) if reals.is_file() else None
    if not series:
        return ["<h2>Real images</h2>", reals_figure] if reals_figure else []
    steps = _spread(sorted({s for frames in series.values() for s in frames}), MAX_FRAMES)
    kept = set(steps)
    data = {"steps": steps, "series": []}
    panels = []
    for index, name in enumerate(sorted(series, key=lambda n: (n != MAIN_SERIES, n))):
        frames = {s: p for s, p in sorted(series[name].items()) if s in kept}
        if not frames:
            continue
        title = main_title if name == MAIN_SERIES else SERIES_TITLES.get(name, name)
        uris = [_data_uri(p) for p in frames.values()]
        data["series"].append({"index": index, "title": title, "steps": list(frames), "frames": uris})
        last = list(frames)[-1]
        panels.append(f'<figure><img id="frame-{index}" src="{uris[-1]}" alt="{_e(title)}">'
                      f'<figcaption id="caption-{index}">{_e(title)}, step {last}</figcaption></figure>')
    dropped = sum(len(f) for f in series.values()) - sum(len(s["steps"]) for s in data["series"])
    out = ["<h2>Samples over training</h2>"]
    if len(steps) > 1:
        out.append(f'<div class="slider"><input type="range" id="step" min="0" max="{len(steps) - 1}" '
                   f'value="{len(steps) - 1}" step="1" aria-label="training step">'
                   f'<output id="step-label" for="step">step {steps[-1]}</output></div>')
    else:
        out.append(f'<p class="note">step {steps[0]}</p>')
    if dropped:
        out.append(f'<p class="note">{len(steps)} of the run\'s frames, evenly spaced ({dropped} left out)</p>')
    out += ['<div class="row">', *panels]
    if reals_figure:
        out.append(reals_figure)
    out.append("</div>")
    if len(steps) > 1:
        # every "<" escaped (still valid JSON) so nothing in it can end the script element early
        frames_json = json.dumps(data).replace("<", "\\u003c")
        out += [f'<script type="application/json" id="frames">{frames_json}</script>',
                f"<script>{SLIDER_JS}</script>"]
    return out


def _evaluation(result: dict | None) -> list[str]:
    """eval.json: each evaluation's values beside the protocol they were measured under (an eval.json of
    several `ganforge eval` calls lists them in "evaluations"), whatever the keys are."""
    if not result or not isinstance(result.get("values"), dict):
        return []
    entries = result.get("evaluations")
    if not isinstance(entries, list) or not entries:
        entries = [result]
    out = ["<h2>Evaluation</h2>"]
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            continue
        when = f" ({_e(str(entry['time']))})" if entry.get("time") else ""
        out += [f"<p class=\"note\">eval.json{when}</p>", '<div class="row">',
                _table(list(entry["values"].items()), ("metric", "value"))]
        if isinstance(entry.get("protocol"), dict):
            out.append(_table(list(entry["protocol"].items()), ("protocol", ""), right=False))
        out.append("</div>")
    return out


def _last_eval(path: Path) -> list[str]:
    """The last evaluation during training (eval.every): the last metrics.jsonl record with eval_ keys."""
    if not path.is_file():
        return []
    last = None
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: the page shows what can be read
        if isinstance(record, dict) and any(k.startswith("eval_") for k in record):
            last = record
    if last is None:
        return []
    rows = [(k.removeprefix("eval_"), v) for k, v in last.items() if k.startswith("eval_")]
    step = _fmt(last.get("step"))
    return ["<h2>Last evaluation during training</h2>", f'<p class="note">metrics.jsonl, step {step}</p>',
            _table(rows, ("metric", "value"))]


# -- helpers -------------------------------------------------------------------------------------------------


def _spread(steps: list[int], limit: int) -> list[int]:
    """At most `limit` of `steps`, evenly spaced, the first and the last kept."""
    if len(steps) <= limit:
        return steps
    return [steps[round(i * (len(steps) - 1) / (limit - 1))] for i in range(limit)]


def _fmt(value) -> str:
    """Integers as integers, floats to 4 significant digits, anything else as its JSON or text."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _table(rows: list[tuple], header: tuple[str, str] | None = None, right: bool = True) -> str:
    """Two columns, key and value; numbers right-aligned unless `right` is off (a column of mixed text)."""
    head = f"<tr><th>{_e(header[0])}</th><th>{_e(header[1])}</th></tr>" if header else ""
    cells = "".join(
        f'<tr><td>{_e(str(k))}</td><td{" class=num" if right and isinstance(v, (int, float)) else ""}>'
        f"{_cell(v)}</td></tr>" for k, v in rows)
    return f"<table>{head}{cells}</table>"


def _cell(value) -> str:
    """A value as a table shows it: a list of sentences (eval's protocol warnings) one to a line."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "<br>".join(map(_e, value))
    return _e(_fmt(value))


def _figure(path: Path, caption: str, pixels: bool = False) -> str:
    """An inlined picture; `pixels`: a grid of small images, drawn scaled without smoothing."""
    css = ' class="px"' if pixels else ""
    return (f'<figure><img{css} src="{_data_uri(path)}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _read_json(path: Path) -> dict | None:
    """A JSON object from `path`, or None where it is absent or unreadable (the page leaves it out)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _e(text: str) -> str:
    return html.escape(text, quote=True)
