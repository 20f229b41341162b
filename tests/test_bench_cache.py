"""The bench studies' caches are keyed by what changes their results (bench/runkeys.py and the scripts that
use it): `--steps 10000` never scores a 4,000-step run, another --config never reads ganforge's cached marks."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ganforge.config import load_config


def write_summary(run, steps, **more):
    run.mkdir(parents=True, exist_ok=True)
    (run / "summary.json").write_text(json.dumps({"steps": steps, "seconds": 1.0, **more}))


def test_the_key_names_what_differs_from_the_defaults(bench):
    runkeys = bench("runkeys")
    assert runkeys.run_key({"steps": None}) == ""
    assert runkeys.run_key({"steps": 10000, "subset": None}) == "steps10000"
    sets = ["family.gan=0", "train.batch_size=16"]
    digest = hashlib.sha256(b"family.gan=0\ntrain.batch_size=16").hexdigest()[:8]
    assert runkeys.run_key({"steps": 10000, "subset": 500}, sets) == f"steps10000-subset500-set{digest}"
    assert runkeys.run_key({}, sets[::-1]) != runkeys.run_key({}, sets)  # a later --set wins: order counts
    assert runkeys.non_default(None, 4000) is None and runkeys.non_default(4000, 4000) is None
    assert runkeys.non_default(10000, 4000) == 10000
    assert runkeys.keyed("l1", "") == "l1" and runkeys.keyed("l1", "steps10000") == "l1-steps10000"


def test_a_run_of_other_steps_is_never_taken_for_this_one(bench, tmp_path):
    runkeys = bench("runkeys")
    run = tmp_path / "l1"
    assert not runkeys.finished(run, 4000)  # nothing there: train it
    write_summary(run, 4000)
    assert runkeys.finished(run, 4000)
    with pytest.raises(SystemExit, match="a run of 4,000 steps, not the 10,000 asked for"):
        runkeys.finished(run, 10000)
    write_summary(run, 1500, stopped={"signal": "SIGTERM", "target": 4000})
    assert not runkeys.finished(run, 4000)  # stopped part-way: training with resume continues it
    with pytest.raises(SystemExit, match="a run of 4,000 steps"):
        runkeys.finished(run, 10000)


def test_an_evaluation_is_reused_only_for_its_own_protocol(bench, tmp_path):
    runkeys = bench("runkeys")
    assert runkeys.cached_eval(tmp_path, n_clips=1000, checkpoint_step=4500) is None
    (tmp_path / "eval.json").write_text(json.dumps({"values": {"mse_1": 42.7},
                                                    "protocol": {"n_clips": 1000, "checkpoint_step": 4500}}))
    assert runkeys.cached_eval(tmp_path, n_clips=1000, checkpoint_step=4500) == {"mse_1": 42.7}
    assert runkeys.cached_eval(tmp_path, n_clips=1000, checkpoint_step=10000) is None
    assert runkeys.cached_eval(tmp_path, n_clips=500, checkpoint_step=4500) is None
    assert runkeys.cached_eval(tmp_path, n_clips=1000, seed=0) is None  # a field the protocol lacks
    assert runkeys.matches({"n": 1000, "steps": 4000}, n=1000, steps=4000)
    assert not runkeys.matches({"n": 1000, "steps": 4000}, n=1000, steps=10000) and not runkeys.matches(None, n=1)


def test_translation_rows_with_more_steps_train_their_own_run(bench, tmp_path):
    translation = bench("translation")
    p2p = load_config("pix2pix-fashion-edges").train.steps
    preset, key, run, target = translation.row_run(tmp_path, "pix2pix", "l1", None, [])
    assert (preset, key, run, target) == ("pix2pix-fashion-edges", "", tmp_path / "pix2pix" / "l1", p2p)
    assert translation.row_run(tmp_path, "pix2pix", "l1", p2p, [])[2] == run  # the preset's own steps, named
    write_summary(run, p2p)
    _, key, longer, target = translation.row_run(tmp_path, "pix2pix", "l1", 10000, [])
    assert (key, longer, target) == ("steps10000", tmp_path / "pix2pix" / "l1-steps10000", 10000)
    assert not bench("runkeys").finished(longer, target)  # trained anew, the 4,000-step run left alone
    _, _, with_set, _ = translation.row_run(tmp_path, "pix2pix", "l1", None, ["train.batch_size=16"])
    assert with_set.name.startswith("l1-set") and with_set != run
    # a row reusing another study's run reuses it under the same key; a row's own steps are its default
    assert translation.row_run(tmp_path, "patch", "patch16", 10000, [])[1:] == \
        translation.row_run(tmp_path, "pix2pix", "l1+cgan", 10000, [])[1:]
    assert translation.row_run(tmp_path, "sr", "srgan-random", None, [])[1:] == ("", tmp_path / "sr" /
                                                                                   "srgan-random", 4000)


def test_time_to_quality_marks_are_read_only_for_the_recipe_that_made_them(bench, tmp_path):
    ttq = bench("time_to_quality")
    assert ttq.path_folder("ganforge", None) == ttq.path_folder("ganforge", "default") == "ganforge"
    assert ttq.path_folder("ganforge", "progan-fashion") == "ganforge-progan-fashion"
    assert ttq.path_folder("textbook", "progan-fashion") == "textbook"  # its recipe is fixed
    key = ttq.mark_key("ganforge", "progan-fashion", 2000)
    assert key != ttq.mark_key("ganforge", None, 2000) and key != ttq.mark_key("ganforge", "progan-fashion", 500)
    assert ttq.mark_key("textbook", "progan-fashion", 2000) == ttq.mark_key("textbook", None, 2000)
    x = np.arange(24, dtype=np.uint8).reshape(2, 1, 3, 4)
    np.savez(tmp_path / "mark_1.npz", x=x, seconds=60.0, steps=123, key=key)
    np.savez(tmp_path / "mark_2.npz", x=x, seconds=120.0, steps=250)  # written before marks were keyed
    got = ttq.cached_mark(tmp_path, 1.0, key)
    assert np.array_equal(got["x"], x) and int(got["steps"]) == 123
    assert ttq.cached_mark(tmp_path, 1.0, ttq.mark_key("ganforge", None, 2000)) is None
    assert ttq.cached_mark(tmp_path, 2.0, key) is None and ttq.cached_mark(tmp_path, 4.0, key) is None
