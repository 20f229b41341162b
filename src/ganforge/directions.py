"""Directions in a generator's code space that mean something: the codes of samples the domain classifier
reads as a class, each class's typical code, and attribute vectors, from a code's own class to another or
along an attribute file's column (`ganforge explore attribute`, the studio, bench/exploration.py)."""

from __future__ import annotations

import torch

from ganforge import runs
from ganforge.errors import UserError
from ganforge.explorer import Explorer
from ganforge.generator import Encodes, require

CLASS_POOL = 2000  # samples drawn and classified to pick an operand or attribute by class
TYPICAL = CLASS_POOL // 50  # the codes most surely of a class, whose mean stands for the class in edits


def class_codes(ex: Explorer, name: str, seed: int) -> torch.Tensor:
    """The codes of samples read as class `name`, most sure first, among CLASS_POOL drawn."""
    if ex.g.conditional:
        raise UserError("class:NAME picks samples by the classifier; a conditional run already takes --class")
    extractor = ex.classifier()
    label = class_index(name, [str(c) for c in (ex.data.get("class_names") or range(10))])
    codes = ex.codes(seed, CLASS_POOL)
    probs = torch.softmax(extractor.logits(ex.decode(codes)), 1)[:, label]
    key = ex.key
    order = probs.argsort(descending=True)
    chosen = order[probs[order] > 0.5]
    if len(chosen) < 3:
        raise UserError(f"class {name}: only {len(chosen)} of {CLASS_POOL} samples are read as it; the run "
                        "rarely draws this class")
    return codes[key][chosen.to(codes[key].device)]


def class_index(name: str, names: list[str]) -> int:
    """A class by index, by name, or by the name's first part, in any case, with - or _ for spaces
    ("ankle-boot" for "Ankle boot", "t-shirt" for "T-shirt/top")."""
    if name.isdigit() and int(name) < len(names):
        return int(name)
    def norm(text: str) -> str:
        return text.lower().replace("-", " ").replace("_", " ")

    for i, full in enumerate(names):
        if norm(name) in (norm(full), norm(full.split("/")[0])):
            return i
    raise UserError(f"class '{name}' is not one of the data's: {', '.join(names)} (or an index)")


def encoded_pool(ex: Explorer, seed: int = 0):
    """(the run's labelled data, the rows drawn from it, their codes through the encoder): CLASS_POOL * 5 rows."""
    data = runs.load_data(runs.read_config(ex.run_dir))
    pool = torch.randperm(len(data.x), generator=torch.Generator().manual_seed(seed))[:CLASS_POOL * 5]
    return data, pool, ex.g.encode(data.x[pool]).to(ex.device)


def attribute_vector(ex: Explorer, attr: str, seed: int = 0) -> torch.Tensor:
    """The mean code of examples with the attribute minus the mean without, through the encoder on the run's
    labelled data (an attribute file's column, or a class against the rest)."""
    require(ex.g, Encodes, "attribute vectors from labelled data go through an encoder", "use attribute_vectors")
    data, pool, z = encoded_pool(ex, seed)
    if data.attr_names:  # an attribute file: its 0/1 column
        if attr not in data.attr_names:
            raise UserError(f"--attr {attr}: not an attribute of {data.name}; attributes: "
                            f"{', '.join(data.attr_names)}")
        has = data.attributes[pool, data.attr_names.index(attr)] > 0.5
    elif data.y is not None:
        has = data.y[pool] == class_index(attr, class_names(data))
    else:
        raise UserError(f"--attr {attr}: the run's data {data.name} has no labels or attributes to find it in")
    if has.all() or not has.any():
        raise UserError(f"--attr {attr}: the examples drawn are all with it or all without; no vector")
    has = has.to(z.device)
    return z[has].mean(0) - z[~has].mean(0)


def class_names(data) -> list[str]:
    """The data's class names, or their indices as names where it has none."""
    return [str(c) for c in (data.class_names or range(int(data.y.max()) + 1))]


