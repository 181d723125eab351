"""``python -m benchmarks``: run the suite, write the JSON and the Markdown report."""

# License: BSD 3 clause

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import torch

from . import inference, memory, quality, scaling, small_data, throughput
from ._harness import limit_threads
from .config import settings_for
from .report import machine, markdown

#: The areas in report order, by the name ``--only`` takes.
AREAS = {
    "throughput": throughput,
    "inference": inference,
    "memory": memory,
    "scaling": scaling,
    "quality": quality,
    "small_data": small_data,
}

HERE = Path(__file__).resolve().parent


def _device(name):
    """The torch device of ``--device``; "auto" is CUDA when there is one."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for but CUDA is not available.")
    return torch.device(name)


def _areas(text):
    """Parse ``--only``: area names separated by commas, in the order given."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(AREAS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown area(s) {unknown}; choose from {list(AREAS)}")
    return names


def parse_args(argv=None):
    """The command line; see ``python -m benchmarks --help``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sizes: under two minutes on a 2-core CPU")
    mode.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help="tiny sizes that only exercise the code (for the tests)")
    parser.set_defaults(mode="full")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where skvae and the torch baselines run (default: auto)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON of every measurement (default: benchmarks/results-MODE.json)")
    parser.add_argument("--markdown", type=Path, default=HERE / "RESULTS.md",
                        help="Markdown report (default: benchmarks/RESULTS.md)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of torch and of the BLAS/OpenMP pools (default: their "
                             "own choice); 1 keeps timings stable on a machine that other "
                             "work shares")
    parser.add_argument("--only", type=_areas, default=list(AREAS),
                        help=f"comma-separated subset of {','.join(AREAS)}")
    return parser.parse_args(argv)


def run(mode, device, areas, command):
    """Run the named areas and return the results dict.

    Parameters
    ----------
    mode : {"smoke", "quick", "full"}
    device : torch.device
    areas : list of str
        Keys of :data:`AREAS`.
    command : str
        The command line, recorded in the report.

    Returns
    -------
    results : dict
        ``meta`` (machine, mode, timings) and ``areas`` (each with its rows).
    """
    settings = settings_for(mode, device)
    meta = {"mode": mode, "command": command, "repeats": settings.repeats,
            "settings": vars(settings), "machine": machine(device)}
    results = {"meta": meta, "areas": {}}
    start = time.perf_counter()
    for name in areas:
        began = time.perf_counter()
        area = AREAS[name].run(settings, device)
        area["seconds"] = time.perf_counter() - began
        results["areas"][name] = area
        print(f"{name}: {area['seconds']:.1f} s", file=sys.stderr, flush=True)
    meta["seconds"] = time.perf_counter() - start
    meta["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return results


def main(argv=None):
    """Entry point of ``python -m benchmarks``."""
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    with limit_threads(args.threads):
        results = run(args.mode, _device(args.device), args.only, command)
    out = args.out or HERE / f"results-{args.mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(markdown(results))
    print(f"wrote {out} and {args.markdown} in {results['meta']['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
