"""The `ganforge` command: parses arguments, then calls the library. User errors print one line and exit 2."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ganforge.errors import UserError
from ganforge.run_options import DEVICE_HELP, run_options
from ganforge.version import __version__


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a GAN (default: DCGAN on the embedded Fashion-MNIST 10k)",
                       description="Train a GAN. With no arguments: the 'default' preset, DCGAN on the embedded "
                                   "Fashion-MNIST test split, about 8 minutes on 2 CPU cores.")
    p.add_argument("--config", metavar="PRESET|FILE.yaml", help="a preset name (see `ganforge presets`) or a YAML file")
    p.add_argument("--data", metavar="NAME|PATH", help="dataset name (fashion-mnist-10k, mnist, fashion-mnist, "
                                                       "toy-ring, toy-grid, toy-1d), a folder of IDX files or images, or a "
                                                       ".zip or .tar(.gz) of images")
    p.add_argument("--steps", type=int, metavar="N",
                   help="train to step N (train.steps); with --resume the new total, so a run at step 1000 "
                        "given --steps 1500 trains 500 more")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--device", help=f"{DEVICE_HELP} (train.device)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="steps between checkpoints (log.checkpoint_every)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set train.batch_size=128 (repeatable)")
    p.add_argument("--out", metavar="DIR", help="run folder to create (default: runs/<preset>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run from its latest checkpoint, to its train.steps or to --steps N; Ctrl-C "
                        "during training stops after the current step with a checkpoint")
    p.add_argument("--init", metavar="RUN_DIR", help="fine-tune: every network starts from this trained run's "
                                                     "latest weights (train.init), optimisers fresh")
    p.add_argument("--quiet", action="store_true", help="no progress bar or header")


def _tool(sub, name: str, module, out: str, out_help: str, force: str = "replace existing outputs") -> None:
    """A run tool's command: the shared run options, then the module's own (its add_arguments); its main runs it."""
    p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
    run_options(p, out, out_help, force)
    module.add_arguments(p)
    p.set_defaults(main=module.main)


def _add_tools(sub) -> None:
    from ganforge import predicting, projecting, sampling, translating

    _tool(sub, "sample", sampling, "FILE.png|FILE.npz|DIR/", "output: a PNG grid, an .npz, or a folder ending in "
          "/ for one PNG per sample (what FID tools and `ganforge eval --fake` read); default "
          "RUN_DIR/sample_step<STEP>_seed<SEED>.png", "replace an existing output file or samples folder")
    _tool(sub, "translate", translating, "IMAGE.png|FOLDER", "default RUN_DIR/translated/<input name>(.png)")
    _tool(sub, "predict", predicting, "OUT.gif", "default RUN_DIR/predicted/<input name>.gif",
          "replace an existing output")
    _tool(sub, "project", projecting, "DIR", "default RUN_DIR/projected/ (a folder's images: "
          "RUN_DIR/projected/<folder name>/)")


def _add_bench(sub) -> None:
    from ganforge.throughput import DESCRIPTION, add_arguments

    p = sub.add_parser("bench", help="training throughput: ganforge's step vs the textbook PyTorch DCGAN loop",
                       description=DESCRIPTION)
    add_arguments(p)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page of a run (samples over training, curves, "
                                      "metrics with their protocol)",
                       description="Write one HTML file with every picture inlined (no network needed): the config, "
                                   "the curves, a slider through the samples over training, the real images, the "
                                   "metrics with their protocol, the nearest-neighbour panel. Default: "
                                   "RUN_DIR/report.html.")
    run_options(p, "FILE", "where to write the page (default: RUN_DIR/report.html)", "overwrite FILE if it exists",
                checkpoint=False, device=False)


def _add_export(sub) -> None:
    from ganforge.exporting import DESCRIPTION, HELP, add_arguments, main

    add_arguments(p := sub.add_parser("export", help=HELP, description=DESCRIPTION))
    p.set_defaults(main=main)


def _add_studio(sub) -> None:
    from ganforge.studio_app import command

    command.add_arguments(p := sub.add_parser("studio", help=command.HELP, description=command.DESCRIPTION))
    p.set_defaults(main=command.main)


def _add_explore(sub) -> None:
    from ganforge import explore_command

    explore_command.add_arguments(p := sub.add_parser("explore", help=explore_command.HELP,
                                                      description=explore_command.DESCRIPTION))
    p.set_defaults(main=explore_command.main)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganforge", description="Train, sample and explore GANs.")
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub)
    _add_tools(sub)
    _add_explore(sub)
    p = sub.add_parser("eval", help="evaluate a run or compare two image sets: FID, KID, PR, DC, IS, SWD, NN",
                       description="Sample N images from a run and compare them with N real images of the reference "
                                   "split (toy runs: mode counts on 2,500 points); prints a table and writes "
                                   "RUN_DIR/eval.json with each value's protocol. Or compare any two image sets: "
                                   "--real NAME|PATH --fake PATH.")
    run_options(p, "FILE.json", "with --real/--fake: where to write the results", force=None,
                run_help="a run folder made by `ganforge train` (or give --real and --fake)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--real", metavar="NAME|PATH", help="instead of a run: a dataset name, image/IDX folder or .npz")
    p.add_argument("--fake", metavar="PATH", help="with --real: an image folder or .npz (`ganforge sample --out X.npz`)")
    p.add_argument("--metrics",
                   help="comma-separated: fid, kid (named fd_classifier, kd_classifier in a domain classifier's "
                        "features), pr, dc, is (classifier score), swd (sliced Wasserstein), nn (nearest training "
                        "images and memorisation score); class-conditional runs also acc, intra_fid (added by "
                        "default), cas (a classifier trained on the samples, tested on real images: minutes) and "
                        "aug (the same classifier on 1,000 real training images, with and without the samples); "
                        "default fid,kid,pr,dc, or swd,nn where neither a domain classifier nor the FID Inception "
                        "is there (said in a note)")
    p.add_argument("--n", type=int, help="samples and real images (default: as many as the real images, up to "
                                         "10000; toy runs 2500)")
    p.add_argument("--ref", default="test", choices=["test", "train"], help="real split to compare with")
    p.add_argument("--extractor", default="auto", choices=["auto", "classifier", "inception"],
                   help="classifier: the shipped MNIST/Fashion-MNIST classifier (fast); inception: standard FID; "
                        "auto (default): the classifier where there is one")
    p.add_argument("--inception", metavar="PATH", help="the FID Inception TorchScript file (default: "
                                                        "$GANFORGE_INCEPTION, else $GANFORGE_DATA/fid-inception/, "
                                                        "else ~/.cache/ganforge)")
    p = sub.add_parser("classifier", help="train a domain classifier (MNIST, Fashion-MNIST, coloured MNIST) for "
                                          "fast metrics",
                       description="Train the seeded domain-classifier recipe on a dataset's train split and "
                                   "report its test accuracy; weights go to OUT.safetensors, recipe to OUT.json.")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = csub.add_parser("train", help="train and save a classifier")
    t.add_argument("--data", required=True, choices=["mnist", "fashion-mnist", "mnist-colour"],
                   help="mnist-colour: the coloured digits of its domain B (30k, RGB)")
    t.add_argument("--root", help="folder of the four IDX files (default: the usual dataset search)")
    t.add_argument("--epochs", type=int, help="epochs (default: 3 for mnist and mnist-colour, 15 for fashion-mnist)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, metavar="PATH", help="output path, without or with .safetensors")
    t.add_argument("--quiet", action="store_true")
    p = sub.add_parser("convert", help="convert old PyTorch .pt weights to safetensors (needs --trust-pickle)",
                       description="Read the tensors of a .pt/.pth file (a pickle) and write them as safetensors. "
                                   "Pickles can run code when loaded, so this needs --trust-pickle, and even then "
                                   "only tensors are rebuilt (torch.load with weights_only=True).")
    p.add_argument("src", metavar="OLD.pt")
    p.add_argument("--out", required=True, metavar="NEW.safetensors")
    p.add_argument("--trust-pickle", action="store_true", help="I trust where this file comes from")
    p = sub.add_parser("presets", help="list named configurations")
    p.add_argument("--keys", action="store_true", help="list every config key with its default instead")
    p.add_argument("--show", metavar="PRESET", help="print one preset's fully resolved YAML")
    _add_report(sub)
    _add_export(sub)
    _add_bench(sub)
    _add_studio(sub)
    return parser


def cmd_train(args) -> int:
    from ganforge import cpu_share

    if args.resume and (args.config or args.out or args.init):
        raise UserError("--resume continues a run with its own config, folder and start; drop --config, --out "
                        "and --init")
    cpu_share.prepare_process()  # before torch loads: OpenMP reads its wait policy once
    from ganforge.api import train
    from ganforge.training.log import SHORT

    settings = {"log.checkpoint_every": args.checkpoint_every} if args.checkpoint_every is not None else {}
    try:
        run = train(args.config, steps=args.steps, data=args.data, out=args.resume or args.out,
                    resume=bool(args.resume), seed=args.seed, device=args.device, settings=settings,
                    overrides=args.set, quiet=args.quiet, init=args.init)
    finally:
        cpu_share.busy_at_start = None  # this command's measurement: not for a later train() in the process
    summary = run.summary
    if not summary:  # a rank other than 0 of a multi-process run: rank 0 reports
        return 0
    if summary.get("complete"):  # e.g. a preemptible job restarted after it finished
        print(f"{summary['run_dir']} is complete: it reached its target, step {summary['steps']:,}; nothing to "
              f"train (a higher --steps continues it)")
        return 0
    final = summary["final"]
    shown = ", ".join(f"{SHORT.get(k, k)} {final[k]:.3f}" for k in final if k.startswith(("loss", "d_real", "d_fake")))
    what = "done" if "stopped" not in summary else f"stopped ({summary['stopped']['signal']})"
    print(f"{what}: step {summary['steps']:,} in {summary['seconds']} s ({summary['images_per_s']} images/s); {shown}")
    if "best" in summary:
        best = summary["best"]
        print(f"best {best['metric']} {best['value']:.4f} at step {best['step']:,} ({best['eval']}): "
              f"{summary['run_dir']}/checkpoints/best")
    print(f"samples: {summary['pictures'].get('final')}   run folder: {summary['run_dir']}")
    if "stopped" in summary:
        print(f"checkpoint written at step {summary['steps']:,} of {summary['stopped']['target']:,}; continue "
              f"with: ganforge train --resume {summary['run_dir']}")
        return 128 + int(getattr(signal, summary["stopped"]["signal"]))  # as if the signal had ended it
    return 0


def cmd_eval(args) -> int:
    from ganforge.evaluating import evaluate_run
    from ganforge.metrics.image_sets import evaluate_sets

    if args.n is not None and args.n < 2:
        raise UserError(f"--n must be at least 2, got {args.n}")
    if args.run_dir and (args.real or args.fake):
        raise UserError("give either RUN_DIR or --real and --fake, not both")
    if args.run_dir:
        result = evaluate_run(Path(args.run_dir), args.metrics, args.n, args.ref, args.extractor, args.inception,
                              args.seed, args.device, args.checkpoint)
    elif args.real and args.fake:
        from ganforge.runtime import resolve_device

        out = Path(args.out) if args.out else None
        result = evaluate_sets(args.real, args.fake, args.metrics, args.n, args.ref, args.extractor, args.inception,
                               str(resolve_device(args.device)), out)
    else:
        raise UserError("give a RUN_DIR to evaluate, or --real NAME|PATH and --fake PATH to compare two image sets")
    p = result["protocol"]
    of = _reference(p.get("real", p.get("dataset")), p.get("split"))
    named = p.get("split") in ("train", "test")  # else words for the data used in place of the split
    if "n_pairs" in p:
        inputs = f"{p['dataset']} {p['split']} inputs" if named else f"inputs of {of},"
        print(f"{args.run_dir} at step {p['checkpoint_step']:,}: {p['n_pairs']:,} translated {inputs} against their "
              f"true targets ({p['region']})")
    elif "extractor" in p:
        what = (f"{p['n_fake']:,} samples of {args.run_dir} at step {p['checkpoint_step']:,}" if args.run_dir
                else f"{p['n_fake']:,} images of {p['fake']}")
        sha = f" (sha1 {p['extractor_sha1'][:12]})" if "extractor_sha1" in p else ""
        print(f"{what} vs {p['n_real']:,} images of {of}; features: {p['extractor']}{sha}")
    elif "n_clips" in p:
        print(f"{args.run_dir} at step {p['checkpoint_step']:,}: {p['frames']} on the first {p['n_clips']:,} "
              f"generated moving-mnist test clips; copy_last_*: the last input frame repeated")
    elif "n_captions" in p and "class_accuracy" not in p:  # an image folder's own captions
        print(f"{args.run_dir} at step {p['checkpoint_step']:,}: caption matching of the first {p['n_captions']:,} "
              f"images of {p['dataset'] if named else of}, and of a sample drawn for each one's first caption")
    elif "n_captions" in p:
        images = f"{p['dataset']} images" if named else f"images of {of}"
        print(f"{args.run_dir} at step {p['checkpoint_step']:,}: samples for the captions of {p['n_captions']:,} "
              f"{images} (seen and held-out templates), and caption matching on those images")
    else:
        print(f"{p['n_fake']:,} points of {args.run_dir} at step {p['checkpoint_step']:,} vs the {p['modes']} "
              f"modes of {p['dataset']} (high quality: within 3 sigma)")
    for note in result.get("notes", []):
        print(f"note: {note}")
    print(format_values(result["values"]))
    for path in result.get("written", []):
        print(f"wrote {path}")
    return 0


def _reference(name: str | None, split: str | None) -> str:
    """The reference data as eval's first line names it: a split by its name, data without that split by the
    protocol's words for what was used instead (evaluating.reference_data)."""
    return f"{name} {split}" if split in ("train", "test") else f"{name}, {split}"


