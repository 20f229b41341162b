"""The walk-through of docs/studio.md: `ganforge studio` in headless chromium over the DevTools protocol (the
browser tests' driver, tests/devtools.py), moved as a user would and photographed at each stop.

    python bench/studio_shots.py pretrained:fashion runs/stylegan runs/aae [--out docs/images]

The first run should be a Fashion-MNIST generator with class directions (a run of the default recipe, or the
shipped one), the second a StyleGAN run; writes studio-overview.png, studio-interpolation-direction.png,
studio-projection-edit.png and studio-mix-curves.png. Nothing is saved into the runs (no save button is pressed)."""

import base64
import io
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from PIL import Image

import devtools
from ganforge.data import load_dataset
from ganforge.studio_app import running

OUT = Path("docs/images")
WIDTH, HEIGHT = 1400, 1000


def settle(tab):
    devtools.settle(tab, timeout=300, rest=0.3)


def move(tab, selector, value):
    devtools.move(tab, selector, value, timeout=300, rest=0.3)


def shot(tab, name, selectors=None, pad=8):
    """A screenshot of the viewport, or of the box around the elements `selectors` name."""
    params = {"format": "png", "captureBeyondViewport": bool(selectors)}
    if selectors:
        box = tab.evaluate(f"""(() => {{
            const rects = {json.dumps(selectors)}.map((s) => document.querySelector(s).getBoundingClientRect());
            const x = Math.min(...rects.map((r) => r.left)), y = Math.min(...rects.map((r) => r.top));
            const r = Math.max(...rects.map((r) => r.right)), b = Math.max(...rects.map((r) => r.bottom));
            return [x + window.scrollX, y + window.scrollY, r - x, b - y]; }})()""")
        params["clip"] = {"x": box[0] - pad, "y": box[1] - pad, "width": box[2] + 2 * pad, "height": box[3] + 2 * pad,
                          "scale": 1}
    data = base64.b64decode(tab.call("Page.captureScreenshot", **params)["data"])
    (OUT / name).write_bytes(data)
    print(f"wrote {OUT / name} {Image.open(io.BytesIO(data)).size}")


def main(runs):
    profile = Path(tempfile.mkdtemp(prefix="studio-shots-"))  # a fresh profile: no stale DevToolsActivePort
    with devtools.started(devtools.chromium(), profile, WIDTH, HEIGHT) as (port, why):
        assert port, why
        with running(runs) as url:
            tab = devtools.open_page(port, url)
            tab.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                     mobile=False)
            settle(tab)
            for i in range(len(runs)):
                move(tab, f"#run-{i} .view-sample input[data-name=seed]", 7)
            move(tab, "#run-0 .view-sample input[data-name=psi]", 1.2)
            shot(tab, "studio-overview.png")
            # interpolation and a class direction on the first run
            move(tab, "#run-0 .view-interpolate input[data-name='seed b']", 42)
            move(tab, "#run-0 .view-interpolate input[data-name=t]", 0.4)
            move(tab, "#run-0 .view-attribute select[data-name=towards]", "Trouser")
            move(tab, "#run-0 .view-attribute input[data-name=strength]", 1.5)
            shot(tab, "studio-interpolation-direction.png", ["#run-0 .view-interpolate", "#run-0 .view-attribute"])
            # a Fashion-MNIST image of the embedded 10k projected, then edited towards another class
            data = load_dataset("fashion-mnist-10k")
            test = data.x[int((data.y == 1).nonzero()[5])][0].numpy()  # a pair of trousers
            buffer = io.BytesIO()
            Image.fromarray(test).resize((112, 112), Image.Resampling.LANCZOS).save(buffer, format="PNG")
            devtools.drop(tab, "#run-0 .view-project .drop", buffer.getvalue(), "trousers.png", timeout=300, rest=0.3)
            move(tab, "#run-0 .view-edit select[data-name=towards]", "Dress")
            move(tab, "#run-0 .view-edit input[data-name=strength]", 0.8)
            shot(tab, "studio-projection-edit.png", ["#run-0 .view-project", "#run-0 .view-edit"])
            if len(runs) > 1:
                mix = tab.evaluate("!!document.querySelector('#run-1 .view-mix')")
                if mix:
                    move(tab, "#run-1 .view-mix input[data-name='styles of']", 11)
                shot(tab, "studio-mix-curves.png", [*(["#run-1 .view-mix"] if mix else []), "#run-1 .curves"])
            print("console errors:", tab.errors())
            tab.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" in args:
        i = args.index("--out")
        OUT = Path(args[i + 1])
        del args[i:i + 2]
    main(args)
