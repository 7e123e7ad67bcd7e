"""``zone stats estimate|query``: DP statistics from the command line (through the SDK).

The syntax of ``--measure`` and ``--filter`` is :data:`SYNTAX` (shown by ``--help``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from zone.cli.connect import add_connection, connect
from zone.client import stats as q
from zone.errors import InvalidArgument

SYNTAX = """\
measures (--measure, repeatable; the epsilon is split evenly over them):
  count                     entities (rows) per group
  sum:COL                   sum of COL (clamped to its public bounds)
  mean:COL                  mean of COL
  histogram:COL[:BINS]      counts per value of COL's public domain, or per BINS equal bins
                            of its public bounds
  quantile:COL:Q1,Q2,...    quantiles of COL, each Q in (0, 1), e.g. quantile:employees:0.5

filters (--filter, repeatable; all must hold):
  COL=V                     equal to V
  COL>=V, COL<=V            at least / at most V
  COL=LOW..HIGH             between LOW and HIGH (inclusive; either side may be left out)
  COL~A,B,C                 one of A, B, C
  Values that read as integers or decimals are sent as numbers; s:V sends V as text
  (e.g. district=s:001). Quote filters with > or < in the shell: --filter 'founded_year>=2010'.

example:
  zone stats query --product enterprise-stats --measure count --measure mean:employees \\
      --group-by district --filter 'founded_year>=2010' --epsilon 0.5 --token-file bank.token
"""


def parse_value(text: str) -> str | int | float:
    """A filter value: number if it looks like one, text otherwise (``s:`` forces text)."""
    if text.startswith("s:"):
        return text[2:]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_measure(text: str) -> q.Measure:
    """``count``, ``sum:COL``, ``mean:COL``, ``histogram:COL[:BINS]``, ``quantile:COL:Q,...``."""
    kind, _, rest = text.partition(":")
    column, _, extra = rest.partition(":")
    try:
        if kind == "count" and not rest:
            return q.count()
        if kind in ("sum", "mean") and column and not extra:
            return q.sum_of(column) if kind == "sum" else q.mean(column)
        if kind == "histogram" and column:
            return q.histogram(column, int(extra) if extra else 0)
        if kind == "quantile" and column and extra:
            return q.quantiles(column, [float(x) for x in extra.split(",")])
    except ValueError:
        pass
    raise InvalidArgument(f"cannot read measure {text!r}")


def parse_filter(text: str) -> q.Filter:
    """``COL=V``, ``COL>=V``, ``COL<=V``, ``COL=LOW..HIGH`` or ``COL~A,B,C``."""
    for op in (">=", "<=", "~", "="):
        column, sep, value = text.partition(op)
        if sep and column:
            break
    else:
        raise InvalidArgument(f"cannot read filter {text!r}")
    if op == ">=":
        return q.between(column, parse_value(value), None)
    if op == "<=":
        return q.between(column, None, parse_value(value))
    if op == "~":
        return q.isin(column, [parse_value(v) for v in value.split(",")])
    low, dots, high = value.partition("..")
    if dots:
        return q.between(
            column, parse_value(low) if low else None, parse_value(high) if high else None
        )
    return q.eq(column, parse_value(value))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zone stats estimate`` and ``zone stats query``."""
    stats = sub.add_parser("stats", help="DP statistics").add_subparsers(dest="sub", required=True)
    for name, help_text in (
        ("estimate", "what a query would spend (spends nothing)"),
        ("query", "run a query; charges your budget"),
    ):
        p = stats.add_parser(name, help=help_text, description=help_text, epilog=SYNTAX)
        p.set_defaults(handler=run)
        add_connection(p)
        p.add_argument("--product", required=True, help="a statistics product granted to you")
        p.add_argument(
            "--measure", action="append", required=True, help="what to release (syntax below)"
        )
        p.add_argument(
            "--group-by", action="append", default=[], help="a column to group by (repeatable)"
        )
        p.add_argument("--filter", action="append", default=[], help="a condition (syntax below)")
        p.add_argument("--epsilon", type=float, required=True, help="privacy budget to spend")
        p.add_argument(
            "--delta", type=float, default=0.0, help="delta (only for products with key_selection)"
        )
        if name == "query":
            p.add_argument("--csv", type=Path, help="also write the released cells to this CSV")


