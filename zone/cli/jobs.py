"""``zone jobs train|status|watch|list|cancel|result``: DP training jobs from the command line."""

from __future__ import annotations

import argparse
import json

from zone.cli.connect import add_connection, connect
from zone.client.jobs import JobStatus

_HYPER = {"epochs": int, "batch_size": int, "learning_rate": float, "max_grad_norm": float,
          "hidden_width": int, "seed": int}  # fmt: skip


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone jobs`` commands."""
    jobs = sub.add_parser("jobs", help="DP training jobs").add_subparsers(dest="sub", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = jobs.add_parser(name, help=help_text)
        p.set_defaults(handler=run)
        add_connection(p)
        return p

    train = command("train", "submit a training job (reserves the full epsilon)")
    train.add_argument("--product", required=True)
    train.add_argument("--epsilon", type=float, required=True)
    train.add_argument("--delta", type=float, required=True)
    train.add_argument("--feature", action="append", default=[])
    train.add_argument("--keep-in-zone", action="store_true")
    train.add_argument("--wait", action="store_true", help="watch until the job ends")
    for name, kind in _HYPER.items():
        train.add_argument(f"--{name.replace('_', '-')}", type=kind)
    for name in ("status", "watch", "cancel", "result"):
        command(name, f"{name} of a job").add_argument("job_id")
    command("list", "your jobs (all jobs for admins)").add_argument("--limit", type=int, default=50)


def _line(s: JobStatus) -> str:
    text = f"{s.job_id}  {s.state:<9}  {s.product}  epoch {s.epoch}/{s.epochs}  "
    text += f"epsilon {s.epsilon_spent:.3g}/{s.reserved_epsilon:g}  {s.reason}"
    return text.rstrip()


def run(args: argparse.Namespace) -> int:
    """Run one ``zone jobs`` command."""
    with connect(args) as client:
        if args.sub == "train":
            hyper = {k: getattr(args, k) for k in _HYPER if getattr(args, k) is not None}
            handle = client.train(args.product, epsilon=args.epsilon, delta=args.delta,
                                  keep_in_zone=args.keep_in_zone, features=args.feature,
                                  **hyper)  # fmt: skip
            print(_line(handle.last))
            if args.wait:
                final = handle.wait(lambda s: print(_line(s)))
                return 0 if final.state == "SUCCEEDED" else 1
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
            result = client.get_result(args.job_id)
            print(json.dumps(result.__dict__, indent=2, default=list))
    return 0
