"""The data-flow alert rules: each counts, per principal, something the zone already records.

Every rule looks at one fixed window ``[start, end)`` (windows are aligned to multiples of the
rule's ``window_seconds`` since the Unix epoch) and returns a :class:`Finding` per principal
whose value reached the rule's threshold. Findings carry counts and product or dataset names
only, never subject keys or values: the subject keys read by ``enumeration`` are counted in
memory and dropped.

| rule | counts, per principal and window | recorded in |
|---|---|---|
| ``enumeration`` | distinct subjects checked (Match and Score) | ``verification_checks`` |
| ``budget_burn`` | the largest fraction of a budget (principal x dataset) charged | ``charges`` |
| ``differencing`` | near-duplicate statistics releases (same product and shape) | ``releases`` |
| ``refused_calls`` | calls the interceptor refused (credentials, role) | ``rpc`` audit records |
| ``cancelled_jobs`` | jobs cancelled after their worker touched data | ``jobs`` |
| ``consent_missing`` | answers without a required consent | ``releases``, ``consent_calls`` |
| ``import_refused`` | dataset imports refused by their quality checks | ``audit_log`` |

``differencing``: the zone records the shape of a statistics release (product, measures,
columns, group keys, bins, quantiles) but not the query's filters, so two releases of the same
shape in one window count as a near-duplicate pair whether their filters differ by one
condition (a differencing attempt) or not at all (an averaging attempt). Both are what the
rule is meant to surface; the threshold decides how many pairs are normal use.

``consent_missing`` covers only products that require consent (``consent`` other than
``none``): admission refuses such a check without one, so the count must be zero, and its
threshold is 1 and not configurable.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zone.audit.chain import first_seq_at
from zone.console.config import AlertRule, AlertRules
from zone.state.api import Tx

RULES = (
    "enumeration",
    "budget_burn",
    "differencing",
    "refused_calls",
    "cancelled_jobs",
    "consent_missing",
    "import_refused",
)

BudgetLimits = Mapping[tuple[str, str], int]
"""Micro-epsilon limit per (principal, dataset), from the policy set in force."""


@dataclass(frozen=True)
class RuleInputs:
    """What the rules need besides the records: budget limits and the products' consent rules.

    Attributes:
        limits: Micro-epsilon limit per (principal, dataset), from the policy set in force.
        consent_required: Ids of the products whose checks require the subject's consent.
    """

    limits: BudgetLimits = field(default_factory=dict)
    consent_required: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Window:
    """A fixed window ``[start, end)`` in Unix seconds."""

    start: float
    end: float

    @classmethod
    def containing(cls, moment: float, seconds: int) -> Window:
        """The window of length ``seconds`` (aligned to the epoch) holding ``moment``."""
        start = (int(moment) // seconds) * seconds
        return cls(float(start), float(start + seconds))

    def iso(self) -> tuple[str, str]:
        """Both ends as ISO-8601 UTC text, as the state tables store times."""
        return iso_time(self.start), iso_time(self.end)


@dataclass(frozen=True)
class Finding:
    """A principal over a rule's threshold in one window (no subject keys, no values)."""

    rule: str
    principal: str
    value: float
    detail: Mapping[str, Any] = field(default_factory=dict)


def iso_time(moment: float) -> str:
    """Unix seconds as ISO-8601 UTC text with microseconds (the zone's timestamp format)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


def enumeration(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Principals that checked at least ``threshold`` distinct subjects in the window."""
    subjects: dict[str, set[str]] = defaultdict(set)
    checks: Counter[str] = Counter()
    products: dict[str, set[str]] = defaultdict(set)
    rows = conn.execute(
        "SELECT principal, product, subjects FROM verification_checks "
        "WHERE checked_at >= ? AND checked_at < ?",
        (window.start, window.end),
    )
    for principal, product, text in rows:
        subjects[principal].update(str(text).split("\n"))
        checks[principal] += 1
        products[principal].add(product)
    return [
        Finding(
            "enumeration",
            p,
            len(s),
            {"distinct_subjects": len(s), "checks": checks[p], "products": sorted(products[p])},
        )
        for p, s in sorted(subjects.items())
        if len(s) >= rule.threshold
    ]


