"""Training throughput: ganforge's step against the textbook PyTorch DCGAN loop (pytorch/examples dcgan), on the
same networks and data; the same as `ganforge bench`.

    python bench/throughput.py [--device auto] [--batch 128 512] [--steps 50] [--warmup 5] [--nets dcgan64,dcgan28]
                               [--precision P] [--compile C] [--workers 2] [--json OUT]
"""

import argparse

from ganforge.throughput import DESCRIPTION, add_arguments, main


def build_parser() -> argparse.ArgumentParser:
    """The parser main() uses (that of `ganforge bench`), for tools that check a command line."""
    parser = argparse.ArgumentParser(prog="bench/throughput.py", description=DESCRIPTION)
    add_arguments(parser)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
