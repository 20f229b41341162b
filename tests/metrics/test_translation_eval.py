"""metrics/translation_eval.py: what an image-to-image run is measured against."""

import pytest
import torch

from ganforge.data.registry import Dataset
from ganforge.errors import UserError
from ganforge.metrics.translation_eval import score_translation


def test_unpaired_reference_images_are_refused_saying_where_pairs_were_looked_for():
    unpaired = Dataset("folder:/data/mine", "image", torch.zeros(4, 1, 8, 8, dtype=torch.uint8), None, None,
                       "/data/mine", inputs=torch.zeros(5, 1, 8, 8, dtype=torch.uint8), paired=False)
    for split, where in (("test", "its test split"),
                         ("the whole folder (no test split; the training images)",
                          "the whole folder (no test split; the training images)")):
        with pytest.raises(UserError) as caught:
            score_translation(None, unpaired, None, split)
        assert str(caught.value) == (f"folder:/data/mine: no pairs to measure translations against in {where}; give "
                                     "test pairs (test/A/ and test/B/, or testA/ and testB/, with matching file names)")