def format_values(values: dict) -> str:
    """One aligned line per value: integers as integers, other numbers to 4 decimals."""
    width = max((len(k) for k in values), default=0)
    return "\n".join(f"  {k:{width}s}  {v:>12,d}" if isinstance(v, int) else f"  {k:{width}s}  {v:12.4f}"
                     for k, v in values.items())


def cmd_classifier(args) -> int:
    from ganforge.metrics.classifier import train_and_save

    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {args.epochs}")
    meta = train_and_save(args.data, args.root, Path(args.out), args.epochs, args.seed, progress=not args.quiet)
    out = Path(args.out).with_suffix(".safetensors")
    print(f"{args.data} classifier: test accuracy {meta['test_accuracy']:.4f} on {meta['n_test']:,} test images "
          f"after {meta['recipe']['epochs']} epochs ({meta['train_seconds']} s); wrote {out}")
    return 0


def cmd_convert(args) -> int:
    from ganforge.legacy import convert_pt

    tensors = convert_pt(Path(args.src), Path(args.out), args.trust_pickle)
    print(f"wrote {len(tensors)} tensors ({sum(t.numel() for t in tensors.values()):,} values) to {args.out}")
    return 0


def cmd_presets(args) -> int:
    from ganforge.config import dump_yaml, format_key_table, key_table, load_config, preset_names

    if args.show:
        print(dump_yaml(load_config(args.show)), end="")
        return 0
    if args.keys:
        print(format_key_table(key_table()), end="")  # the shared keys, then each family's own
        return 0
    names = preset_names()
    width = max(map(len, names))
    for name, desc in names.items():
        print(f"{name:{width}s}  {desc}")
    return 0


def cmd_report(args) -> int:
    from ganforge.reporting import write_report

    print(f"wrote {write_report(args.run_dir, args.out, args.force)}")
    return 0


def cmd_bench(args) -> int:
    from ganforge.throughput import run_from_args

    run_from_args(args)
    return 0


# the run tools (sample, translate, predict, export, explore, studio) carry their module's main in args.main
COMMANDS = {"train": cmd_train, "eval": cmd_eval, "classifier": cmd_classifier,
            "convert": cmd_convert, "presets": cmd_presets, "report": cmd_report, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return (args.main if "main" in args else COMMANDS[args.command])(args)
    except UserError as e:
        print(f"ganforge {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
