"""Keys of the shared sections before each family owned its settings, and where their values go now.

Configs, presets and run folders written then hold the GAN's settings under model:, loss: and train:. On
reading, each such key moves to the chosen family's option that names it (`was=` in the family's Options);
a key the family never read is dropped where it could not have mattered (its old default, or a run folder's
config.yaml, where it never had an effect) and refused anywhere else.
"""

from __future__ import annotations

from typing import Any

from ganforge.errors import UserError

# every key that left a shared section, with its default of that time
OLD_DEFAULTS: dict[str, Any] = {
    "model.arch": "dcgan28", "model.z_dim": 100, "model.g_width": 64, "model.d_width": 64,
    "model.g_hidden": [256, 512], "model.d_hidden": [512, 256], "model.d_activation": "leaky_relu",
    "model.d_dropout": 0.0, "model.d_input_dropout": 0.0, "model.g_init": 0.0, "model.d_init": 0.0,
    "model.d_max_norm": 0.0, "model.g_output": "auto", "model.spectral_norm": "off", "model.minibatch_std": 0,
    "model.minibatch_disc": 0, "model.minibatch_disc_dim": 5, "model.pack": 1, "model.condition": "none",
    "model.shared_dim": 32, "model.d_condition": "auto", "model.attention": 0,
    "loss.objective": "gan", "loss.g": "nonsaturating", "loss.label_smoothing": 0.0, "loss.clip": 0.0,
    "loss.gp": 0.0, "loss.r1": 0.0, "loss.r1_every": 1, "loss.dragan": 0.0, "loss.ortho": 0.0,
    "loss.g_top_k": 1.0, "loss.g_top_k_decay": 0.99, "loss.class_weight": 1.0, "loss.class_fake_weight": 1.0,
    "train.d_steps": 1, "train.reuse_fake": True, "train.replay": 0, "train.replay_mix": 0.5,
}
OLD_SECTIONS = ("model", "loss", "train")


def is_old_key(key: str) -> bool:
    return key in OLD_DEFAULTS


def is_old_default(key: str, value: Any) -> bool:
    """`value` is what the old schema gave `key` unset (YAML's readings of numbers and on/off allowed for)."""
    default = OLD_DEFAULTS[key]
    if isinstance(default, str) and isinstance(value, bool):  # YAML 1.1 reads a bare off as false
        value = "on" if value else "off"
    if isinstance(default, bool) or isinstance(value, bool):
        return value is default
    return value == default


def split_old_keys(data: dict) -> tuple[dict, dict[str, Any]]:
    """(the file's data without the keys that left the shared sections, those keys -> their values)."""
    data = dict(data)
    old: dict[str, Any] = {}
    for section in OLD_SECTIONS:
        part = data.get(section)
        if not isinstance(part, dict):
            continue
        keep = {}
        for name, value in part.items():
            key = f"{section}.{name}"
            if is_old_key(key):
                old[key] = value
            else:
                keep[name] = value
        if section == "loss":  # the whole section left
            if keep:
                raise UserError(f"unknown config key 'loss.{next(iter(keep))}'; the loss settings are the family's "
                                "own now (family.*: `ganforge presets --keys`)")
            del data[section]
        else:
            data[section] = keep
    if "loss" in data and data["loss"] is not None:  # a loss: that is not a mapping
        raise UserError(f"config section 'loss' must be a mapping, got {data['loss']!r}")
    data.pop("loss", None)
    return data, old
