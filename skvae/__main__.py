"""Command line: ``python -m skvae demo``."""

# License: BSD 3 clause

import argparse
import sys


def build_parser():
    """The argument parser of the ``skvae`` command."""
    parser = argparse.ArgumentParser(
        prog="skvae", description="Variational autoencoders as scikit-learn estimators."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="fit PCA and a VAE on the bundled digits and compare them",
        description="Fit PCA and VAETransformer at the same latent size on load_digits, "
        "print held-out log-likelihood and latent classification accuracy side by side, "
        "and write a PNG of reconstructed and sampled digits.",
    )
    demo.add_argument("--n-components", type=int, default=8, help="latent size (default 8)")
    demo.add_argument("--max-iter", type=int, default=300, help="epochs at most (default 300)")
    demo.add_argument("--output", default="skvae-demo.png", help="PNG path (default skvae-demo.png)")
    demo.add_argument("--device", default="auto", help="torch device (default auto)")
    return parser


def main(argv=None):
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import main as demo

        demo(args.n_components, args.max_iter, args.output, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
