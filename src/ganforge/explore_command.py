"""`ganforge explore ACTION RUN_DIR`: its arguments and what runs it; the pictures themselves are made by
ganforge.exploring (through ganforge.api.explore, the Python equivalent)."""

from __future__ import annotations

from ganforge.errors import UserError
from ganforge.run_options import run_options

HELP = "walk a trained generator's latent space: interpolate, arithmetic, attribute, truncation, mix"
DESCRIPTION = ("Pictures of what a run's codes do (GAN, conditional GAN, AAE, VAE-GAN, StyleGAN). Seed S is the "
               "noise drawn from a generator seeded S; outputs go to RUN_DIR/explore/ (a PNG, and a GIF beside it "
               "where things move), never overwritten without --force.")


def add_arguments(p) -> None:
    """One subcommand per action; each option's dest is a keyword of its ganforge.exploring function."""
    esub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(q, beside: str | None = "a GIF of the same name goes"):  # each dest: a keyword of ganforge.exploring
        run_options(q, "FILE.png", "the PNG" + (f" ({beside} beside it)" if beside else ""))

    q = esub.add_parser("interpolate", help="rows of images between pairs of seeds or of encoded images")
    common(q)
    q.add_argument("--seeds", type=int, nargs="+", metavar="S", help="pairs: start end start end ... (default 0..15)")
    q.add_argument("--images", nargs="+", metavar="IMAGE", help="pairs of images, encoded (aae, vaegan) or "
                                                                "projected (other families)")
    q.add_argument("--codes", nargs="+", metavar="FILE.npz|DIR", help="pairs of codes of `ganforge project`")
    q.add_argument("--slerp", dest="spherical", action="store_true", help="along great circles (keeps a Gaussian code's norm)")
    q.add_argument("--steps", type=int, default=10, help="images per row, ends included (default 10)")
    q = esub.add_parser("arithmetic", help="a - b + c on averaged codes (Radford et al. Fig. 7)",
                        description="Each operand averages the codes of several samples: indices into the grid of "
                                    "`ganforge sample RUN --numbered --seed S --n N` (e.g. 3,7,12), or class:NAME "
                                    "(the samples the domain classifier reads most surely as that class).")
    common(q)
    for name in ("a", "b", "c"):
        q.add_argument(f"--{name}", required=True, metavar="I,J,..|class:NAME")
    q.add_argument("--seed", type=int, default=0, help="the numbered grid's seed (default 0)")
    q.add_argument("--n", type=int, default=64, help="the numbered grid's size (default 64)")
    q.add_argument("--k", type=int, default=3, help="class operands: samples averaged (default 3)")
    q.add_argument("--codes", nargs="+", metavar="FILE.npz|DIR",
                   help="codes of `ganforge project`: operands' indices pick them (0: the first given)")
    q = esub.add_parser("attribute", help="samples or encoded images moved along an attribute vector",
                        description="For a class (a name or index), each row moves from its own class to it: "
                                    "the class's mean code minus its own class's, each the mean of a class's "
                                    "typical members (encoded training images for families with an encoder, "
                                    "else samples, as the domain classifier reads them); "
                                    "for an attribute file's column, the mean code with it minus without.")
    common(q)
    q.add_argument("--attr", required=True, metavar="NAME|CLASS")
    q.add_argument("--images", nargs="+", metavar="IMAGE", help="images to edit, encoded (aae, vaegan) or "
                                                                "projected (other families)")
    q.add_argument("--codes", nargs="+", metavar="FILE.npz|DIR", help="codes of `ganforge project` to edit")
    q.add_argument("--seeds", type=int, nargs="+", metavar="S", help="samples to edit (default 0..7)")
    q.add_argument("--strength", dest="strengths", type=float, nargs="+", metavar="X",
                   help="multiples of the vector, one column each (default -1 -0.5 0 0.5 1 1.5 2)")
    q = esub.add_parser("mix", help="style mixing: coarse, middle and fine styles swapped (stylegan runs)",
                        description="Karras et al.'s style-mixing grid: column sources on top, row sources on the "
                                    "left, each cell its row's sample with one band of styles (coarse, middle, "
                                    "fine: a block of rows each) from its column's.")
    common(q, beside=None)
    q.add_argument("--rows", type=int, nargs="+", metavar="S", help="row source seeds (default 0 1 2)")
    q.add_argument("--columns", type=int, nargs="+", metavar="S", help="column source seeds (default 3 4 5 6 7)")
    q = esub.add_parser("truncation", help="precision, recall and FD against the truncation psi",
                        description="Samples truncated at each psi (values of z beyond it drawn again; stylegan "
                                    "runs: w pulled toward its average) against the test split: a plot, the "
                                    "samples of each psi, and truncation.json.")
    common(q, beside="FILE_samples.png, the samples at each psi, and FILE.json, the table, go")
    q.add_argument("--psi", dest="psis", type=float, nargs="+",
                   help="values to sweep (default 2 1.5 1 0.75 0.5 0.25; stylegan runs 1 0.9 0.8 0.7 0.5 0.3)")
    q.add_argument("--n", type=int, default=2000, help="samples and real images per point (default 2000)")
    q.add_argument("--seed", type=int, default=0)


def main(args) -> int:
    from ganforge.api import explore

    options = {k: v for k, v in vars(args).items() if k not in ("command", "action", "run_dir", "main")}
    given = [f"--{k}" for k in ("seeds", "images", "codes") if options.get(k)]
    if len(given) > 1:
        raise UserError(f"give one of {', '.join(given)}, not several")
    for path in explore(args.action, args.run_dir, **options):
        print(f"wrote {path}")
    return 0
