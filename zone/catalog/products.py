"""Approved products: loading ``models/*.yaml`` and checking them against the datasets.

One product per file. Every problem in every file (YAML syntax, schema, duplicate ids, unknown
datasets or columns, L4 columns, group keys without a public domain, ...) is collected and raised
at once as ValidationFailed, each located as ``models/<file>.yaml:<line>``.

Rules beyond the per-file schema (``product_models``):

* Every column a product names must be classified for that use (``zone.catalog.levels``): L4
  columns are never readable; L3 columns may be measured, learned from and verified but never be
  group keys; grouping by keys selected from the data (``key_selection``) needs L1.
* ``group_by`` columns need a public domain (declared, or boolean) unless ``key_selection``.
* Statistics ``sum``/``mean``/``quantile`` need public bounds on every numeric measured column.
* Training features must be scalable from public facts: boolean, numeric with bounds, or with a
  public domain. A classification label (logistic regression) needs a two-value public domain
  or 0/1 bounds; a regression label (linear regression) needs numeric bounds.
* Verification ``key`` is the dataset's entity key; claims are about other numeric columns with
  public bounds whose codes (bounds / unit) fit the encrypted comparison; score features are
  boolean, or numeric with public bounds (zone features are scaled by them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from zone.catalog._joint import JointTrainingProduct, joint_parameters, joint_problems
from zone.catalog._training import transform_problem
from zone.catalog._verification import MAX_CLAIM_CODE, Claim, verification_parameters
from zone.catalog.levels import Use, use_problem
from zone.catalog.metadata import ColumnMeta, DatasetMeta
from zone.catalog.product_models import (
    NUMERIC_MEASURES,
    PRODUCT_MODELS,
    Product,
    StatisticsProduct,
    TrainingProduct,
    VerificationProduct,
)
from zone.errors import Problem, ValidationFailed
from zone.policy.model import ProductRef
from zone.yamlio import Loc, YamlDocument, load_yaml, validate_model

__all__ = [
    "Claim",
    "JointTrainingProduct",
    "Product",
    "StatisticsProduct",
    "TrainingProduct",
    "VerificationProduct",
    "columns_read",
    "load_products",
    "product_parameters",
]


METADATA_HINT = (
    "note: datasets and their metadata are read from the dataset database, as imported; a "
    "corrected metadata file takes effect only after importing the dataset again "
    "(zone datasets import DATA --name NAME --meta FILE; see docs/REFERENCE.md)"
)


def load_products(models_dir: Path, datasets: Mapping[str, DatasetMeta]) -> dict[str, Product]:
    """Load every ``*.yaml`` product in ``models_dir`` (sorted) and check it against ``datasets``.

    Returns:
        Products by id, sorted by id (empty for an empty directory).

    Raises:
        ValidationFailed: with every problem in every file, located as ``file:line``.
    """
    if not models_dir.is_dir():
        raise ValidationFailed([Problem(str(models_dir), None, "not a directory")])
    problems: list[Problem] = []
    products: dict[str, Product] = {}
    origins: dict[str, str] = {}
    metadata_problems = False
    for path in sorted(models_dir.glob("*.yaml")):
        source = f"{models_dir.resolve().name}/{path.name}"
        doc, product, file_problems = _load_file(path, source)
        problems += file_problems
        if doc is None or product is None:
            continue
        if product.id in origins:
            message = f"product id {product.id!r} is already used in {origins[product.id]}"
            problems.append(doc.problem(("id",), message))
            continue
        origins[product.id] = source
        dataset_problems = _dataset_problems(doc, product, datasets)
        problems += dataset_problems
        metadata_problems = metadata_problems or bool(dataset_problems)
        if not dataset_problems:
            products[product.id] = product
    if problems:
        hint = METADATA_HINT if metadata_problems else ""
        raise ValidationFailed(problems, what=f"loading products from {models_dir.name}", hint=hint)
    return dict(sorted(products.items()))


def _load_file(
    path: Path, source: str
) -> tuple[YamlDocument | None, Product | None, list[Problem]]:
    try:
        doc = load_yaml(path, source)
    except ValidationFailed as exc:
        return None, None, list(exc.problems)
    if not isinstance(doc.data, dict):
        return doc, None, [doc.problem((), "a product file must be a mapping")]
    kind = doc.data.get("kind")
    model = PRODUCT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        kinds = ", ".join(PRODUCT_MODELS)
        return doc, None, [doc.problem(("kind",), f"kind must be one of: {kinds}")]
    product, problems = validate_model(doc, model)
    return doc, product, problems


def _references(product: Product) -> Iterator[tuple[Loc, str]]:
    """Every column the product names, with where it is named."""
    if isinstance(product, StatisticsProduct):
        yield from ((("columns", i), name) for i, name in enumerate(product.columns))
    elif isinstance(product, TrainingProduct):
        yield ("label",), product.label
        yield from ((("features", i), name) for i, name in enumerate(product.features))
    elif isinstance(product, JointTrainingProduct):
        yield ("key",), product.key
        yield from ((("zone_features", i), n) for i, n in enumerate(product.zone_features))
    else:
        yield ("key",), product.key
        yield from ((("claims", name), name) for name in product.claims)
        yield from ((("score_features", i), name) for i, name in enumerate(product.score_features))


def _use(product: Product, loc: Loc, column: ColumnMeta) -> Use:
    """How ``product`` uses the column it names at ``loc``."""
    if isinstance(product, TrainingProduct | JointTrainingProduct):
        return Use.TRAINING
    if isinstance(product, VerificationProduct):
        return Use.VERIFICATION
    if loc[0] == "group_by":
        selected = column.public_domain is None and product.key_selection
        return Use.KEY_SELECTION if selected else Use.GROUP_BY
    return Use.AGGREGATE  # filters are checked per query (zone.products.statistics.validate)


def _references_with_group_keys(product: Product) -> Iterator[tuple[Loc, str]]:
    yield from _references(product)
    if isinstance(product, StatisticsProduct):
        yield from ((("group_by", i), name) for i, name in enumerate(product.group_by))


def _dataset_problems(
    doc: YamlDocument, product: Product, datasets: Mapping[str, DatasetMeta]
) -> list[Problem]:
    meta = datasets.get(product.dataset)
    if meta is None:
        return [doc.problem(("dataset",), f"unknown dataset {product.dataset!r}")]
    problems = []
    for loc, name in _references_with_group_keys(product):
        column = meta.columns.get(name)
        if column is None or (loc[0] == "group_by" and column.level == "L4"):
            if loc[0] != "group_by":  # group_by columns are among columns: reported there
                problems.append(doc.problem(loc, f"column {name!r} is not in {product.dataset!r}"))
            continue
        problem = use_problem(name, column.level, _use(product, loc, column))
        if problem is not None:
            problems.append(doc.problem(loc, problem))
    if problems:
        return problems
    if isinstance(product, StatisticsProduct):
        return _statistics_problems(doc, product, meta)
    if isinstance(product, TrainingProduct):
        return _training_problems(doc, product, meta)
    if isinstance(product, JointTrainingProduct):
        return [doc.problem(loc, message) for loc, message in joint_problems(product, meta)]
    return _verification_problems(doc, product, meta)


def _statistics_problems(
    doc: YamlDocument, product: StatisticsProduct, meta: DatasetMeta
) -> list[Problem]:
    problems = []
    if not product.key_selection:
        for i, name in enumerate(product.group_by):
            if meta.columns[name].public_domain is None:
                message = (
                    f"group_by column {name!r} has no public domain in the metadata "
                    "(declare one, or set key_selection: true)"
                )
                problems.append(doc.problem(("group_by", i), message))
    if NUMERIC_MEASURES.intersection(product.measures):
        for i, name in enumerate(product.columns):
            column = meta.columns[name]
            if name not in product.group_by and column.is_numeric and column.bounds is None:
                message = f"column {name!r} needs public bounds for sum, mean and quantile"
                problems.append(doc.problem(("columns", i), message))
    return problems


def _scalable(column: ColumnMeta) -> bool:
    if column.is_numeric:
        return column.bounds is not None
    return column.public_domain is not None


def _binary(column: ColumnMeta) -> bool:
    domain = column.public_domain
    return (domain is not None and len(domain) == 2) or column.bounds == (0.0, 1.0)


def _training_problems(
    doc: YamlDocument, product: TrainingProduct, meta: DatasetMeta
) -> list[Problem]:
    problems = []
    for i, name in enumerate(product.features):
        transform = product.transforms.get(name)
        message = transform_problem(name, meta.columns[name], transform)
        if message is not None:
            loc: Loc = ("transforms", name) if transform is not None else ("features", i)
            problems.append(doc.problem(loc, message))
    label = meta.columns[product.label]
    if product.family == "logistic_regression" and not _binary(label):
        message = "a logistic regression label needs a two-value public domain or bounds [0, 1]"
        problems.append(doc.problem(("label",), message))
    if product.family == "linear_regression" and not (label.is_numeric and label.bounds):
        message = "a linear regression label must be numeric with public bounds"
        problems.append(doc.problem(("label",), message))
    if product.family == "mlp" and not (_binary(label) or _scalable(label)):
        message = "an mlp label needs public bounds or a public domain"
        problems.append(doc.problem(("label",), message))
    return problems


def _verification_problems(
    doc: YamlDocument, product: VerificationProduct, meta: DatasetMeta
) -> list[Problem]:
    problems = []
    if product.key != meta.entity_key:
        message = f"key must be the dataset's entity key {meta.entity_key!r}"
        problems.append(doc.problem(("key",), message))
    for name, claim in product.claims.items():
        problems += _claim_problems(doc, product, name, claim, meta.columns[name])
    for i, name in enumerate(product.score_features):
        column = meta.columns[name]
        if name == product.key or not (column.is_numeric or column.type == "boolean"):
            message = f"score feature {name!r} must be a numeric or boolean column (not the key)"
            problems.append(doc.problem(("score_features", i), message))
        elif column.is_numeric and column.bounds is None:
            message = f"score feature {name!r} needs public bounds (zone features are scaled)"
            problems.append(doc.problem(("score_features", i), message))
    return problems


def _claim_problems(
    doc: YamlDocument, product: VerificationProduct, name: str, claim: Claim, column: ColumnMeta
) -> list[Problem]:
    loc = ("claims", name)
    if name == product.key:
        return [doc.problem(loc, "the key cannot be a claim")]
    if not column.is_numeric:
        return [doc.problem(loc, f"claim column {name!r} must be an integer or float column")]
    if column.bounds is None:
        return [doc.problem(loc, f"claim column {name!r} needs public bounds")]
    largest = max(abs(column.bounds[0]), abs(column.bounds[1])) / claim.unit
    if largest > MAX_CLAIM_CODE:
        message = (
            f"claim column {name!r}: bounds / unit reach {largest:.0f}, above the "
            f"{MAX_CLAIM_CODE} a claim code may have (choose a larger unit)"
        )
        return [doc.problem(loc, message)]
    return []


def columns_read(product: Product) -> frozenset[str]:
    """Every column the product can read."""
    return frozenset(name for _, name in _references(product))


def product_parameters(product: Product) -> dict[str, object]:
    """The kind-specific approved parameters as JSON-able data (lists, floats, str, bool)."""
    if isinstance(product, StatisticsProduct):
        return {
            "columns": list(product.columns),
            "group_by": list(product.group_by),
            "measures": list(product.measures),
            "max_epsilon_per_query": float(product.max_epsilon_per_query),
            "key_selection": product.key_selection,
        }
    if isinstance(product, TrainingProduct):
        return {
            "family": product.family,
            "label": product.label,
            "features": list(product.features),
            "bounds": {
                key: [float(low), float(high)] for key, (low, high) in product.bounds.items()
            },
            "max_epsilon_per_job": float(product.max_epsilon_per_job),
            "allow_gpu": product.allow_gpu,
            "transforms": {
                name: t.model_dump(mode="json", exclude_none=True)
                for name, t in product.transforms.items()
            },
            "holdout_fraction": float(product.holdout_fraction),
            "split_seed": product.split_seed,
        }
    if isinstance(product, JointTrainingProduct):
        return joint_parameters(product)
    return {
        "key": product.key,
        **verification_parameters(
            product.claims,
            product.score_features,
            product.limits,
            product.score_model,
            membership=product.membership,
            consent=product.consent,
        ),
        # Public: what a score may tell about a zone column (docs/SECURITY.md).
        "scoring_rules": {
            "score_resolution": float(product.score_resolution),
            "max_zone_weight": float(product.max_zone_weight),
            "min_zone_features": product.min_zone_features,
            "max_zone_feature_share": float(product.max_zone_feature_share),
        },
    }


def product_refs(products: Mapping[str, Product]) -> dict[str, ProductRef]:
    """What the policy loader checks grants against: each product's dataset, kind, consent."""
    return {
        pid: ProductRef(
            dataset=p.dataset,
            kind=p.kind,
            consent=p.consent if isinstance(p, VerificationProduct) else "none",
        )
        for pid, p in products.items()
    }
