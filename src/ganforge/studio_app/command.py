"""`ganforge studio [RUN ...]`: its help and options, and its main (imports nothing heavy until it runs)."""

from __future__ import annotations

HELP = "a live page in the browser: drag the seed, change the class, drop in an image, watch the curves"
DESCRIPTION = ("Serve one page on this machine for the runs given (several side by side; none: the generator "
               "shipped with ganforge, pretrained:fashion): samples with seed, truncation and class controls, "
               "interpolation, style mixing, class directions, images translated or projected, clips continued, "
               "and the run's curves while it trains; each view names the equivalent command and Python call, and "
               "saves what it shows into RUN/studio/. Needs pip install \"ganforge[studio]\".")


def add_arguments(p) -> None:
    from ganforge.studio_app import DEFAULT_PORT

    p.add_argument("runs", nargs="*", metavar="RUN",
                   help="run folders, or pretrained:NAME (default pretrained:fashion)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; anything else is warned about)")
    p.add_argument("--open", dest="open_browser", action="store_true", help="open the page in the browser")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def main(args) -> int:
    from ganforge.studio_app import serve

    serve(args.runs, host=args.host, port=args.port, open_browser=args.open_browser, device=args.device)
    return 0
