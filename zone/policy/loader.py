"""Load ``policies/*.yaml`` into a :class:`PolicySet`, reporting every problem at once.

Files are read in name order, once each: the same bytes are parsed and hashed into the policy
digest. Problems from every file (syntax, schema, cross-references) are collected and raised as
one :class:`ValidationFailed`, sorted by file and line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TypeVar

import pydantic

from zone.consent.keys import decode_authority_key
from zone.errors import Problem, ValidationFailed
from zone.money import to_micro
from zone.policy.checks import PolicyDocument, check_policies
from zone.policy.engine import PolicySet
from zone.policy.model import (
    Budget,
    ConsentAuthority,
    Credential,
    Grant,
    Price,
    PriceTier,
    Principal,
    ProductRef,
    Quota,
)
from zone.policy.schema import (
    BudgetSpec,
    ConsentAuthoritySpec,
    GrantSpec,
    PolicyFile,
    PriceSpec,
    PrincipalSpec,
)
from zone.yamlio import YamlDocument, parse_yaml, read_yaml_bytes, validate_model

M = TypeVar("M", bound=pydantic.BaseModel)
WHAT = "policy check"


def load_policies(
    policies_dir: Path,
    products: Mapping[str, ProductRef],
    datasets: Collection[str],
    *,
    source_root: Path | None = None,
) -> PolicySet:
    """Load and check every ``*.yaml`` file in ``policies_dir``.

    Args:
        policies_dir: The directory of policy files (not searched recursively).
        products: Approved products by id, to check grants against.
        datasets: Names of the datasets in the zone.
        source_root: Problem sources are paths relative to this (default: the parent of
            ``policies_dir``, giving e.g. ``policies/ops.yaml``).

    Returns:
        The policy set; empty (denying everything) when the directory has no policy files.

    Raises:
        ValidationFailed: With every problem found, if there is any.
    """
    root = policies_dir.parent if source_root is None else source_root
    paths = _list_dir(policies_dir, _relative(policies_dir, root))
    problems: list[Problem] = []
    files: list[PolicyDocument] = []
    hasher = hashlib.sha256()
    complete = True
    for path in paths:
        source = _relative(path, root)
        if path.name.startswith(".") or path.suffix not in (".yaml", ".yml"):
            continue
        if path.suffix == ".yml":
            problems.append(Problem(source, None, "policy files must be named *.yaml"))
            continue
        raw = _read(path, source, problems)
        if raw is not None:
            hasher.update(path.name.encode("utf-8") + b"\0" + raw + b"\0")
        doc = None if raw is None else _parse(raw, source, problems)
        if doc is None:
            complete = False
            continue
        files.append(_validate(doc, problems))
    problems.extend(check_policies(files, products, datasets, complete=complete))
    if problems:
        problems.sort(key=lambda p: (p.source, p.line or 0))
        raise ValidationFailed(problems, what=WHAT)
    return _build(files, "sha256:" + hasher.hexdigest(), frozenset(products))


def _list_dir(policies_dir: Path, source: str) -> list[Path]:
    """The directory's entries sorted by name; a missing directory is a problem."""
    if not policies_dir.exists():
        message = "policy directory not found"
    elif not policies_dir.is_dir():
        message = "policies must be a directory"
    else:
        try:
            return sorted(policies_dir.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            message = f"cannot read: {exc.strerror or 'I/O error'}"
    raise ValidationFailed([Problem(source, None, message)], what=WHAT)


def _relative(path: Path, root: Path) -> str:
    for base, target in ((root, path), (root.absolute(), path.absolute())):
        try:
            return target.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def _read(path: Path, source: str, problems: list[Problem]) -> bytes | None:
    try:
        return read_yaml_bytes(path, source)
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    return None


def _parse(raw: bytes, source: str, problems: list[Problem]) -> YamlDocument | None:
    try:
        return parse_yaml(raw.decode("utf-8"), source)
    except UnicodeDecodeError:
        problems.append(Problem(source, None, "cannot read: not valid UTF-8"))
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    return None


def _validate(doc: YamlDocument, problems: list[Problem]) -> PolicyDocument:
    """Schema problems of the whole file, and every item that is valid on its own."""
    data = {} if doc.data is None else doc.data
    problems.extend(validate_model(doc, PolicyFile, data)[1])
    out = PolicyDocument(doc)
    raw = data if isinstance(data, dict) else {}
    for index, item in _items(raw.get("principals")):
        principal = _try(PrincipalSpec, item)
        if principal is not None:
            out.principals.append((index, principal))
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            out.invalid_principal_ids.add(item["id"])
    for index, item in _items(raw.get("grants")):
        grant = _try(GrantSpec, item)
        if grant is not None:
            out.grants.append((index, grant))
    caps = raw.get("dataset_caps")
    for name, item in caps.items() if isinstance(caps, dict) else ():
        cap = _try(BudgetSpec, item)
        if isinstance(name, str) and cap is not None:
            out.dataset_caps.append((name, cap))
    for index, item in _items(raw.get("consent_authorities")):
        authority = _try(ConsentAuthoritySpec, item)
        if authority is not None:
            out.consent_authorities.append((index, authority))
    return out


def _items(value: object) -> list[tuple[int, object]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _try(model: type[M], value: object) -> M | None:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError:
        return None


def _build(files: list[PolicyDocument], digest: str, product_ids: frozenset[str]) -> PolicySet:
    principals: dict[str, Principal] = {}
    credentials: list[Credential] = []
    grants: list[Grant] = []
    caps: dict[str, Budget] = {}
    authorities: dict[str, ConsentAuthority] = {}
    for f in files:
        for _, p in f.principals:
            principals[p.id] = Principal(p.id, p.role, p.organisation, p.valid_from, p.valid_until)
            credentials.append(Credential(p.id, p.token_sha256, p.cert_identity))
        for index, g in f.grants:
            grants.append(_grant(g, f.where(("grants", index))))
        caps.update((name, Budget(c.epsilon, c.delta)) for name, c in f.dataset_caps)
        for index, a in f.consent_authorities:
            key = decode_authority_key(a.public_key)
            where = f.where(("consent_authorities", index))
            authorities[a.id] = ConsentAuthority(a.id, a.name, key, where)
    return PolicySet(
        digest=digest,
        principals=principals,
        grants=tuple(grants),
        dataset_caps=caps,
        source_files=tuple(f.doc.source for f in files),
        product_ids=product_ids,
        credentials=tuple(credentials),
        consent_authorities=authorities,
    )


def _grant(spec: GrantSpec, source: str) -> Grant:
    quota = spec.quota
    return Grant(
        principal=spec.principal,
        products=tuple(spec.products),
        budget={name: Budget(b.epsilon, b.delta) for name, b in spec.budget.items()},
        purpose=spec.purpose,
        per_job_epsilon=spec.per_job_epsilon,
        calls_per_day=None if quota is None else quota.calls_per_day,
        price=None if spec.price is None else _price(spec.price),
        public_interest=spec.public_interest,
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        source=source,
        quotas={}
        if quota is None
        else {name: Quota(q.calls, q.window) for name, q in quota.products.items()},
    )


def _price(spec: PriceSpec) -> Price:
    """Exact micro-units (the schema accepted only whole micro-units: nothing is rounded)."""
    return Price(
        currency=spec.currency,
        per_call_micro=0 if spec.per_call is None else to_micro(spec.per_call),
        per_job_micro=0 if spec.per_job is None else to_micro(spec.per_job),
        tiers=tuple(PriceTier(t.from_calls, to_micro(t.per_call)) for t in spec.tiers),
    )
