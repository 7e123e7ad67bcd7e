"""The supervision console: a web console for administrators and supervisors (regulators).

Served by the zone process on its own port when the config has a ``console:`` section
(``zone.console.server``), built by the composition root from the narrow services it reads
(``zone.console.deps``). No grpc here. Pages and POST actions are listed in one route table
(``zone.console.routes``: deny by default); data-flow alerts (``alerts``, ``alert_rules``),
corrections, operator evaluation and Prometheus metrics (``metrics``) live beside it.

This ``__init__`` imports nothing, so that ``zone.config`` can read ``zone.console.config``
without loading the web stack.
"""
