"""The wire contract the SDK and the zone share: formats, digests, offline verification.

Modules here import only the standard library, third-party libraries and ``zone.wire``
itself, so the SDK (``zone.client``) can ship without any server-side package. The byte
encodings they implement are specified in docs/EVIDENCE.md.
"""
