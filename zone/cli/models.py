"""``zone models review|approve|reject``: administrators decide which kept models may score.

``review`` prints what the decision rests on: the model's features with their weights and
their share of the logit's range, the product's rule check, the DP training receipt, the
dataset version the model was trained on and the one served now, and the decision in force.
``approve`` is refused for a model that breaks the product's rules; it approves the model for
the dataset version served now, which is also how a model trained on an older version is
approved again after a new version was activated (``zone.models.lineage``).
"""

from __future__ import annotations

import argparse
import json

from zone.cli.connect import add_connection, connect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone models`` commands."""
    models = sub.add_parser("models", help="review kept models before they score (admin)")
    actions = models.add_subparsers(dest="sub", required=True)
    for name, help_text in (
        ("review", "features, weights, shares, rule check and training receipt"),
        ("approve", "let the model serve Score for the product"),
        ("reject", "refuse (or withdraw) the model for the product"),
    ):
        p = actions.add_parser(name, help=help_text)
        p.set_defaults(handler=run)
        p.add_argument("model_id")
        p.add_argument("--product", required=True, help="the verification product")
        if name != "review":
            p.add_argument("--reason", required=True, help="why (on the audit chain)")
        add_connection(p, admin=True)


def run(args: argparse.Namespace) -> int:
    """Run one ``zone models`` command."""
    with connect(args) as client:
        if args.sub == "review":
            review = client.review_model(args.model_id, args.product)
            print(
                f"model {review.model_id} (owner {review.owner}, job {review.job_id}, "
                f"trained by {review.trained_by}) for {review.product}"
            )
            print(f"link {review.link}, intercept {review.intercept:g}")
            print(f"trained on dataset version {review.trained_on_version or '(unrecorded)'}; "
                  f"serving {review.serving_version}")  # fmt: skip
            if review.trained_on_version != review.serving_version:
                print("the zone serves another version than the model was trained on: Score "
                      "uses it only once it is approved for the version served")  # fmt: skip
            print(f"{'feature':24} {'side':6} {'weight':>10} {'share':>7}")
            for f in review.features:
                print(f"{f.name:24} {f.side:6} {f.weight:10.4g} {f.share:7.1%}")
            for problem in review.problems:
                print(f"refused by the product's rules: {problem}")
            if not review.problems:
                print("the product's scoring rules allow this model")
            if review.training_receipt_json:
                receipt = json.loads(review.training_receipt_json)
                keys = ("release_id", "epsilon_micro", "delta_femto", "accountant")
                print("training receipt: " + ", ".join(f"{k} {receipt.get(k)}" for k in keys))
            if review.HasField("decision"):
                d = review.decision
                print(
                    f"decision in force: {d.decision} by {d.reviewer} at {d.decided_at} "
                    f"(dataset version {d.dataset_version or 'unrecorded'}): {d.reason}"
                )
            print(f"review digest {review.review_digest}")
            return 0
        decision = client.decide_model(
            args.model_id, args.product, approve=args.sub == "approve", reason=args.reason
        )
        print(
            f"{decision.decision}: model {decision.model_id} for {decision.product} "
            f"(dataset version {decision.dataset_version})"
        )
        return 0
