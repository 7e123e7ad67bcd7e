"""The ``console:`` section of the zone config: where the console listens, sessions, alert rules.

Loaded by :func:`zone.config.load_config` with the rest of the file (every problem with
file:line). Without a ``console:`` section no console is started.

```yaml
console:
  listen: 127.0.0.1:8080        # loopback by default; another host needs the zone's tls
  session_minutes: 30
  alerts:
    interval_seconds: 60        # how often the rules run
    enumeration: {threshold: 5000, window_seconds: 3600}   # distinct subjects checked
    budget_burn: {threshold: 0.5, window_seconds: 3600}    # fraction of a budget spent
    differencing: {threshold: 3, window_seconds: 600}      # near-duplicate query pairs
    refused_calls: {threshold: 50, window_seconds: 600}    # refused calls
    cancelled_jobs: {threshold: 3, window_seconds: 86400}  # cancelled after touching data
    import_refused: {threshold: 1, window_seconds: 86400}  # imports refused by quality checks
```
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONSOLE_LISTEN = "127.0.0.1:8080"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _RuleSpec(_Strict):
    """One alert rule.

    Attributes:
        threshold: The value (count or fraction, per rule) that raises an alert.
        window_seconds: The fixed window the value is counted over.
    """

    threshold: float = Field(gt=0, allow_inf_nan=False)
    window_seconds: int = Field(ge=60, le=7 * 86_400)


class _AlertsSpec(_Strict):
    """The data-flow alert rules and how often they run.

    Attributes:
        interval_seconds: How often the rules are evaluated.
        enumeration: Distinct subjects checked by one principal in the window.
        budget_burn: Largest fraction of a budget charged in the window.
        differencing: Statistics releases of the same shape by one principal in the window.
        refused_calls: Refused calls by one principal in the window (probing).
        cancelled_jobs: Jobs cancelled after their worker touched data.
        import_refused: Dataset imports refused by their quality checks.
    """

    interval_seconds: float = Field(default=60.0, ge=1, le=86_400)
    enumeration: _RuleSpec = _RuleSpec(threshold=5000, window_seconds=3600)
    budget_burn: _RuleSpec = _RuleSpec(threshold=0.5, window_seconds=3600)
    differencing: _RuleSpec = _RuleSpec(threshold=3, window_seconds=600)
    refused_calls: _RuleSpec = _RuleSpec(threshold=50, window_seconds=600)
    cancelled_jobs: _RuleSpec = _RuleSpec(threshold=3, window_seconds=86_400)
    import_refused: _RuleSpec = _RuleSpec(threshold=1, window_seconds=86_400)


class ConsoleSpec(_Strict):
    """The ``console:`` section as written in the config file.

    Attributes:
        listen: HOST:PORT of the console (its own port; beyond loopback only with ``tls``).
        session_minutes: How long a login session lasts.
        alerts: The data-flow alert rules.
    """

    listen: str = DEFAULT_CONSOLE_LISTEN
    session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    alerts: _AlertsSpec = _AlertsSpec()


@dataclass(frozen=True)
class AlertRule:
    """One data-flow rule: raise when a value reaches ``threshold`` within a fixed window."""

    threshold: float
    window_seconds: int


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the data-flow alert rules (``zone.console.alerts`` says what each counts)."""

    interval_seconds: float = 60.0
    enumeration: AlertRule = AlertRule(5000, 3600)
    budget_burn: AlertRule = AlertRule(0.5, 3600)
    differencing: AlertRule = AlertRule(3, 600)
    refused_calls: AlertRule = AlertRule(50, 600)
    cancelled_jobs: AlertRule = AlertRule(3, 86_400)
    import_refused: AlertRule = AlertRule(1, 86_400)
    # Not configurable: one receipt without a consent its product requires is one too many.
    consent_missing: AlertRule = AlertRule(1, 3600)


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the console listens, how long a login lasts, and the alert rules."""

    listen: str = DEFAULT_CONSOLE_LISTEN
    session_minutes: int = 30
    alerts: AlertRules = AlertRules()


def is_loopback(listen: str) -> bool:
    """Whether ``HOST:PORT`` names a loopback host (``localhost`` or 127.0.0.0/8, ``::1``)."""
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_config(spec: ConsoleSpec) -> ConsoleConfig:
    """The frozen console config of a validated section."""
    a = spec.alerts

    def rule(r: _RuleSpec) -> AlertRule:
        return AlertRule(r.threshold, r.window_seconds)

    rules = AlertRules(
        interval_seconds=a.interval_seconds,
        enumeration=rule(a.enumeration),
        budget_burn=rule(a.budget_burn),
        differencing=rule(a.differencing),
        refused_calls=rule(a.refused_calls),
        cancelled_jobs=rule(a.cancelled_jobs),
        import_refused=rule(a.import_refused),
    )
    return ConsoleConfig(spec.listen, spec.session_minutes, rules)