def budget_burn(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Principals that were charged at least ``threshold`` of a budget within the window."""
    start, end = window.iso()
    worst: dict[str, tuple[float, str, int]] = {}
    rows = conn.execute(
        "SELECT principal, dataset, SUM(epsilon_micro) FROM charges "
        "WHERE created_at >= ? AND created_at < ? AND state != 'refunded' GROUP BY 1, 2",
        (start, end),
    )
    for principal, dataset, spent in rows:
        limit = inputs.limits.get((principal, dataset), 0)
        if limit <= 0:
            continue
        fraction = int(spent) / limit
        if fraction > worst.get(principal, (-1.0, "", 0))[0]:
            worst[principal] = (fraction, dataset, int(spent))
    return [
        Finding(
            "budget_burn",
            p,
            round(f, 6),
            {"dataset": d, "epsilon_micro": spent, "limit_micro": inputs.limits[(p, d)]},
        )
        for p, (f, d, spent) in sorted(worst.items())
        if f >= rule.threshold
    ]


def release_shape(product: str, artifact: Mapping[str, Any]) -> str:
    """What a statistics release shows of its query: product, group keys, measures, bins."""
    measures = [
        [m.get("kind"), m.get("column"), m.get("bin_labels"), m.get("quantiles")]
        for m in artifact.get("measures", [])
        if isinstance(m, Mapping)
    ]
    return json.dumps([product, artifact.get("group_by"), measures], sort_keys=True)


def differencing(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Principals with at least ``threshold`` near-duplicate statistics release pairs."""
    start, end = window.iso()
    shapes: dict[str, Counter[str]] = defaultdict(Counter)
    products: dict[str, set[str]] = defaultdict(set)
    rows = conn.execute(
        "SELECT principal, product, artifact FROM releases "
        "WHERE kind = 'statistics' AND created_at >= ? AND created_at < ?",
        (start, end),
    )
    for principal, product, artifact in rows:
        shapes[principal][release_shape(product, json.loads(artifact))] += 1
        products[principal].add(product)
    findings = []
    for principal, counts in sorted(shapes.items()):
        pairs = sum(n - 1 for n in counts.values())
        if pairs >= rule.threshold:
            detail = {
                "pairs": pairs,
                "releases": sum(counts.values()),
                "products": sorted(products[principal]),
            }
            findings.append(Finding("differencing", principal, pairs, detail))
    return findings


def refused_calls(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Callers (principal, '' when unauthenticated) refused at least ``threshold`` times."""
    start, end = window.iso()
    first = first_seq_at(conn, start)
    rows = conn.execute(
        "SELECT json_extract(record, '$.principal'), json_extract(record, '$.status'), count(*) "
        "FROM audit_log WHERE seq >= ? AND ts < ? AND kind = 'rpc' "
        "AND json_extract(record, '$.decision') = 'deny' GROUP BY 1, 2",
        (first, end),
    )
    totals: Counter[str] = Counter()
    statuses: dict[str, dict[str, int]] = defaultdict(dict)
    for principal, status, count in rows:
        totals[principal or ""] += int(count)
        statuses[principal or ""][str(status)] = int(count)
    return [
        Finding("refused_calls", p, n, {"refused": n, "statuses": statuses[p]})
        for p, n in sorted(totals.items())
        if n >= rule.threshold
    ]


def cancelled_jobs(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Principals with at least ``threshold`` jobs cancelled after they touched data."""
    start, end = window.iso()
    # Per (principal, product), summed here: group_concat is SQLite's, string_agg PostgreSQL's.
    counts: Counter[str] = Counter()
    products: dict[str, set[str]] = defaultdict(set)
    for p, product, n in conn.execute(
        "SELECT principal, product, count(*) FROM jobs "
        "WHERE state = 'cancelled' AND touched_data = 1 AND finished_at >= ? "
        "AND finished_at < ? GROUP BY 1, 2",
        (start, end),
    ):
        counts[p] += int(n)
        products[p].add(str(product))
    return [
        Finding("cancelled_jobs", p, n, {"jobs": n, "products": sorted(products[p])})
        for p, n in sorted(counts.items())
        if n >= rule.threshold
    ]


def consent_missing(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Principals released verification answers without the consent their product requires.

    Counts, for the products in ``inputs.consent_required``, the receipts (``releases``) whose
    consent mode is ``none`` or that name no consent used, and the subjects of admitted calls
    recorded without a consent (``consent_calls`` rows of mode ``none``). The zone's admission
    refuses both, so any count means a bug or a tampered state: the threshold is 1.
    """
    required = sorted(inputs.consent_required)
    if not required:
        return []
    start, end = window.iso()
    marks = ", ".join("?" for _ in required)
    receipts: Counter[str] = Counter()
    uses: Counter[str] = Counter()
    products: dict[str, set[str]] = defaultdict(set)
    rows = conn.execute(
        "SELECT principal, product, receipt FROM releases WHERE kind = 'verification' "
        f"AND created_at >= ? AND created_at < ? AND product IN ({marks})",
        (start, end, *required),
    )
    for principal, product, text in rows:
        receipt = json.loads(text)
        if receipt.get("consent_mode", "none") == "none" or not receipt.get("consents"):
            receipts[principal] += 1
            products[principal].add(product)
    rows = conn.execute(
        "SELECT principal, product, SUM(subject_count) FROM consent_calls WHERE mode = 'none' "
        f"AND used_at >= ? AND used_at < ? AND product IN ({marks}) GROUP BY 1, 2",
        (window.start, window.end, *required),
    )
    for principal, product, count in rows:
        uses[principal] += int(count)
        products[principal].add(product)
    findings = []
    for principal in sorted(products):
        value = receipts[principal] + uses[principal]
        if value >= rule.threshold:
            detail = {
                "receipts_without_consent": receipts[principal],
                "checks_without_consent": uses[principal],
                "products": sorted(products[principal]),
            }
            findings.append(Finding("consent_missing", principal, value, detail))
    return findings


def import_refused(conn: Tx, window: Window, rule: AlertRule, inputs: RuleInputs) -> list[Finding]:
    """Dataset imports refused by their quality checks (``dataset.import`` records, refused).

    An import is an administrator's act, run offline (``zone datasets import``), so the
    finding names no principal; its detail names the datasets and report digests (counts per
    column and kind live in the report, never a value).
    """
    start, end = window.iso()
    rows = conn.execute(
        "SELECT record FROM audit_log WHERE seq >= ? AND ts < ? AND kind = 'dataset.import' "
        "AND json_extract(record, '$.outcome') = 'refused'",
        (first_seq_at(conn, start), end),
    ).fetchall()
    refused = [json.loads(text) for (text,) in rows]
    if len(refused) < rule.threshold:
        return []
    detail = {
        "imports_refused": len(refused),
        "datasets": sorted({str(r.get("dataset", "")) for r in refused}),
        "report_digests": sorted({str(r.get("report_digest", "")) for r in refused})[:20],
    }
    return [Finding("import_refused", "", len(refused), detail)]


RuleFunction = Callable[[Tx, Window, AlertRule, RuleInputs], list[Finding]]

RULE_FUNCTIONS: Mapping[str, RuleFunction] = {
    "enumeration": enumeration,
    "budget_burn": budget_burn,
    "differencing": differencing,
    "refused_calls": refused_calls,
    "cancelled_jobs": cancelled_jobs,
    "consent_missing": consent_missing,
    "import_refused": import_refused,
}


def rule_settings(rules: AlertRules) -> dict[str, AlertRule]:
    """Each rule's threshold and window, by rule name."""
    return {name: getattr(rules, name) for name in RULES}
