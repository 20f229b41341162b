"""Typed, validated run configuration.

A config is a tree of dataclasses (schema.py) holding what every family reads, and the chosen family's own
settings (`family:`, checked by the family's Options dataclass: family.py). It is built from a preset or YAML
file, then `--set key=value` overrides (build.py); every key and type is checked, and a mistyped key names the
closest valid one. Keys of before each family owned its settings still load (legacy.py). keys.py lists every
key for `ganforge presets --keys`.
"""

from ganforge.config.build import (
    OPEN_SECTIONS,
    _all_keys,
    build_section,
    dump_yaml,
    from_dict,
    load_config,
    parse_set,
    preset_names,
    validate,
)
from ganforge.config.family import family_keys, family_options
from ganforge.config.keys import field_docs, format_key_table, key_table
from ganforge.config.schema import (
    PRESET_DIR,
    Config,
    DataConfig,
    EvalConfig,
    LogConfig,
    ModelConfig,
    OptimConfig,
    OptimizerConfig,
    TrainConfig,
    to_dict,
)
from ganforge.options import choice

__all__ = ["OPEN_SECTIONS", "PRESET_DIR", "Config", "DataConfig", "EvalConfig", "LogConfig", "ModelConfig",
           "OptimConfig", "OptimizerConfig", "TrainConfig", "_all_keys", "build_section", "choice", "dump_yaml",
           "family_keys", "family_options", "field_docs", "format_key_table", "from_dict", "key_table",
           "load_config", "parse_set", "preset_names", "to_dict", "validate"]
