"""Example clients: what an operator, a researcher and an administrator see of the demo zone.

Run by ``make demo`` against a zone it started; tokens come from the DEMO ONLY token file.
``--instance`` (the id ``zone serve`` printed) makes sure it is that zone, not another one
listening at the same address.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from zone.client import ZoneClient, ZoneClientError
from zone.client.health import wait_until_serving
from zone.client.stats import between, count, histogram, mean, quantiles
from zone.money import format_micro


def read_tokens(path: Path) -> dict[str, str]:
    tokens = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            tokens[key.strip()] = value.strip()
    return tokens


def show_operator(target: str, token: str) -> None:
    print("\n-- operator bank-a: what am I granted?")
    with ZoneClient(target, token=token) as bank:
        for ds in bank.list_datasets():
            print(
                f"dataset {ds.name}: ~{ds.approx_row_count:,} rows "
                f"(rounded to {ds.row_count_granularity:,}), version {ds.version[:23]}..."
            )
            print(f"  provider: {ds.provider}")
            desc = bank.describe_dataset(ds.name)
            for col in desc.columns:
                public = (
                    f"bounds {col.bounds}"
                    if col.bounds
                    else (f"domain of {len(col.domain)} values" if col.domain else "")
                )
                print(f"  {col.name:<20} {col.type:<8} {col.classification}  {public}")
        for product in bank.list_products():
            detail = bank.describe_product(product.id)
            terms = detail.grant
            budget = terms.budget if terms else {}
            print(f"product {product.id} ({product.kind}) over {product.dataset}; budget {budget}")
        print("rows? there is no RPC that returns rows: the API has none.")
        show_statistics(bank)
        show_training(bank)


def show_statistics(bank: ZoneClient) -> None:
    print("\n-- operator bank-a: differentially private statistics")
    measures = [count(), mean("employees")]
    estimate = bank.estimate_cost("enterprise-stats", measures, epsilon=0.5, group_by=["district"])
    print(
        f"estimate: epsilon {estimate.epsilon:g} of {estimate.remaining_epsilon:g} remaining; "
        + "; ".join(
            f"{m.kind}({m.column or '*'}) eps {m.epsilon:g} scale {m.noise_scales[0]:.3g}"
            for m in estimate.measures
        )
    )
    release = bank.query_statistics(
        "enterprise-stats",
        measures,
        epsilon=0.5,
        group_by=["district"],
        filters=[between("founded_year", 2010, None)],
    )
    counts, means = release.results
    print("enterprises founded since 2010, by district (noisy count, noisy mean employees):")
    for key in list(counts.cells)[:6]:
        print(f"  {key[0]:<10} {counts.cells[key][0]:>8.0f} {means.cells[key][0]:>8.1f}")
    print(f"  ... {len(counts.cells)} districts, exactly the declared ones")
    print(
        f"release {release.release_id[:12]}...: charged epsilon {release.charged_epsilon:g}, "
        f"remaining {release.remaining_epsilon:g}, receipt digest {release.output_digest[:23]}..."
    )
    expect_error(
        "a query above the per-query epsilon cap",
        lambda: bank.query_statistics("enterprise-stats", [count()], epsilon=3.0),
    )
    expect_error(
        "a sum over the L4 column legal_rep_id",
        lambda: bank.query_statistics("enterprise-stats", [mean("legal_rep_id")], epsilon=0.1),
    )


def show_training(bank: ZoneClient) -> None:
    print("\n-- operator bank-a: a DP-SGD training job (the model trains inside the zone)")
    job = bank.train("enterprise-default-lr", epsilon=1.0, delta=1e-6, epochs=3)
    print(f"job {job.job_id[:12]}... submitted: {job.last.state}, epsilon 1.0 reserved")
    final = job.wait(
        lambda s: print(
            f"  {s.state:<9} epoch {s.epoch}/{s.epochs}  epsilon spent {s.epsilon_spent:.3f}"
        )
    )
    if final.state != "SUCCEEDED":
        raise SystemExit(f"training failed: {final.reason}")
    result = job.result()
    print(f"released: {result.family} on {result.device}, accountant {result.accountant}")
    for name, weight in zip(result.features, result.weights, strict=True):
        print(f"  {name:<20} {weight:+.3f}")
    print(f"  {'intercept':<20} {result.intercept:+.3f}")
    print(
        f"DP validation accuracy {result.metrics['accuracy']:.3f} "
        f"(epsilon {result.epsilon_metrics:g} of {result.charged_epsilon:g}; "
        f"training {result.epsilon_training:.3f}); receipt digest {result.output_digest[:23]}..."
    )
    print("the delta budget (1e-5) leaves room for nine more jobs at delta 1e-6; not for:")
    expect_error(
        "a job asking for more delta than remains",
        lambda: bank.train("enterprise-default-lr", epsilon=0.5, delta=9.5e-6, epochs=1),
    )


def show_researcher(target: str, token: str) -> None:
    print("\n-- researcher city-research: granted statistics only")
    with ZoneClient(target, token=token) as researcher:
        print("products:", [p.id for p in researcher.list_products()])
        release = researcher.query_statistics(
            "enterprise-stats",
            [histogram("industry"), quantiles("founded_year", [0.25, 0.5, 0.75])],
            epsilon=1.0,
        )
        hist, quart = release.results
        top = sorted(zip(hist.bin_labels, hist.cells[()], strict=True), key=lambda x: -x[1])
        print("  largest industry sections (noisy):", [(k, round(v)) for k, v in top[:4]])
        print("  founding-year quartiles (noisy):", [round(v) for v in quart.cells[()]])
        print(f"  remaining budget: epsilon {release.remaining_epsilon:g}")
        expect_error(
            "describe the training product it is not granted",
            lambda: researcher.describe_product("enterprise-default-lr"),
        )
        expect_error("verify the audit chain (admin only)", researcher.verify_audit)


def show_refusals(target: str, tokens: dict[str, str]) -> None:
    print("\n-- refused callers")
    with ZoneClient(target) as anonymous:
        expect_error("no token", anonymous.list_datasets)
    with ZoneClient(target, token="not-a-real-token") as forged:
        expect_error("wrong token", forged.list_datasets)
    with ZoneClient(target, token=tokens["ZONE_DEMO_EXPIRED_TOKEN"]) as lapsed:
        expect_error("principal whose licence lapsed", lapsed.list_datasets)


def show_admin(target: str, token: str) -> None:
    print("\n-- administrator zone-admin")
    with ZoneClient(target, token=token) as admin:
        reload = admin.reload_policies()
        print(f"policies reloaded: {reload.principals} principals, {reload.grants} grants")
        print(f"  policy digest {reload.policy_digest}")
        check = admin.verify_audit()
        print(f"audit chain: ok={check.ok}, {check.length} records, head {check.head_hash[:16]}...")
        show_billing(admin)


def show_billing(admin: ZoneClient) -> None:
    print("usage this month (metered; public-interest calls are free, their list price waived):")
    for u in admin.get_usage(
        datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ):
        print(
            f"  {u.principal:<14} {u.product:<22} calls {u.calls:>3} jobs {u.jobs:>2} "
            f"unbilled {u.unbilled:>2}  {u.currency or '-'} {format_micro(u.amount_micro):>8}  "
            f"waived {format_micro(u.waived_micro)}"
        )
    print("revenue shared with the data providers (to the micro-unit):")
    for r in admin.get_revenue():
        amount = format_micro(r.amount_micro)
        print(f"  {r.provider:<20} {r.currency} {amount:>10} from {r.charges} charges")
    budgets = admin.get_budgets(dataset="enterprises")
    for b in budgets.budgets:
        print(f"  budget {b.principal:<14} spent {b.spent_epsilon:g} of {b.limit_epsilon:g}")


def expect_error(what: str, call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except ZoneClientError as exc:
        print(f"  {what}: {exc.code.name} ({exc.message})")
        return
    raise SystemExit(f"expected {what} to be refused")


def show_verification(target: str, token: str, registry: Path) -> None:
    """bank-a checks two applicants' claims and scores one, with their registered consent."""
    if not registry.exists():
        return
    with registry.open() as handle:
        applicants = [row for _, row in zip(range(2), csv.DictReader(handle), strict=False)]
    subjects = [row["uscc"] for row in applicants]
    print("\n-- operator bank-a: verification (the zone never sees the claims)")
    with ZoneClient(target, token=token) as bank:
        until = datetime.now(UTC) + timedelta(days=30)
        consents = {}
        for purpose in ("loan applications", "loan pricing"):
            consents[purpose] = [
                bank.register_consent(
                    "capital-match",
                    subject,
                    purpose=purpose,
                    not_after=until,
                    max_uses=3,
                    letter_sha256=hashlib.sha256(f"letter of {subject}".encode()).hexdigest(),
                ).consent
                for subject in subjects
            ]
        print(
            f"  registered consents {', '.join(c[:10] + '...' for c in consents['loan pricing'])}"
        )
        claims = {
            "registered_capital": [float(applicants[0]["registered_capital"]), 1.23],
            "employees": [int(row["employees"]) + 1 for row in applicants],
        }
        report = bank.match("capital-match", subjects, claims, purpose="loan applications",
                            consents=consents["loan applications"])  # fmt: skip
        for result in report:
            print(f"  {result.subject}: {result.status} {dict(result.claims)}")
        refused = bank.match(
            "capital-match",
            subjects[:1],
            {"employees": [1]},
            purpose="marketing",
            consents=consents["loan applications"][:1],
        )
        print(f"  another purpose: {refused[0].status} ({refused[0].refusal})")
        ckks = bank.he.new_keys("ckks-8192")
        bank.register_key(ckks)
        features = {"loan_amount": 800.0, "days_overdue": 12.0}
        risk = bank.score("capital-match", ckks, subjects[0], features, purpose="loan pricing",
                          consent=consents["loan pricing"][0])  # fmt: skip
        print(f"  joint default risk of {subjects[0]}: {risk:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--instance", help="the instance id `zone serve` printed")
    parser.add_argument("--tokens", type=Path, default=Path("examples/demo_tokens.env"))
    args = parser.parse_args(argv)
    tokens = read_tokens(args.tokens)
    try:
        waited = wait_until_serving(args.target, instance=args.instance)
    except ZoneClientError as exc:
        raise SystemExit(f"demo stopped: {exc.message}") from None
    with ZoneClient(args.target) as zone:
        instance = zone.instance_id()
    print(f"zone instance {instance} at {args.target} is SERVING (waited {waited:.1f}s)")
    show_operator(args.target, tokens["ZONE_DEMO_BANK_TOKEN"])
    show_verification(args.target, tokens["ZONE_DEMO_BANK_TOKEN"], Path("var/demo/enterprises.csv"))
    show_researcher(args.target, tokens["ZONE_DEMO_RESEARCHER_TOKEN"])
    show_refusals(args.target, tokens)
    show_admin(args.target, tokens["ZONE_DEMO_ADMIN_TOKEN"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
