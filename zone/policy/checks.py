"""Checks across values and files of a policy set, each problem at the line that causes it.

The schema (:mod:`zone.policy.schema`) has already checked every value on its own; these checks
relate values: credentials, validity windows, uniqueness across files, and references to
principals, products and datasets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

from zone.consent.keys import decode_authority_key, encode_authority_key
from zone.errors import Problem
from zone.policy.model import DP_PRODUCT_KINDS, ProductRef
from zone.policy.schema import BudgetSpec, ConsentAuthoritySpec, GrantSpec, PrincipalSpec
from zone.yamlio import YamlDocument


@dataclass
class PolicyDocument:
    """The valid parts of one policy file, each item with its index in the file."""

    doc: YamlDocument
    principals: list[tuple[int, PrincipalSpec]] = field(default_factory=list)
    grants: list[tuple[int, GrantSpec]] = field(default_factory=list)
    dataset_caps: list[tuple[str, BudgetSpec]] = field(default_factory=list)
    consent_authorities: list[tuple[int, ConsentAuthoritySpec]] = field(default_factory=list)
    # Ids of principals that failed the schema: grants to them are not "unknown".
    invalid_principal_ids: set[str] = field(default_factory=set)

    def where(self, loc: tuple[str | int, ...]) -> str:
        """``source:line`` of ``loc``, for messages pointing at another definition."""
        line = self.doc.line_of(loc)
        return self.doc.source if line is None else f"{self.doc.source}:{line}"


def check_policies(
    files: list[PolicyDocument],
    products: Mapping[str, ProductRef],
    datasets: Collection[str],
    *,
    complete: bool = True,
) -> list[Problem]:
    """Every cross-value problem of ``files`` (given in load order).

    ``complete`` is False when some file could not be parsed at all: its principals are
    unknown, so grants naming unknown principals are not reported (they may be defined there).
    """
    problems = list(_check_principals(files))
    known = {spec.id for f in files for _, spec in f.principals}
    known |= {pid for f in files for pid in f.invalid_principal_ids}
    for f in files:
        for index, grant in f.grants:
            if complete and grant.principal not in known:
                loc = ("grants", index, "principal")
                problems.append(
                    f.doc.problem(loc, f"grant names unknown principal {grant.principal!r}")
                )
            problems.extend(_check_grant(f.doc, index, grant, products, datasets))
    problems.extend(_check_caps(files, datasets))
    problems.extend(_check_authorities(files))
    if complete:
        problems.extend(_check_issuer_products(files, products))
    return problems


def _check_principals(files: list[PolicyDocument]) -> Iterator[Problem]:
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    certs: dict[str, str] = {}
    for f in files:
        for index, spec in f.principals:
            loc = ("principals", index)
            yield from _check_window(f.doc, loc, spec.valid_from, spec.valid_until)
            if spec.token_sha256 is None and spec.cert_identity is None:
                yield f.doc.problem(
                    loc, f"principal {spec.id!r} needs a credential: token_sha256 or cert_identity"
                )
            if spec.id in ids:
                yield f.doc.problem(
                    (*loc, "id"),
                    f"duplicate principal id {spec.id!r} (first defined at {ids[spec.id]})",
                )
                continue
            ids[spec.id] = f.where(loc)
            if spec.token_sha256 is not None:
                yield from _unique(f.doc, (*loc, "token_sha256"), spec, spec.token_sha256, tokens)
            if spec.cert_identity is not None:
                yield from _unique(f.doc, (*loc, "cert_identity"), spec, spec.cert_identity, certs)


def _unique(
    doc: YamlDocument,
    loc: tuple[str | int, ...],
    spec: PrincipalSpec,
    value: str,
    seen: dict[str, str],
) -> Iterator[Problem]:
    other = seen.setdefault(value, spec.id)
    if other != spec.id:
        what = loc[-1]
        yield doc.problem(
            loc, f"{what} is already used by principal {other!r}; each principal needs its own"
        )


def _check_window(
    doc: YamlDocument, loc: tuple[str | int, ...], start: date | None, end: date | None
) -> Iterator[Problem]:
    if start is not None and end is not None and start > end:
        yield doc.problem((*loc, "valid_from"), f"valid_from {start} is after valid_until {end}")


def _check_grant(
    doc: YamlDocument,
    index: int,
    grant: GrantSpec,
    products: Mapping[str, ProductRef],
    datasets: Collection[str],
) -> Iterator[Problem]:
    loc = ("grants", index)
    yield from _check_window(doc, loc, grant.valid_from, grant.valid_until)
    for j, product_id in enumerate(grant.products):
        ref = products.get(product_id)
        if ref is None:
            yield doc.problem((*loc, "products", j), f"unknown product {product_id!r}")
        elif ref.kind in DP_PRODUCT_KINDS and ref.dataset not in grant.budget:
            yield doc.problem(
                (*loc, "products", j),
                f"{ref.kind} product {product_id!r} uses dataset {ref.dataset!r}, "
                f"but the grant has no budget for {ref.dataset!r}",
            )
    yield from _check_quota(doc, loc, grant)
    yield from _check_price(doc, loc, grant)
    for dataset, budget in grant.budget.items():
        if dataset not in datasets:
            yield doc.problem((*loc, "budget", dataset), f"budget for unknown dataset {dataset!r}")
        cap = grant.per_job_epsilon
        if cap is not None and cap > budget.epsilon:
            yield doc.problem(
                (*loc, "per_job_epsilon"),
                f"per_job_epsilon {cap} exceeds the budget epsilon {budget.epsilon} "
                f"for dataset {dataset!r}",
            )


def _check_quota(
    doc: YamlDocument, loc: tuple[str | int, ...], grant: GrantSpec
) -> Iterator[Problem]:
    if grant.quota is None:
        return
    if grant.quota.calls_per_day is None and not grant.quota.products:
        yield doc.problem((*loc, "quota"), "quota needs calls_per_day or products")
    for product in grant.quota.products:
        if product not in grant.products:
            yield doc.problem(
                (*loc, "quota", "products", product),
                f"quota for product {product!r}, which the grant does not cover",
            )


def _check_price(
    doc: YamlDocument, loc: tuple[str | int, ...], grant: GrantSpec
) -> Iterator[Problem]:
    price = grant.price
    if price is None or not price.tiers:
        return
    if price.per_call is not None:
        yield doc.problem((*loc, "price", "per_call"), "give either per_call or tiers, not both")
    if price.tiers[0].from_calls != 0:
        yield doc.problem(
            (*loc, "price", "tiers", 0, "from_calls"), "the first tier must start at from_calls 0"
        )
    for i in range(1, len(price.tiers)):
        if price.tiers[i].from_calls <= price.tiers[i - 1].from_calls:
            yield doc.problem(
                (*loc, "price", "tiers", i, "from_calls"),
                f"tiers must be in increasing order of from_calls "
                f"({price.tiers[i].from_calls} follows {price.tiers[i - 1].from_calls})",
            )


def _check_caps(files: list[PolicyDocument], datasets: Collection[str]) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for f in files:
        for dataset, _ in f.dataset_caps:
            loc = ("dataset_caps", dataset)
            if dataset not in datasets:
                yield f.doc.problem(loc, f"dataset cap for unknown dataset {dataset!r}")
            if dataset in seen:
                yield f.doc.problem(
                    loc, f"dataset cap for {dataset!r} is already set at {seen[dataset]}"
                )
            else:
                seen[dataset] = f.where(loc)


def _check_authorities(files: list[PolicyDocument]) -> Iterator[Problem]:
    """Authority ids are unique across files, and no two authorities share a key."""
    ids: dict[str, str] = {}
    keys: dict[str, str] = {}
    for f in files:
        for index, spec in f.consent_authorities:
            loc = ("consent_authorities", index)
            if spec.id in ids:
                yield f.doc.problem(
                    (*loc, "id"),
                    f"duplicate consent authority id {spec.id!r} (first defined at {ids[spec.id]})",
                )
                continue
            ids[spec.id] = f.where(loc)
            key = encode_authority_key(decode_authority_key(spec.public_key))
            other = keys.setdefault(key, spec.id)
            if other != spec.id:
                yield f.doc.problem(
                    (*loc, "public_key"),
                    f"public_key is already the key of consent authority {other!r}; "
                    "each authority needs its own",
                )


def _check_issuer_products(
    files: list[PolicyDocument], products: Mapping[str, ProductRef]
) -> Iterator[Problem]:
    """A grant of a ``consent: issuer`` product needs a consent authority to verify tokens."""
    if any(f.consent_authorities for f in files):
        return
    for f in files:
        for index, grant in f.grants:
            for j, product_id in enumerate(grant.products):
                ref = products.get(product_id)
                if ref is not None and ref.consent == "issuer":
                    yield f.doc.problem(
                        ("grants", index, "products", j),
                        f"product {product_id!r} takes consent tokens (consent: issuer), but "
                        "no consent_authorities are configured: every subject would be refused",
                    )
