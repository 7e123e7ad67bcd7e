"""``zone worker``: runs training jobs on a machine that serves no calls (procrastinate).

A deployable of its own, beside ``zone.server``: it reaches the zone only through the state
database (a client of the state, not of the zone's gRPC API) and imports no grpc. Each job
runs in a spawned child process of the local executor (``zone.jobs``), the only process that
imports torch; the worker settles the job through ``zone.products.training.outcomes``.
"""