def _numbers(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def run(args: argparse.Namespace) -> int:
    """Run ``zone stats estimate|query``."""
    measures = [parse_measure(m) for m in args.measure]
    filters = [parse_filter(f) for f in args.filter]
    with connect(args) as client:
        call = client.estimate_cost if args.sub == "estimate" else client.query_statistics
        result = call(
            args.product,
            measures,
            epsilon=args.epsilon,
            delta=args.delta,
            group_by=args.group_by,
            filters=filters,
        )
        if isinstance(result, q.CostEstimate):
            estimate = result
            for m in estimate.measures:
                print(
                    f"{m.kind}({m.column}): epsilon {m.epsilon:g}, "
                    f"{', '.join(m.mechanisms)}, noise scales {_numbers(m.noise_scales)}, "
                    f"sensitivities {_numbers(m.sensitivities)}, "
                    f"steps {_numbers(m.steps)} (in the measure's units)"
                )
            print(
                f"cost epsilon {estimate.epsilon:g} delta {estimate.delta:g}; remaining "
                f"epsilon {estimate.remaining_epsilon:g} on {estimate.dataset}"
            )
            return 0
    release = result
    rows = [_row(r, key) for r in release.results for key in r.cells]
    labels = [r.bin_labels for r in release.results for _ in r.cells]
    for row, bins in zip(rows, labels, strict=True):
        print("  ".join(_shown(row, bins)))
    if any(flag == "true" for row in rows for flag in row[4].split()):
        print(
            "low signal: the 95% error bound reaches the value (or, for a mean, half the "
            "column's bounds); read such values as noise"
        )
    print(
        "error bounds: 95%, from the released values and public noise scales only; "
        "quantile bounds are in ranks"
    )
    print(
        f"release {release.release_id}: charged epsilon {release.charged_epsilon:g}, "
        f"remaining {release.remaining_epsilon:g}; output {release.output_digest}"
    )
    if args.csv:
        with args.csv.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(CSV_HEADER)
            writer.writerows(rows)
    sys.stdout.flush()
    return 0


CSV_HEADER = (
    "measure",
    "group",
    "values",
    "error_bounds_95",
    "low_signal",
    "support",
    "bound_unit",
)


def _row(r: q.MeasureRelease, key: tuple[str, ...]) -> list[str]:
    """One CSV row (values, bounds and flags space-separated, one per value of the cell)."""
    support = r.support.get(key)
    return [
        f"{r.plan.kind}({r.plan.column})",
        "/".join(key) or "*",
        " ".join(f"{v:.6g}" for v in r.cells[key]),
        " ".join(f"{b:.6g}" for b in r.error_bounds.get(key, ())),
        " ".join("true" if f else "false" for f in r.low_signal.get(key, ())),
        "" if support is None else str(support),
        "ranks" if r.plan.kind == "quantile" else "value",
    ]


def _shown(row: list[str], bins: tuple[str, ...] = ()) -> list[str]:
    """The table line of a CSV row: each value with its bound, and the flags in words.

    A histogram's values are shown with their bin labels (``label: value ±bound``).
    """
    measure, group, values, bounds, flags, support, unit = row
    pairs = zip(values.split(), bounds.split() or ["?"] * len(values.split()), strict=False)
    suffix = " ranks" if unit == "ranks" else ""
    cells = [f"{v} ±{b}{suffix}" for v, b in pairs]
    if len(bins) == len(cells):
        cells = [f"{label}: {cell}" for label, cell in zip(bins, cells, strict=True)]
    shown = ", ".join(cells)
    extra = [f"n≈{support}"] if support else []
    if "true" in flags.split():
        extra.append("LOW SIGNAL")
    return [measure, group, shown, *extra]
