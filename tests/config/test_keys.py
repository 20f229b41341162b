"""The key table of `ganforge presets --keys`: every shared key and each family's own, documented from the
comments beside the dataclass fields."""

import dataclasses

from ganforge.config import Config, OptimizerConfig, field_docs, format_key_table, key_table, to_dict
from ganforge.families import FAMILIES


def _leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        out += _leaf_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [prefix + k]
    return out


def test_key_table_covers_every_key_with_a_description():
    rows = key_table()
    shared = [r[0] for r in rows if not r[0].startswith("family.")]
    assert len(shared) == len(set(shared))
    expected = _leaf_keys(to_dict(Config()))  # every leaf of the tree (family: is empty, optim: no groups)
    expected += [f"optim.<group>.{f.name}" for f in dataclasses.fields(OptimizerConfig)]
    assert set(expected) <= set(shared)
    for key, default, allowed, doc in rows:
        assert doc.strip() and allowed.strip(), key
    # the description is the field's comment: trailing, or the comment block above the field
    table = {r[0]: r for r in rows if not r[0].startswith("family.")}
    assert table["train.ema"][1:3] == ("0.0", "float")
    assert table["optim.<group>.betas"][1:3] == ("[0.5, 0.999]", "list[float]")
    assert table["data.resolution"][1:3] == ("null", "int or null")
    assert table["data.resolution"][3].startswith("images are resized and centre-cropped to this size; unset:")
    assert not {"model.arch", "loss.objective", "train.d_steps", "train.replay"} & set(table)  # the GAN's own now


def test_key_table_lists_each_familys_own_keys_under_it():
    rows = key_table()
    by_family: dict[str, dict] = {}
    for key, default, allowed, doc in rows:
        if key.startswith("family."):
            name, _, text = doc.partition(": ")
            by_family.setdefault(name.removeprefix("model.family="), {})[key] = (default, allowed, text)
    for name, cls in FAMILIES.items():
        fields = [f.name for f in dataclasses.fields(cls.Options)] if cls.Options else []
        assert list(by_family.get(name, {})) == [f"family.{f}" for f in fields], name
    gan = by_family["gan"]
    assert gan["family.d_steps"] == ("1", "int", "k: discriminator steps per generator step")
    assert gan["family.objective"] == ('"gan"', "gan, wgan, hinge, lsgan", "D's and G's objectives")
    assert gan["family.arch"][1] == "mlp, dense, dcgan, dcgan28"
    assert gan["family.g_top_k"][2].startswith("top-k G updates (Sinha et al. 2020)")
    assert gan["family.g_top_k"][2].endswith("down to g_top_k (1: off)")  # both lines of the block
    assert gan["family.reuse_fake"][:2] == ("true", "bool")
    # a key several families read is listed under each, with its own default, values and meaning
    assert by_family["pix2pix"]["family.objective"][:2] == ('"gan"', "gan, lsgan")
    assert by_family["stylegan"]["family.r1"][0] == "0.01" and gan["family.r1"][0] == "0.0"
    assert by_family["vaegan"]["family.reconstruction"][1] == "features, pixels"
    assert by_family["aae"]["family.code_dim"] == ("8", "int", "the code's size (mixture and swiss_roll: 2)")
    assert by_family["cyclegan"]["family.d_norm"][:2] == ('"instance"', "batch, instance")
    assert not any(k.startswith("family.") for k in (r[0] for r in key_table({})))  # no families given


def test_field_docs_reads_trailing_and_block_comments():
    from dataclasses import dataclass, field

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


def test_format_key_table_aligns_columns_wraps_descriptions_and_parts_the_families():
    rows = key_table()
    text = format_key_table(rows, width=80)
    lines = text.splitlines()
    header = lines[0]
    default_at, allowed_at = header.index("DEFAULT"), header.index("ALLOWED")
    key_lines = [line for line in lines[1:] if line and not line.startswith(" ")]
    assert [line.split()[0] for line in key_lines] == [r[0] for r in rows]
    for line, (key, default, allowed, _) in zip(key_lines, rows, strict=True):
        assert line[:default_at].rstrip() == key
        assert line[default_at:allowed_at].rstrip() == default
        assert allowed.startswith(line[allowed_at:])  # long choice lists continue on the next lines
    descriptions = [line for line in lines if line.startswith("    ")]
    assert descriptions and all(len(line) <= 80 for line in descriptions)
    continued = [line for line in lines if line.startswith(" " * allowed_at) and line.strip()]
    assert "high_quality" in " ".join(continued)  # eval.metric's choices wrapped under the ALLOWED column
    # a blank line before each family's keys
    blocks = text.split("\n\n")
    docs = [[line.strip() for line in block.splitlines() if line.startswith("    model.family=")]
            for block in blocks if block.startswith("family.")]
    assert len(docs) == sum(1 for cls in FAMILIES.values() if cls.Options)
    assert all(len({line.partition(":")[0] for line in block}) == 1 for block in docs)  # one family each
