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
    # YAML 1.1 reads a bare off as false: a choice that has "off" takes it back
    assert load_config("default", ["model.spectral_norm=off"]).model.spectral_norm == "off"


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


# --------------------------------------------------------------------------- the key table (presets --keys)


def _family_options():
    from ganforge.families import FAMILIES

    return {name: cls.Options for name, cls in FAMILIES.items()}


def _leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        out += _leaf_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [prefix + k]
    return out


def test_key_table_covers_every_key_with_a_description():
    import dataclasses

    from ganforge.config import OptimizerConfig, key_table, to_dict

    rows = key_table(_family_options())
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys))
    expected = _leaf_keys(to_dict(Config()))  # every leaf of the tree (family: is empty, optim: no groups)
    expected += [f"optim.<group>.{f.name}" for f in dataclasses.fields(OptimizerConfig)]
    assert set(expected) <= set(keys)
    for key, default, allowed, doc in rows:
        assert doc.strip() and allowed.strip(), key
    # the description is the field's comment in config.py: trailing, or the comment block above the field
    table = {r[0]: r for r in rows}
    assert table["train.d_steps"] == ("train.d_steps", "1", "int", "k: discriminator steps per generator step")
    assert table["loss.g_top_k"][3].startswith("top-k G updates (Sinha et al. 2020)")
    assert table["loss.g_top_k"][3].endswith("down to g_top_k (1: off)")  # both lines of the block
    assert table["optim.<group>.betas"][1:3] == ("[0.5, 0.999]", "list[float]")
    assert table["data.resolution"][1:3] == ("null", "int or null")
    assert table["train.reuse_fake"][1:3] == ("true", "bool")


def test_key_table_lists_choices_and_family_options():
    from ganforge.config import key_table

    table = {r[0]: r for r in key_table(_family_options())}
    assert table["loss.objective"][1:] == ('"gan"', "gan, wgan, hinge, lsgan", "D's and G's objectives")
    assert table["model.arch"][2] == "mlp, dense, dcgan, dcgan28"
    assert table["family.code_dim"] == ("family.code_dim", "8", "int",
                                        "model.family=aae: the code's size (mixture and swiss_roll: 2)")
    assert table["family.reconstruction"][2] == "bce, mse"
    # a key two families read is one row; differing defaults are named per family
    assert table["family.patch_layers"][1] == "3" and table["family.patch_layers"][3].startswith(
        "model.family=pix2pix, cyclegan: D's strided layers")
    shared_doc = 'model.family=pix2pix ("batch"), cyclegan ("instance"): D\'s normalisation layers'
    assert table["family.d_norm"][1:] == ("per family", "batch, instance", shared_doc)
    assert not any(k.startswith("family.") for k in (r[0] for r in key_table()))  # no families given


def test_field_docs_reads_trailing_and_block_comments():
    from dataclasses import dataclass, field

    from ganforge.config import field_docs

    @dataclass
    class Example:
        a: int = 1  # the a
        # the b, on
        # two lines
        b: int = 2
        c: list[int] = field(  # spans lines
            default_factory=list)  # with a comment on each
        d: int = 4

    assert field_docs(Example) == {"a": "the a", "b": "the b, on two lines",
                                   "c": "spans lines with a comment on each", "d": ""}


def test_format_key_table_aligns_columns_and_wraps_descriptions():
    from ganforge.config import format_key_table, key_table

    rows = key_table(_family_options())
    text = format_key_table(rows, width=80)
    lines = text.splitlines()
    header = lines[0]
    default_at, allowed_at = header.index("DEFAULT"), header.index("ALLOWED")
    key_lines = {line.split()[0]: line for line in lines[1:] if line and not line.startswith(" ")}
    assert set(key_lines) == {r[0] for r in rows}
    for key, default, allowed, _ in rows:
        line = key_lines[key]
        assert line[:default_at].rstrip() == key
        assert line[default_at:allowed_at].rstrip() == default
        assert allowed.startswith(line[allowed_at:])  # long choice lists continue on the next lines
    descriptions = [line for line in lines if line.startswith("    ")]
    assert descriptions and all(len(line) <= 80 for line in descriptions)
    continued = [line for line in lines if line.startswith(" " * allowed_at) and line.strip()]
    assert "high_quality" in " ".join(continued)  # eval.metric's choices wrapped under the ALLOWED column
