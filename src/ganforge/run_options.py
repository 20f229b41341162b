"""The options every run tool of the `ganforge` command shares, in a module of their own so that the
command line and the tools that add their own subcommands (explore) both use them."""

from __future__ import annotations

DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def run_options(p, out: str | None = None, out_help: str | None = None, force: str | None = "replace existing outputs",
                checkpoint: bool = True, device: bool = True, run_help: str | None = None) -> None:
    """The options every run tool shares: RUN_DIR (optional where `run_help` says what else to give), --out
    METAVAR, --force, --checkpoint and --device; a None or False leaves that option out."""
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?" if run_help else None,
                   help=run_help or "a run folder made by `ganforge train`")
    if out:
        p.add_argument("--out", metavar=out, help=out_help)
    if force:
        p.add_argument("--force", action="store_true", help=force)
    if checkpoint:
        p.add_argument("--checkpoint", metavar="DIR|best",
                       help="a checkpoint folder, or 'best' (the best evaluation score; default: the latest)")
    if device:
        p.add_argument("--device", default="auto", help=DEVICE_HELP)
