"""The family: section: each family reads its own keys and refuses the others; keys of before each family owned
its settings (model.*, loss.*, train.d_steps, ...) move to their new place on read."""

import pytest
import yaml

from ganforge.config import PRESET_DIR, dump_yaml, from_dict, load_config, to_dict
from ganforge.config.legacy import OLD_DEFAULTS
from ganforge.errors import UserError
from ganforge.families import FAMILIES
from ganforge.options import was

HINT = r"its own settings are family\.\* \(`ganforge presets --keys`\)"


@pytest.mark.parametrize("preset, item", [
    ("stylegan-fashion", "loss.objective=hinge"),
    ("stylegan-fashion", "model.spectral_norm=d"),
    ("aae-mnist", "train.d_steps=3"),
    ("video-moving-mnist", "loss.objective=gan"),  # given by hand, even the value of before is refused
    ("aae-mnist", "model.z_dim=100"),
    ("pix2pix-fashion-edges", "model.z_dim=8"),
])
def test_a_key_the_family_does_not_read_is_refused_naming_the_key_and_the_family(preset, item):
    key = item.split("=")[0]
    family = load_config(preset).model.family
    with pytest.raises(UserError, match=rf"^config key '{key}': the {family} family does not read it; {HINT}$"):
        load_config(preset, [item])


def test_a_family_option_of_another_family_is_refused_too():
    with pytest.raises(UserError, match=rf"^config key 'family.objective': the stylegan family does not read it; {HINT}"):
        load_config("stylegan-fashion", ["family.objective=hinge"])
    # a GAN preset's family: section belongs to the GAN: another family refuses it rather than ignore it
    with pytest.raises(UserError, match="config key 'family.arch': the aae family does not read it"):
        load_config("toy-ring", ["model.family=aae"])


def test_keys_of_before_move_to_the_options_that_name_them():
    cfg = load_config("default", ["model.arch=mlp", "loss.g=minimax", "train.d_steps=2", "model.g_hidden=[8]",
                                  "train.replay=16", "model.spectral_norm=both"])
    f = cfg.family
    assert (f["arch"], f["g_loss"], f["d_steps"], f["g_hidden"], f["replay"], f["spectral_norm"]) == (
        "mlp", "minimax", 2, [8], 16, "both")
    assert load_config("stylegan-fashion", ["model.z_dim=32"]).family["z_dim"] == 32
    assert load_config("cyclegan-mnist-colour", ["loss.objective=gan"]).family["objective"] == "gan"
    assert load_config("text2image-fashion", ["loss.r1=0.5", "loss.r1_every=4"]).family["r1"] == 0.5
    # every key of before has a family that reads it
    claimed = {was(f) for cls in FAMILIES.values() if cls.Options for f in cls.Options.__dataclass_fields__.values()}
    assert set(OLD_DEFAULTS) <= claimed


def test_the_later_of_a_key_and_its_key_of_before_wins(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {family: gan, z_dim: 64}\n")
    assert load_config(str(path)).family["z_dim"] == 64
    assert load_config(str(path), ["family.z_dim=32"]).family["z_dim"] == 32
    path.write_text("model: {family: gan}\nfamily: {z_dim: 64}\n")
    assert load_config(str(path), ["model.z_dim=32"]).family["z_dim"] == 32
    path.write_text("model: {family: gan, z_dim: 64}\nfamily: {z_dim: 32}\n")
    with pytest.raises(UserError, match="'model.z_dim' and 'family.z_dim' are one setting, given twice"):
        load_config(str(path))


def old_style(tree: dict) -> dict:
    """A resolved config tree as ganforge wrote it before the families owned their settings: the family's
    keys of before in model:, loss: and train:, every other key of before at its default."""
    tree = {k: (dict(v) if isinstance(v, dict) else v) for k, v in tree.items()}
    options = FAMILIES[tree["model"]["family"]].Options
    fields = options.__dataclass_fields__ if options else {}
    tree["loss"] = {}
    for key, default in OLD_DEFAULTS.items():
        section, name = key.split(".")
        moved = [f for f, spec in fields.items() if was(spec) == key]
        tree[section][name] = tree["family"].pop(moved[0]) if moved else default
    return tree


@pytest.mark.parametrize("name", ["default", "gan-mnist", "biggan-fashion", "stylegan-fashion", "aae-mnist",
                                  "cyclegan-mnist-colour", "text2image-fashion", "video-moving-mnist", "vae-fashion"])
def test_a_config_written_the_old_way_loads_as_the_same_config(name, tmp_path):
    new = load_config(name)
    tree = old_style(to_dict(new))
    assert "z_dim" in tree["model"] and "objective" in tree["loss"]
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(tree))
    assert load_config(str(path)) == new  # keys its family never read were at their defaults: dropped
    assert from_dict(tree) == new


def test_an_unread_key_of_before_off_its_default_is_refused_in_a_config_and_dropped_from_a_run_folder(tmp_path):
    tree = old_style(to_dict(load_config("stylegan-fashion")))
    tree["loss"]["objective"] = "hinge"  # written by the code of before, and never read by stylegan
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(tree))
    with pytest.raises(UserError, match=f"config key 'loss.objective': the stylegan family does not read it; {HINT}"):
        load_config(str(path))
    saved = from_dict(tree)  # a run folder's config.yaml: the key never had an effect
    assert saved == load_config("stylegan-fashion") and "objective" not in saved.family
    assert "objective" not in dump_yaml(saved)
    assert load_config(str(path), saved=True) == saved


def test_the_video_preset_of_before_loads_without_its_loss_section():
    old = (PRESET_DIR / "video-moving-mnist.yaml").read_text() + "loss: {objective: gan}\n"
    assert "loss" not in yaml.safe_load((PRESET_DIR / "video-moving-mnist.yaml").read_text())
    assert from_dict(yaml.safe_load(old)) == from_dict(yaml.safe_load(old.replace("loss: {objective: gan}\n", "")))


def test_a_family_without_options_refuses_any(monkeypatch):
    from ganforge.families import Family

    class Bare(Family):
        GROUPS = ("G",)

    monkeypatch.setitem(FAMILIES, "bare", Bare)
    with pytest.raises(UserError, match="'loss.r1': the bare family does not read it and has no settings of its own"):
        load_config("toy-ring", ["model.family=bare", "family={}", "loss.r1=1"])
    assert load_config("toy-ring", ["model.family=bare", "family={}"]).family == {}