def class_means(ex: Explorer, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(each class's mean code over the TYPICAL samples the domain classifier reads most surely as it, among
    CLASS_POOL drawn: (classes, *code); the surest reading among those, per class)."""
    extractor = ex.classifier()
    codes = ex.codes(seed, CLASS_POOL)
    probs = torch.softmax(extractor.logits(ex.decode(codes)), 1)
    top = probs.topk(TYPICAL, dim=0)  # per class (column): the TYPICAL surest samples
    z = codes[ex.key]
    return torch.stack([z[top.indices[:, k].to(z.device)].mean(0) for k in range(probs.shape[1])]), top.values[-1]


def attribute_vectors(ex: Explorer, attr: str, codes: dict[str, torch.Tensor], seed: int = 0,
                      kept: dict | None = None) -> torch.Tensor:
    """Each code's vector towards the attribute, one row per code. For a class: from the code's own class to
    the target, the target's mean code minus its own class's; going from one class to another moves a code
    further than the class-against-the-rest mean, which averages the other classes together. Without an
    encoder a class's mean is that of its TYPICAL surest samples (class_means) and its own class the domain
    classifier's reading of its sample; with one, the mean encoded training image of the class, and its own
    class the classifier's reading where the data has a classifier, else the nearest class mean. An attribute
    file's column: the same vector for every code (attribute_vector). `kept`: a dict that keeps the costly
    parts (samples classified, training images encoded) between calls, for a caller that edits often."""
    kept = {} if kept is None else kept

    def once(key, make):
        if key not in kept:
            kept[key] = make()
        return kept[key]

    z = codes[ex.key]
    if isinstance(ex.g, Encodes):
        data, pool, encoded = once("pool", lambda: encoded_pool(ex, seed))
        if data.attr_names or data.y is None:
            return once(("vector", attr), lambda: attribute_vector(ex, attr, seed)).expand_as(z)
        target = class_index(attr, class_names(data))
        labels = data.y[pool].to(encoded.device)
        judge = once("classifier", ex.classifier) if has_classifier(ex) else None
        means = once("encoded means",
                     lambda: encoded_class_means(ex, encoded, labels, len(class_names(data)), judge))
        if torch.isnan(means[target]).any():
            raise UserError(f"--attr {attr}: none of the {len(pool)} examples drawn is of this class; no vector")
        own = (judge.logits(ex.decode(codes)).argmax(1) if judge is not None else
               torch.cdist(z.flatten(1), means.nan_to_num(torch.inf).flatten(1)).argmin(1)).to(means.device)
        return (means[target] - means[own]).nan_to_num(0.0)
    extractor = once("classifier", ex.classifier)  # first: a run whose data has no classifier is told so
    target = class_index(attr, [str(c) for c in (ex.data.get("class_names") or range(10))])
    means, surest = once("means", lambda: class_means(ex, seed))
    if surest[target] <= 0.5:
        raise UserError(f"class {attr}: fewer than {TYPICAL} of {CLASS_POOL} samples are read as it; the run "
                        "rarely draws this class")
    own = extractor.logits(ex.decode(codes)).argmax(1).to(means.device)
    return means[target] - means[own]


def encoded_class_means(ex: Explorer, encoded: torch.Tensor, labels: torch.Tensor, k: int,
                        judge) -> torch.Tensor:
    """Each class's mean code over its TYPICAL encoded training images whose reconstructions the domain
    classifier `judge` reads most surely as their label (all of the class's where there is none, None): the
    typical members, as for samples, so a class-to-class step spans what tells the classes apart
    (docs/exploration.md: 60.4% of edits read as the target with every member's mean, 74.6% with these)."""
    sure = None
    if judge is not None:  # the classifier's probability of each image's own label, on its reconstruction
        probs = torch.softmax(judge.logits(ex.decode({ex.key: encoded})), 1)
        sure = probs.gather(1, labels.view(-1, 1).to(probs.device)).squeeze(1).to(encoded.device)
    means = []
    for c in range(k):
        members = (labels == c).nonzero().squeeze(1)
        if sure is not None:
            members = members[sure[members].argsort(descending=True)[:TYPICAL]]
        means.append(encoded[members].mean(0))
    return torch.stack(means)


def has_classifier(ex: Explorer) -> bool:
    from ganforge.metrics.features import classifier_for

    return classifier_for(ex.data["name"]) is not None


def apply_attribute(z: torch.Tensor, vector: torch.Tensor, strengths: list[float]) -> torch.Tensor:
    """Each code moved by each strength times the vector (a code's shape, or one row per code):
    (len(z) * len(strengths)) codes, row-major."""
    s = torch.tensor(strengths, dtype=z.dtype, device=z.device).view(1, -1, *[1] * (z.dim() - 1))
    per_row = vector.expand_as(z) if vector.dim() < z.dim() else vector
    return (z.unsqueeze(1) + s * per_row.unsqueeze(1)).flatten(0, 1)
