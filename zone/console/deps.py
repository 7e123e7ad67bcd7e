"""What the console reads and changes: the narrow services the composition root hands it.

The console never sees ``ZoneServices`` (nor grpc): ``zone.server.wiring.console_deps`` picks
these out of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zone.admin.evaluation import Evaluations
from zone.admin.exits import Exits
from zone.admin.quarantine import Quarantine
from zone.admin.suspensions import Suspensions
from zone.audit import AuditChain
from zone.audit.receipts import ReceiptBook
from zone.audit.verify import ChainVerifier
from zone.catalog import Product
from zone.catalog.store import DatasetInfo
from zone.console.alerts import AlertEngine
from zone.console.charts import ChartCache
from zone.console.config import ConsoleConfig
from zone.console.metrics import CallMetrics
from zone.metering import Metering
from zone.models.registry import ModelRegistry
from zone.policy import PolicySet
from zone.state.api import State


@dataclass(frozen=True)
class ConsoleDeps:
    """The services behind the console's pages and actions.

    Attributes:
        config: The console's own section of the zone config.
        store: The state database (read for the views).
        audit: The audit chain (every console action is appended to it).
        verifier: Recomputes the chain for "verify" on the audit page.
        policies: The policy set in force (called on every request: reloads apply at once).
        datasets: The imported datasets by name.
        products: The approved products by id.
        metering: Usage and revenue reports.
        receipts: Receipt bundles with inclusion proofs.
        models: The kept-model registry (revoke, restore).
        suspensions: Suspended principals (suspend, resume).
        exits: Principals leaving the zone (exit, with its receipt).
        evaluations: Operator reports kept and extended with new records (operators page).
        alerts: The data-flow alert engine.
        metrics: The zone's Prometheus registry.
        checkpoint_public_key: The zone's checkpoint public key file, if configured (pins the
            key that "verify against the latest checkpoint" trusts).
        tls: Whether the zone serves TLS (session cookies are then ``Secure``).
        charts: Rendered charts kept for a few seconds (``ChartCache``).
    """

    config: ConsoleConfig
    store: State
    audit: AuditChain
    verifier: ChainVerifier
    policies: Callable[[], PolicySet]
    datasets: Callable[[], Mapping[str, DatasetInfo]]
    products: Mapping[str, Product]
    metering: Metering
    receipts: ReceiptBook
    models: ModelRegistry
    suspensions: Suspensions
    exits: Exits
    evaluations: Evaluations
    alerts: AlertEngine
    metrics: CallMetrics
    checkpoint_public_key: Path | None = None
    tls: bool = False
    charts: ChartCache = field(default_factory=ChartCache)

    @property
    def quarantine(self) -> Quarantine:
        """Quarantined dataset versions (quarantine, release); stateless over the store."""
        return Quarantine(self.store, self.audit)
