"""``zone jobs train|status|watch|list|cancel|result``: DP training jobs from the command line."""

from __future__ import annotations

import argparse
import json

from zone.cli.connect import add_connection, connect
from zone.client.jobs import JobStatus, TrainingResult

# The zone's defaults (zone.products.training._hyper), each clamped into the product's bounds;
# a hyperparameter without approved bounds in the product cannot be set at all.
_HYPER = {
    "epochs": (int, "passes over the data (default: 20)"),
    "batch_size": (int, "expected batch size, Poisson sampling (default: 256)"),
    "learning_rate": (float, "SGD step (default: 2.0 for logistic_regression, 0.5 otherwise)"),
    "max_grad_norm": (float, "per-example gradient clipping norm (default: 1.0)"),
    "hidden_width": (int, "hidden units, family mlp only (default: 32)"),
    "seed": (int, "initial weights only; the DP noise is never seeded (default: 0)"),
}
_HYPER_NOTE = """\
Hyperparameters left out take the zone's defaults shown above, clamped into the bounds the
product approves (its `bounds:`; ZoneClient.describe_product shows them). Setting one the
product gives no bounds for is refused. The whole epsilon is reserved at submission; --wait
follows the job and prints the released model (as `zone jobs result` does).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone jobs`` commands."""
    jobs = sub.add_parser("jobs", help="DP training jobs").add_subparsers(dest="sub", required=True)

    def command(name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
        p = jobs.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        p.set_defaults(handler=run)
        add_connection(p)
        return p

    train = command("train", "submit a training job (reserves the full epsilon)", _HYPER_NOTE)
    train.add_argument("--product", required=True, help="a training product granted to you")
    train.add_argument("--epsilon", type=float, required=True, help="privacy budget to spend")
    train.add_argument("--delta", type=float, required=True, help="delta of DP-SGD, e.g. 1e-6")
    train.add_argument(
        "--feature",
        action="append",
        default=[],
        help="train on this feature (repeatable; a subset of the product's; default: all of them)",
    )
    train.add_argument(
        "--keep-in-zone", action="store_true", help="keep the model in the zone (release its id)"
    )
    train.add_argument(
        "--wait", action="store_true", help="watch until the job ends, then print the model"
    )
    for name, (kind, help_text) in _HYPER.items():
        train.add_argument(f"--{name.replace('_', '-')}", type=kind, help=help_text)
    for name in ("status", "watch", "cancel", "result"):
        command(name, f"{name} of a job").add_argument("job_id")
    command("list", "your jobs (all jobs for admins)").add_argument(
        "--limit", type=int, default=50, help="most recent jobs to list"
    )


def _line(s: JobStatus) -> str:
    text = f"{s.job_id}  {s.state:<9}  {s.product}  epoch {s.epoch}/{s.epochs}  "
    text += f"epsilon {s.epsilon_spent:.3g}/{s.reserved_epsilon:g}  {s.reason}"
    return text.rstrip()


def run(args: argparse.Namespace) -> int:
    """Run one ``zone jobs`` command."""
    with connect(args) as client:
        if args.sub == "train":
            hyper = {k: getattr(args, k) for k in _HYPER if getattr(args, k) is not None}
            handle = client.train(
                args.product,
                epsilon=args.epsilon,
                delta=args.delta,
                keep_in_zone=args.keep_in_zone,
                features=args.feature,
                **hyper,
            )
            print(_line(handle.last))
            if args.wait:
                final = handle.wait(lambda s: print(_line(s)))
                if final.state != "SUCCEEDED":
                    return 1
                _print_result(client.get_result(final.job_id))
        elif args.sub == "status":
            print(_line(client.get_job(args.job_id)))
        elif args.sub == "watch":
            for status in client.watch_job(args.job_id):
                print(_line(status))
        elif args.sub == "list":
            for status in client.list_jobs(args.limit):
                print(_line(status))
        elif args.sub == "cancel":
            print(_line(client.cancel_job(args.job_id)))
        else:
            _print_result(client.get_result(args.job_id))
    return 0


def _print_result(result: TrainingResult) -> None:
    print(json.dumps(result.__dict__, indent=2, default=list))
