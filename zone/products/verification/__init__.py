"""Verification products: Match (an oblivious PRF) and joint scoring (CKKS).

* ``pet``: the zone's side of Match, a keyed 2HashDH OPRF over ristretto255 with tolerance
  windows (the caller's side and the shared encoding: ``zone.wire.oprf``); ``matching``: a
  call's claim columns checked, evaluated and assembled; ``workers``: the worker processes
  the evaluations run in; ``secret``: the master secret the keys derive from.
* ``validate``, ``wire``: checking callers' public contexts and ciphertexts before use (Score);
  ``score``, ``compute``: the scoring circuit, its masking and rerandomization; ``keys``:
  registered public keys bound to their owners; ``models``: linear scoring models.
* ``admission``: consents, per-subject windows (``limits``), scoring budgets and quota in one
  transaction; ``consents``: registering, revoking and reviewing consents; ``records``: the
  product's columns in memory; ``receipts``: check log rows and receipts; ``service``: the
  flow of a call (no grpc).

Match: the zone never sees a claimed value and the caller learns one bit per subject and claim
(docs/SECURITY.md). Score: the zone never holds a secret key and never decrypts.
"""
