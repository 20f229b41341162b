"""bench/papers.py: the index covers every row of the quality table, its commands parse with their scripts' own
parsers, and each row's reader takes the right figure, and only the row's, from a cache in its script's format."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

import ganforge
from ganforge.cli import build_parser as ganforge_parser

ISSUE_ROWS = {  # the rows of the quality table, in its order
    "fashion-30min", "mnist-30min", "time-to-quality", "cas-fashion", "cas-mnist", "biggan-accuracy",
    "stylegan-vs-dcgan", "toy-grid-best", "stacked-mnist", "pix2pix-gap", "vaegan-fd", "vaegan-attribute",
    "video-sharpness", "data-efficiency"}
PRESETS = {p.stem for p in (Path(ganforge.__file__).parent / "presets").glob("*.yaml")}
BY_HAND = {"fashion-30min", "mnist-30min", "cas-fashion", "cas-mnist", "biggan-accuracy"}  # no bench script


@pytest.fixture
def papers(bench):
    return bench("papers")


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def line_of(papers, root, name):
    """The --table line of one row, split into its cells."""
    title = papers.ROWS[name].title
    row = next(x for x in papers.table(root).splitlines() if x.startswith(f"| {title} |"))
    return [cell.strip() for cell in row.strip("|").split(" | ")]


def test_the_index_has_every_row_of_the_table_and_its_page(papers):
    assert list(papers.ROWS) == [r for r in papers.ROWS if r in ISSUE_ROWS] and set(papers.ROWS) == ISSUE_ROWS
    assert {name for name, row in papers.ROWS.items() if not row.commands} == BY_HAND
    for row in papers.ROWS.values():
        assert (papers.ROOT / "docs" / row.page).is_file() and row.op in ("<=", ">=", "<") and row.previous_text
        assert bool(row.commands) != bool(row.by_hand) and row.caches


def test_every_command_parses_with_its_own_scripts_parser(papers, bench):
    for row in papers.ROWS.values():
        for command in row.commands:
            assert (papers.ROOT / command.script).is_file(), command.script
            script = bench(command.script.removeprefix("bench/").removesuffix(".py"))
            script.build_parser().parse_args(list(command.args))  # SystemExit on an argument it does not take
        for line in row.by_hand:
            args = ganforge_parser().parse_args(shlex.split(line)[1:])
            assert getattr(args, "config", None) in (None, *PRESETS)


def test_dry_run_prints_the_commands_and_runs_nothing(papers, tmp_path, capsys):
    assert papers.main(["time-to-quality", "--dry-run"], root=tmp_path) == 0
    out = capsys.readouterr().out.splitlines()
    marks = "--marks 1,2,4,8,10,15,30"
    assert out == [f"$ OMP_NUM_THREADS=1 python bench/time_to_quality.py --paths textbook {marks} --plot ''",
                   f"$ OMP_NUM_THREADS=1 python bench/time_to_quality.py --paths ganforge {marks} --plot ''",
                   f"$ python bench/time_to_quality.py --score-only {marks}"]
    assert papers.main(["pix2pix-gap", "--dry-run"], root=tmp_path) == 0
    assert capsys.readouterr().out == "$ python bench/translation.py pix2pix --steps 10000 --rows l1,l1+cgan\n"
    assert not any(tmp_path.iterdir())
    assert papers.main(["cas-mnist"], root=tmp_path) == 2  # no script: says so and names the commands
    assert "ganforge eval runs/cgan-mnist --metrics cas --n 60000" in capsys.readouterr().out
    assert papers.main(["vaegan-attribute"], root=tmp_path) == 2  # its run comes from another row
    assert "python bench/papers.py vaegan-fd` first" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        papers.main(["--list", "vaegan-fd"])


def test_without_caches_the_table_shows_the_previous_figures(papers, tmp_path):
    assert line_of(papers, tmp_path, "vaegan-fd") == ["VAE-GAN vs VAE, classifier FD", "ratio 0.69 (previous)",
                                                      "no cache here", "ratio <= 0.5", "missed (previous)",
                                                      "[vaegan.md](vaegan.md)"]
    assert line_of(papers, tmp_path, "time-to-quality")[4] == "missed (previous)"


def test_translation_video_vae_and_data_efficiency_tables(papers, tmp_path):
    p2p = tmp_path / "runs/translation/pix2pix.json"
    entry = {"class_accuracy_real": 0.9224, "steps": 10000, "n": 10000}
    write(p2p, {"l1": {**entry, "class_accuracy": 0.10, "fd_classifier": 9.0, "steps": 4000},  # another key
                "l1-steps10000": {**entry, "class_accuracy": 0.8488, "fd_classifier": 1.11},
                "l1+cgan-steps10000": {**entry, "class_accuracy": 0.8689, "fd_classifier": 0.89}})
    assert papers.pix2pix_gap(tmp_path).value == pytest.approx(100 * 0.0201 / 0.0736)  # 27.3%
    assert line_of(papers, tmp_path, "pix2pix-gap")[1:5] == [
        "27% (FD cut 20%)", "step 10,000 and 10,000, 10,000 test pairs", "half", "missed"]
    table = json.loads(p2p.read_text())
    table["l1+cgan-steps10000"]["class_accuracy"] = 0.8900  # 0.0412 / 0.0736: 56%
    write(p2p, table)
    assert line_of(papers, tmp_path, "pix2pix-gap")[4] == "met"
    table["l1-steps10000"]["n"] = 500  # scored on other test pairs: not this row's
    write(p2p, table)
    assert papers.pix2pix_gap(tmp_path) is None

    video = {"steps": 4500, "n": 1000}
    write(tmp_path / "runs/video/video.json", {"l2": {**video, "sharpness_mean": 12.52},
                                               "adversarial": {**video, "sharpness_mean": 13.60}})
    assert papers.video_sharpness(tmp_path).value == pytest.approx(1.08)
    assert line_of(papers, tmp_path, "video-sharpness")[1] == "+1.08 dB (13.60 vs 12.52)"
    assert line_of(papers, tmp_path, "video-sharpness")[4] == "met"

    vae = {"steps": 5000, "n": 10000}
    write(tmp_path / "runs/exploration/vae.json", {"vae": {**vae, "fd_classifier": 9.80},
                                                   "vaegan": {**vae, "fd_classifier": 7.88}})
    assert line_of(papers, tmp_path, "vaegan-fd")[1:5] == [
        "0.80 (7.88 vs 9.80)", "step 5,000 and 5,000, 10,000 samples", "ratio <= 0.5", "missed"]

    nn = {"nn_pixel_nn_ratio": 1.223, "nn_pixel_copy_rate": 0.004, "seconds": 187, "steps": 3000, "subset": 1000,
          "n": papers.DE_N}
    write(tmp_path / papers.DE_TABLE, {"none": {**nn, "fd_classifier": 5.94},
                                       "diffaugment": {**nn, "fd_classifier": 9.27},
                                       "ada": {**nn, "fd_classifier": 2.90}})
    assert papers.data_efficiency(tmp_path).value == pytest.approx(2.90 / 5.94)  # 0.49: halved, met
    assert line_of(papers, tmp_path, "data-efficiency")[2:5] == [
        f"3,000 steps on 1,000 images, {papers.DE_N:,} samples; none's nn_ratio 1.223", "augmentation halves the FD (<= 0.5x)",
        "met"]
    write(tmp_path / papers.DE_TABLE, {v: {**nn, "fd_classifier": 5.0, "n": 500} for v in ("none", "diffaugment",
                                                                                          "ada")})
    assert papers.data_efficiency(tmp_path) is None  # scored on other samples: not this row's


def test_mode_collapse_stacked_and_attribute_results(papers, tmp_path):
    seeds = [0.962, 0.952, 0.974]
    runs = [{"data": "grid", "variant": "best", "seed": s, "high_quality": hq, "modes_captured": 25,
             "reverse_kl": 0.006, "n_samples": 2500, "seconds": 100.0} for s, hq in enumerate(seeds)]
    write(tmp_path / papers.TOY_JSON, runs + [{**runs[0], "data": "ring", "high_quality": 0.5}])
    assert papers.toy_grid(tmp_path).value == pytest.approx(95.2)  # the lowest grid seed; the ring not counted
    assert line_of(papers, tmp_path, "toy-grid-best")[1] == "lowest 95.2% (seed 1), mean 96.3%"
    assert line_of(papers, tmp_path, "toy-grid-best")[4] == "met"
    write(tmp_path / papers.TOY_JSON, runs + [{**runs[0], "seed": 3, "high_quality": 0.935}])
    assert line_of(papers, tmp_path, "toy-grid-best")[4] == "missed"

    row = {"variant": "wide-r1-ema", "seed": 0, "modes": 1000, "kl": 0.084, "channel_kl": 0.059, "n_samples": 26000,
           "confidence": 0.816, "unsure": 0.5, "steps": 10000, "train_seconds": 5100.0}
    write(tmp_path / papers.STACKED_JSON, [{**row, "variant": "real", "kl": 0.023}, row])
    assert line_of(papers, tmp_path, "stacked-mnist")[1:5] == [
        "KL 0.084, 1,000 modes", "step 10,000, 26,000 samples, 1 seed(s)", "KL <= 0.05", "missed"]

    attribute = {"classes": {}, "mean": {"norm": 3.0, "vector_1": 0.587, "random_1": 0.027},
                 "protocol": {"run": "runs/exploration/vae/vaegan", "n": 1000, "seed": 0, "strength": 1.0}}
    write(tmp_path / "runs/exploration/attribute_vaegan.json", attribute)
    write(tmp_path / "runs/exploration/vae/vaegan/summary.json", {"steps": 5000})
    assert line_of(papers, tmp_path, "vaegan-attribute")[1:3] == ["58.7% (random 2.7%)",
                                                                  "step 5,000, 1,000 samples, strength 1"]
    write(tmp_path / "runs/exploration/attribute_vaegan.json", {**attribute, "protocol": {
        "n": 1000, "seed": 0, "strength": 2.0}})  # read at another strength: not this row's
    assert papers.vaegan_attribute(tmp_path) is None
    write(tmp_path / "runs/exploration/attribute_vaegan.json", {**attribute, "protocol": {
        **attribute["protocol"], "run": "runs/families/vaegan"}})  # another run of the same name: not this row's
    assert papers.vaegan_attribute(tmp_path) is None


def evaluation(step, **values_and_protocol):
    values = {k: v for k, v in values_and_protocol.items() if k in ("fid", "cas")}
    protocol = {k: v for k, v in values_and_protocol.items() if k not in values}
    return {"values": values, "protocol": {"checkpoint_step": step, **protocol}, "time": "t"}


def test_by_hand_rows_read_ganforge_eval_of_the_presets_last_step(papers, tmp_path):
    run = tmp_path / "runs/fashion-30min"
    inception = {"extractor": "inception-v3-fid", "n_fake": 10000, "n_real": 10000}
    evals = [evaluation(56000, fid=14.8, **inception),
             evaluation(56000, fid=3.0, extractor="fashion-mnist-classifier", n_fake=10000, n_real=10000),
             evaluation(56000, fid=9.0, **{**inception, "n_fake": 2000})]  # other extractor or n: not the row's
    write(run / "eval.json", {**evals[-1], "evaluations": evals})
    write(run / "summary.json", {"steps": 56000})
    assert line_of(papers, tmp_path, "fashion-30min")[1:5] == [
        "14.80", "step 56,000, 10,000 samples vs 10,000 test, inception-v3-fid", "<= 15", "met"]
    write(run / "summary.json", {"steps": 20000})  # not the preset's training: never read as it
    assert papers.ROWS["fashion-30min"].read(tmp_path) is None

    for preset, cas, steps in (("acgan-fashion", 0.7501, 6000), ("biggan-fashion", 0.80, 16000)):
        write(tmp_path / "runs" / preset / "summary.json", {"steps": steps})
        write(tmp_path / "runs" / preset / "eval.json", {"evaluations": [
            evaluation(steps, cas=cas, n_fake=60000), evaluation(steps, cas=0.99, n_fake=10000)]})  # newest: 10k
    assert line_of(papers, tmp_path, "cas-fashion")[1:5] == [
        "80.00% (real 92.24%): 12.24 points", "`biggan-fashion` step 16,000, CAS of 60,000 samples",
        "within 5 points of 92.24%", "missed"]


def test_time_to_quality_marks_are_read_only_for_their_key(papers, bench, tmp_path):
    ttq = bench("time_to_quality")

    def marks(out, path, config, fds):
        folder = tmp_path / out / ttq.path_folder(path, config)
        folder.mkdir(parents=True, exist_ok=True)
        for minutes in fds:
            np.savez(folder / f"mark_{minutes:g}.npz", x=np.zeros(1, np.uint8), seconds=60.0 * minutes,
                     steps=1000 * minutes, key=ttq.mark_key(path, config, 2000))
        return {str(float(m)): {"fd_classifier": fd, "steps": 1000 * m} for m, fd in fds.items()}

    out = "runs/time-to-quality"
    table = {"textbook": marks(out, "textbook", None, {15: 4.25, 30: 2.93}),
             "ganforge": marks(out, "ganforge", None, {8: 3.50, 15: 2.80, 30: 2.10})}
    write(tmp_path / out / "table.json", table)
    reading = papers.time_to_textbook(tmp_path)
    assert reading.value == pytest.approx(8 + 7 * 0.57 / 0.70)  # 13.7 min: between the 8- and 15-minute marks
    assert line_of(papers, tmp_path, "time-to-quality")[4] == "missed"
    np.savez(tmp_path / out / "ganforge/mark_8.npz", x=np.zeros(1, np.uint8), seconds=480.0, steps=8000,
             key=ttq.mark_key("ganforge", "progan-fashion", 2000))  # another recipe's samples: not scored here
    assert papers.ttq_marks(tmp_path, out, "ganforge", None).keys() == {15.0, 30.0}

    style = "runs/time-to-quality-stylegan"
    write(tmp_path / style / "table.json", {"ganforge-stylegan-fashion": marks(style, "ganforge",
                                                                               "stylegan-fashion", {30: 2.75})})
    assert papers.stylegan_vs_dcgan(tmp_path).value == pytest.approx(2.75 / 2.10)
    assert line_of(papers, tmp_path, "stylegan-vs-dcgan")[1] == "2.75 vs 2.10 (1.31x)"
    assert line_of(papers, tmp_path, "stylegan-vs-dcgan")[4] == "missed"


def test_write_replaces_only_the_table_between_the_markers(papers, tmp_path, capsys):
    page = tmp_path / "docs/quality.md"
    page.parent.mkdir()
    page.write_text(f"# Quality\n\n{papers.BEGIN}\nan old table\n{papers.END}\n\nthe rest\n")
    assert papers.main(["--table", "--write"], root=tmp_path) == 0
    text = page.read_text()
    assert text.startswith(f"# Quality\n\n{papers.BEGIN}\nEach family") and text.endswith(f"{papers.END}\n\nthe rest\n")
    assert "an old table" not in text and text.count("| ") > 14 and papers.table(tmp_path) in text
    assert papers.main(["--table", "--write"], root=tmp_path) == 0 and page.read_text() == text  # idempotent
    page.write_text("no markers\n")
    with pytest.raises(SystemExit, match="needs one"):
        papers.main(["--table", "--write"], root=tmp_path)
    assert (papers.ROOT / "docs/quality.md").read_text().count(papers.BEGIN) == 1


def test_a_row_runs_its_commands_in_turn_and_stops_at_the_first_that_fails(papers, tmp_path, capfd):
    listing, wrong = papers.Command("bench/papers.py", ("--list",)), papers.Command("bench/papers.py", ("no-row",))
    row = papers.ROWS["vaegan-fd"]._replace(commands=(listing, wrong, listing), caches=(str(tmp_path / "a/b.json"),))
    assert papers.run_row(row, False, papers.ROOT) == 2  # argparse's exit status, passed on
    out = capfd.readouterr()
    assert out.out.count("$ python bench/papers.py") == 2 and "stacked-mnist:" in out.out and "no-row" in out.err
    assert (tmp_path / "a").is_dir()  # a script that writes --json FILE finds its folder
