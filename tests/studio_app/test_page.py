"""The studio's page in a real headless chromium (tests/devtools.py), against a live server: it loads with no
console errors, its sliders and class select redraw the sample the generator draws for their values, a slider
dragged fast never has more than one request of its view in flight, a dropped image comes back translated, and
a screenshot shows a page."""

import base64
import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from devtools import drop, move, open_page, settle
from ganforge import viz
from ganforge.translating import translate_image

from .conftest import drawn, pixels, png_bytes

pytest.importorskip("starlette", reason='the studio needs pip install "ganforge[studio]"')
pytest.importorskip("uvicorn", reason='the studio needs pip install "ganforge[studio]"')


@pytest.fixture(scope="module")
def page(browser, runs, tmp_path_factory):
    """(the page's tab, the run folders): the tiny gan, acgan and pix2pix runs and a folder that is no run."""
    from ganforge.studio_app import running

    folders = [runs("gan"), runs("acgan"), runs("pix2pix"), tmp_path_factory.mktemp("not-a-run")]
    with running(folders, device="cpu") as url:
        tab = open_page(browser, url)
        try:
            settle(tab)
            yield tab, folders
        finally:
            tab.close()


def shown(tab, run: int, view: str) -> np.ndarray:
    return pixels(tab.evaluate(f"document.querySelector('#run-{run} .view-{view} img.picture').src"))


def test_the_page_loads_every_run_with_no_console_errors(page):
    tab, folders = page
    assert tab.evaluate("document.querySelectorAll('.run').length") == len(folders)
    assert "not a ganforge run" in tab.evaluate("document.querySelector('#run-3 .error').textContent")
    assert tab.evaluate("[...document.querySelectorAll('img.picture')].filter(i => i.src)"
                        ".every(i => i.complete && i.naturalWidth > 0)")
    assert tab.evaluate("document.querySelector('#run-0 .view-sample pre.command').textContent").startswith(
        f"ganforge sample {folders[0]} --n 1 --seed 0")
    tab.evaluate("console.log('the console is listened to')")
    tab.wait_for("Runtime.consoleAPICalled")  # the listening works, so no errors means none happened
    assert tab.errors() == []


def test_the_seed_and_psi_sliders_draw_g_sample_for_their_values(page, generator):
    tab, _ = page
    g = generator("gan")
    before = shown(tab, 0, "sample")
    move(tab, "#run-0 .view-sample input[data-name=seed]", 17)
    after = shown(tab, 0, "sample")
    assert not np.array_equal(before, after) and np.array_equal(after, drawn(g.sample(1, 17)[0]))
    move(tab, "#run-0 .view-sample input[data-name=psi]", 0.5)  # moving it turns truncation on
    truncated = shown(tab, 0, "sample")
    assert not np.array_equal(after, truncated)
    assert np.array_equal(truncated, drawn(g.sample(1, 17, truncation=0.5)[0]))
    assert tab.evaluate("document.querySelector('#run-0 .view-sample pre.command').textContent").endswith(
        "--seed 17 --truncation 0.5")
    assert tab.errors() == []


def test_a_class_change_draws_that_class(page, generator):
    tab, _ = page
    g = generator("acgan")
    move(tab, "#run-1 .view-sample input[data-name=seed]", 3)
    move(tab, "#run-1 .view-sample select[data-name=class]", "Sneaker")
    inputs = g.for_labels(g.noise(1, torch.Generator().manual_seed(3)), torch.tensor([7]))
    assert np.array_equal(shown(tab, 1, "sample"), drawn(g(inputs)[0]))
    grid = shown(tab, 1, "grid")[::2, ::2]  # `ganforge sample --class Sneaker`'s grid, drawn twice as large
    assert np.array_equal(grid, viz.make_grid(g.sample(64, 3, **{"class": "Sneaker"})))
    assert tab.evaluate("document.querySelector('#run-1 .view-grid pre.command').textContent").endswith(
        "--seed 3 --class Sneaker")


def test_an_image_dropped_on_a_pix2pix_run_comes_back_translated(page, generator):
    tab, _ = page
    g = generator("pix2pix")
    edges = np.zeros((30, 44), np.uint8)
    edges[5:25, 8:36] = 255
    edges[8:22, 11:33] = 0
    drop(tab, "#run-2 .view-translate .drop", png_bytes(edges), "edges.png")
    out = translate_image(g, torch.from_numpy(edges)[None], "AB")
    assert np.array_equal(shown(tab, 2, "translate"), drawn(out))
    assert tab.evaluate("document.querySelector('#run-2 .view-translate pre.command').textContent") == \
        f"ganforge translate {page[1][2]} --input edges.png --direction AB"


def test_a_dragged_slider_keeps_one_request_in_flight_and_shows_the_last_value(page, generator):
    tab, _ = page
    tab.evaluate("""(() => {
        window.sent = []; window.inFlight = 0; window.mostInFlight = 0;
        const fetch = window.fetch;
        window.fetch = (url, options) => {
            if (!String(url).includes('/view/sample')) return fetch(url, options);
            window.sent.push(String(url));
            window.mostInFlight = Math.max(window.mostInFlight, ++window.inFlight);
            return fetch(url, options).finally(() => { window.inFlight -= 1; });
        };
    })()""")
    tab.evaluate("""(async () => {
        const seed = document.querySelector('#run-0 .view-sample input[data-name=seed]');
        for (let v = 100; v < 130; v++) {  // 30 moves, a few milliseconds apart, as a drag sends them
            seed.value = v; seed.dispatchEvent(new Event('input', {bubbles: true}));
            await new Promise((done) => setTimeout(done, 5));
        }
    })()""")
    time.sleep(0.3)
    settle(tab)
    sent, most = tab.evaluate("[window.sent.length, window.mostInFlight]")
    assert most == 1 and 1 <= sent < 30
    assert tab.evaluate("JSON.parse(document.querySelector('#run-0 .view-sample img.picture').dataset.params).seed") \
        == "129"
    assert np.array_equal(shown(tab, 0, "sample"), drawn(generator("gan").sample(1, 129, truncation=0.5)[0]))


def test_save_writes_the_shown_picture_and_a_screenshot_is_not_blank(page):
    tab, folders = page
    tab.evaluate("document.querySelector('#run-0 .view-sample .save button').click()")
    deadline = time.monotonic() + 30
    while not (text := tab.evaluate("document.querySelector('#run-0 .view-sample .saved').textContent")) \
            .startswith("saved "):
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    path = Path(text.removeprefix("saved "))
    assert path.parent == folders[0] / "studio" and np.array_equal(pixels(path.read_bytes()), shown(tab, 0, "sample"))
    shot = tab.call("Page.captureScreenshot", format="png")
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB"))
    assert image.shape[0] > 100 and image.std() > 5
    colours = (image[..., 0].astype(np.int32) << 16) | (image[..., 1].astype(np.int32) << 8) | image[..., 2]
    assert len(np.unique(colours)) > 50  # text, controls and samples, not a blank page
    assert tab.errors() == []
