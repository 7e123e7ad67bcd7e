"""The wire contract the SDK and the zone share: formats, digests, offline verification."""
