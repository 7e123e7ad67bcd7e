"""Verification products under homomorphic encryption (TenSEAL): encrypted match and scoring.

* ``params``: the allowlist of parameter sets (inside the 128-bit security table).
* ``wire``, ``validate``: checking callers' public contexts and ciphertexts before use.
* ``match`` (BFV) and ``score`` (CKKS): the circuits, their masking and rerandomization.
* ``keys``: registered public keys bound to their owners; ``limits``: per-subject check
  windows and per-model scoring budgets; ``records``: the product's columns in memory;
  ``models``: linear scoring models; ``service``: the flow of a call (no grpc).

The server never holds a secret key and never decrypts: callers encrypt under their own key
and decrypt the answers with the SDK (``zone.client.he``).
"""
