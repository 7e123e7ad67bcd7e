"""Joint modeling (联合建模): operators train on their own labels joined with zone data, inside.

The server side (no torch): ``schema`` (the cohort's declared schema), ``keys`` (normalisation),
``csvload`` and ``upload`` (an uploaded CSV becomes a private file the training worker reads),
``store`` (upload records, erasure with a receipt), ``estimate`` (public facts and a DP matched
count), ``plan`` and ``service`` (joint training jobs through the release desk). The worker side
(torch, opacus; imported only by worker processes): ``data``, ``metrics``, ``worker``.

The guarantee, the neighbouring relation and how erasure is proved: docs/ARCHITECTURE.md,
"Joint modeling".
"""
