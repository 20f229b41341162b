import pytest

from ganforge.config import Config, dump_yaml, from_dict, load_config, parse_set, preset_names
from ganforge.errors import UserError


def test_default_preset_is_dcgan_on_embedded_fashion_mnist():
    cfg = load_config()
    assert cfg.data.name == "fashion-mnist-10k"
    assert cfg.model.arch == "dcgan28"
    assert cfg.loss.g == "nonsaturating"


@pytest.mark.parametrize("name", sorted(preset_names()))
def test_every_preset_loads_and_has_a_description(name):
    cfg = load_config(name)
    assert isinstance(cfg, Config)
    assert cfg.description


def test_overrides_are_typed():
    cfg = load_config("default", ["train.steps=12", "optim.g.lr=1e-3", "optim.d.betas=[0.0, 0.9]",
                                  "data.resolution=null", "train.reuse_fake=false"])
    assert cfg.train.steps == 12
    assert cfg.optim.g.lr == 1e-3 and isinstance(cfg.optim.g.lr, float)
    assert cfg.optim.d.betas == [0.0, 0.9]
    assert cfg.train.reuse_fake is False


def test_unknown_key_names_the_closest_valid_one():
    with pytest.raises(UserError, match=r"unknown config key 'train.stpes'; did you mean 'train.steps'"):
        load_config("default", ["train.stpes=3"])
    with pytest.raises(UserError, match="'optim.g.lrr'.*'optim.g.lr'"):
        load_config("default", ["optim.g.lrr=3"])


def test_unknown_key_in_a_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  arhc: mlp\n")
    with pytest.raises(UserError, match="'model.arhc'; did you mean 'model.arch'"):
        load_config(str(path))


@pytest.mark.parametrize("item, message", [
    ("train.steps=ten", "'train.steps' must be int"),
    ("train.steps=1.5", "'train.steps' must be int"),
    ("train.reuse_fake=3", "'train.reuse_fake' must be bool"),
    ("model.arch=resnet", "'model.arch' must be one of"),
    ("loss.g=wasserstein", "'loss.g' must be one of"),
    ("train.batch_size=0", "'train.batch_size' must be at least 1"),
    ("optim.g.lr=-1", "'optim.g.lr' must be positive"),
    ("optim.g.betas=[0.5]", "'optim.g.betas' must be two numbers"),
    ("data.channels=2", "'data.channels' must be 1 or 3"),
    ("train.device=tpu", "'train.device' must be auto"),
    ("train=3", "'train' must be a mapping"),
    ("loss.g_top_k=0", "'loss.g_top_k' must be in \\(0, 1\\]"),
    ("loss.g_top_k_decay=1.5", "'loss.g_top_k_decay' must be in"),
])
def test_bad_values_are_user_errors(item, message):
    with pytest.raises(UserError, match=message):
        load_config("default", [item])


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


def test_resolved_yaml_round_trips():
    import yaml

    cfg = load_config("gan-mnist", ["train.seed=7"])
    assert from_dict(yaml.safe_load(dump_yaml(cfg))) == cfg
