"""Pictures of GANs, by job: `images` (uint8 quantisation, sample grids, numbered cells, reconstructions),
`animation` (GIFs and strips of frames over training), `labels` (grids with captions beside rows and above
columns), `plots` (matplotlib: toy samples, codes, curves,
the truncation sweep). Every public name is here too: `from ganforge import viz; viz.save_grid(...)`.

Every file is written atomically (to a hidden temporary file in the target directory, then `os.replace`), so
a process killed mid-write leaves either the old file or the new one, never a truncated image (at worst a
stray hidden `.tmp-*` file).
"""

from ganforge.viz.animation import save_animation, save_strip
from ganforge.viz.images import grid_image, make_grid, save_grid, save_reconstructions, to_uint8
from ganforge.viz.labels import Grid, beside, labelled, save_labelled_grid, save_picture
from ganforge.viz.plots import (
    CODE_VIEW,
    SPARSE_SERIES,
    plot_codes,
    plot_curves,
    plot_samples_1d,
    plot_samples_2d,
    plot_truncation,
)

__all__ = ["CODE_VIEW", "SPARSE_SERIES", "Grid", "beside", "grid_image", "labelled", "make_grid", "plot_codes",
           "plot_curves", "plot_samples_1d", "plot_samples_2d", "plot_truncation", "save_animation", "save_grid",
           "save_labelled_grid", "save_picture", "save_reconstructions", "save_strip", "to_uint8"]
