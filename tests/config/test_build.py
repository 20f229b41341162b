"""Building a config from presets, files and --set overrides: keys and types checked, the closest key named."""

import dataclasses

import pytest
import yaml

from ganforge.config import PRESET_DIR, Config, dump_yaml, from_dict, load_config, parse_set, preset_names
from ganforge.config.legacy import split_old_keys
from ganforge.errors import UserError
from ganforge.families.gan_options import GANOptions


def test_default_preset_is_dcgan_on_embedded_fashion_mnist():
    cfg = load_config()
    assert cfg.data.name == "fashion-mnist-10k"
    assert cfg.model.family == "gan"
    assert cfg.family["arch"] == "dcgan28" and cfg.family["g_loss"] == "nonsaturating"
    assert cfg.optim.g.lr == 5e-4 and cfg.train.ema == 0.999


@pytest.mark.parametrize("name", sorted(preset_names()))
def test_every_preset_loads_has_a_description_and_uses_the_current_keys(name):
    cfg = load_config(name)
    assert isinstance(cfg, Config)
    assert cfg.description
    data = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())
    assert split_old_keys(data)[1] == {}  # nothing under model: but the family, no loss: section


def test_overrides_are_typed():
    cfg = load_config("default", ["train.steps=12", "optim.g.lr=1e-3", "optim.d.betas=[0.0, 0.9]",
                                  "data.resolution=null", "family.reuse_fake=false"])
    assert cfg.train.steps == 12
    assert cfg.optim.g.lr == 1e-3 and isinstance(cfg.optim.g.lr, float)
    assert cfg.optim.d.betas == [0.0, 0.9]
    assert cfg.family["reuse_fake"] is False
    # YAML 1.1 reads a bare off as false: a choice that has "off" takes it back
    assert load_config("default", ["family.spectral_norm=off"]).family["spectral_norm"] == "off"
    assert load_config("default", ["family.r1=1"]).family["r1"] == 1.0  # int -> float


def test_unknown_key_names_the_closest_valid_one():
    with pytest.raises(UserError, match=r"unknown config key 'train.stpes'; did you mean 'train.steps'"):
        load_config("default", ["train.stpes=3"])
    with pytest.raises(UserError, match="'optim.g.lrr'.*'optim.g.lr'"):
        load_config("default", ["optim.g.lrr=3"])
    with pytest.raises(UserError, match="'family.z_dmi'; did you mean 'family.z_dim'"):
        load_config("default", ["family.z_dmi=3"])


def test_unknown_key_in_a_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  arhc: mlp\n")
    with pytest.raises(UserError, match="'model.arhc'; did you mean 'family.arch'"):  # where arch lives now
        load_config(str(path))


@pytest.mark.parametrize("item, message", [
    ("train.steps=ten", "'train.steps' must be int"),
    ("train.steps=1.5", "'train.steps' must be int"),
    ("family.reuse_fake=3", "'family.reuse_fake' must be bool"),
    ("family.arch=resnet", "'family.arch' must be one of"),
    ("family.g_loss=wasserstein", "'family.g_loss' must be one of"),
    ("loss.g=wasserstein", "'loss.g' must be one of"),  # a key of before is named as written
    ("train.batch_size=0", "'train.batch_size' must be at least 1"),
    ("optim.g.lr=-1", "'optim.g.lr' must be positive"),
    ("optim.g.betas=[0.5]", "'optim.g.betas' must be two numbers"),
    ("data.channels=2", "'data.channels' must be 1 or 3"),
    ("train.device=tpu", "'train.device' must be auto"),
    ("train=3", "'train' must be a mapping"),
    ("family.g_top_k=0", "'family.g_top_k' must be in \\(0, 1\\]"),
    ("family.g_top_k_decay=1.5", "'family.g_top_k_decay' must be in"),
    ("family.z_dim=0", "'family.z_dim' must be at least 1"),
    ("family.d_steps=0", "'family.d_steps' must be at least 1"),
    ("family.label_smoothing=0.5", "'family.label_smoothing' must be below 0.5"),
    ("family.replay_mix=2", "'family.replay_mix' must be in \\[0, 1\\]"),
])
def test_bad_values_are_user_errors(item, message):
    with pytest.raises(UserError, match=message):
        load_config("default", [item])


def test_settings_that_must_agree_are_checked_when_the_config_loads():
    with pytest.raises(UserError, match=r"'train.batch_size' \(32\) must be a multiple of family.pack \(3\)"):
        load_config("toy-ring", ["family.pack=3", "train.batch_size=32"])
    with pytest.raises(UserError, match="label_smoothing' applies to family.objective=gan only"):
        load_config("default", ["family.label_smoothing=0.1", "family.objective=hinge"])
    with pytest.raises(UserError, match="family.replay works with family.condition=none only"):
        load_config("cgan-mnist", ["family.replay=64"])
    with pytest.raises(UserError, match="'loss.objective' must be one of gan, lsgan; got 'hinge'"):
        load_config("pix2pix-fashion-edges", ["loss.objective=hinge"])  # the translation families' two


def test_unknown_preset_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="unknown preset 'defualt'; did you mean 'default'"):
        load_config("defualt")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(str(bad))
    with pytest.raises(UserError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_parse_set():
    assert parse_set("a.b=3") == ("a.b", 3)
    assert parse_set("a=[1, 2]") == ("a", [1, 2])
    assert parse_set("a=some/path") == ("a", "some/path")
    with pytest.raises(UserError, match="key=value"):
        parse_set("novalue")


def test_resolved_yaml_round_trips_with_every_option_of_the_family_written_out():
    cfg = load_config("gan-mnist", ["train.seed=7"])
    tree = yaml.safe_load(dump_yaml(cfg))
    assert from_dict(tree) == cfg
    assert set(tree) == {"data", "model", "optim", "train", "log", "eval", "family", "description"}
    assert tree["model"] == {"family": "gan"}
    assert tree["family"]["d_max_norm"] == 1.9365 and tree["family"]["minibatch_disc_dim"] == 5  # a default too
    assert list(tree["family"]) == [f.name for f in dataclasses.fields(GANOptions)]
