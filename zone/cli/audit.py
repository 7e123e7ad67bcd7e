"""``zone audit keygen|checkpoint|verify``, ``zone receipt get|verify`` and ``zone trace``.

Exit codes as for every ``zone`` command: 0 success, 1 a check failed (the reason is printed),
2 usage errors. ``zone trace`` exits 1 when no release is a confident match.

A checkpoint proves something only against a key the verifier trusts: ``zone receipt verify``
and ``zone audit verify --checkpoint`` exit 1 unless the zone's key is pinned (``--public-key``,
or for ``audit verify`` the public half of the config's signing key). ``--allow-unpinned``
accepts the key the checkpoint carries, which proves only that whoever made the checkpoint
held it, and still prints "NOT pinned".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.cli.connect import add_connection, connect
from zone.cli.statedb import reading_state
from zone.config import ZoneConfig, load_config
from zone.errors import FailedPrecondition


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zone audit ...``, ``zone receipt ...`` and ``zone trace``."""
    audit = sub.add_parser("audit", help="audit chain and signed checkpoints")
    actions = audit.add_subparsers(dest="sub", required=True)
    verify = actions.add_parser("verify", help="recompute the chain (against a checkpoint)")
    verify.set_defaults(handler=_cmd_verify)
    verify.add_argument("--config", required=True, help="zone config file (YAML)")
    verify.add_argument("--checkpoint", type=Path, help="a signed checkpoint file")
    verify.add_argument("--public-key", type=Path, help="the zone's public key (default: config)")
    _add_allow_unpinned(verify)
    keygen = actions.add_parser("keygen", help="make an Ed25519 checkpoint signing key")
    keygen.set_defaults(handler=_cmd_keygen)
    keygen.add_argument("--out", type=Path, required=True, help="private key file (+ .pub)")
    checkpoint = actions.add_parser("checkpoint", help="sign the chain's current state")
    checkpoint.set_defaults(handler=_cmd_checkpoint)
    checkpoint.add_argument("--config", required=True, help="zone config file (YAML)")
    checkpoint.add_argument("--out", type=Path, help="write the checkpoint here (default: stdout)")

    receipt = sub.add_parser("receipt", help="receipts of releases")
    r_actions = receipt.add_subparsers(dest="sub", required=True)
    get = r_actions.add_parser("get", help="fetch one of your receipts with its proof")
    get.set_defaults(handler=_cmd_receipt_get)
    get.add_argument("release_id")
    add_connection(get)
    get.add_argument("--out", type=Path, help="write the receipt file here (default: stdout)")
    check = r_actions.add_parser("verify", help="check a receipt file offline")
    check.set_defaults(handler=_cmd_receipt_verify)
    check.add_argument("receipt", type=Path)
    check.add_argument("--checkpoint", type=Path, help="default: the one in the receipt file")
    check.add_argument("--public-key", type=Path, help="the zone's published public key")
    _add_allow_unpinned(check)

    trace = sub.add_parser("trace", help="name the release a leaked artifact came from")
    trace.set_defaults(handler=_cmd_trace)
    trace.add_argument("artifact", type=Path, help="leaked JSON or CSV (weights or statistics)")
    trace.add_argument("--config", required=True, help="zone config file (YAML)")
    trace.add_argument("--top", type=int, default=5, help="how many releases to list")


def _add_allow_unpinned(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="without a pinned key, accept the key the checkpoint carries (prints a warning)",
    )


def _unpinned(key_id: str) -> str:
    return f"key {key_id} NOT pinned: compare it with the zone's published key"


def _refuse_unpinned(key_id: str) -> int:
    print(
        f"FAILED: {_unpinned(key_id)}; pass --public-key with the zone's published key "
        "(or --allow-unpinned to accept a key nobody vouched for)",
        file=sys.stderr,
    )
    return 1


def _config(args: argparse.Namespace) -> ZoneConfig:
    return load_config(Path(args.config))


def _trusted_key(args: argparse.Namespace, config: ZoneConfig | None) -> Ed25519PublicKey | None:
    """``--public-key``, else the public half of the config's signing key, else None."""
    from zone.audit.keys import load_public_key, public_key_path

    if args.public_key:
        return load_public_key(args.public_key)
    key = config.audit.signing_key if config else None
    if key is None:
        return None
    pub = public_key_path(key)
    return load_public_key(pub if pub.is_file() else key)


def _cmd_verify(args: argparse.Namespace) -> int:
    from zone.audit import verify_chain
    from zone.audit.checkpoint import verify_against_checkpoint
    from zone.audit.journal import journal_folder, undrained
    from zone.wire.checkpoint import Checkpoint
    from zone.wire.keys import fingerprint

    config = _config(args)
    if args.checkpoint is None:
        with reading_state(config.state_db) as conn:
            result = verify_chain(conn)
            pending = undrained(conn, journal_folder(config.state_db))
        if pending:
            print(
                f"note: {pending} record(s) in the server's audit journal are not in the chain "
                "yet (a running server drains them; after a crash, the next start does)",
                file=sys.stderr,
            )
        if result.ok:
            print(f"ok: {result.length} records, head {result.head_hash}")
            return 0
        print(f"BROKEN at record {result.first_bad_seq}: {result.reason}", file=sys.stderr)
        return 1
    checkpoint = Checkpoint.from_json(args.checkpoint.read_text())
    trusted = _trusted_key(args, config)
    if trusted is None and not args.allow_unpinned:
        raise FailedPrecondition(
            "no public key to check the checkpoint with: pass --public-key (or --allow-unpinned)"
        )
    with reading_state(config.state_db) as conn:
        check = verify_against_checkpoint(conn, checkpoint, trusted)
    if not check.ok:
        print(f"FAILED against the checkpoint: {check.reason}", file=sys.stderr)
        return 1
    pin = f"pinned key {fingerprint(trusted)}" if trusted else _unpinned(checkpoint.key_id)
    print(
        f"ok: {check.chain.length} records, head {check.chain.head_hash}; the first "
        f"{checkpoint.length} match the checkpoint of {checkpoint.time}; {pin}"
    )
    return 0


def _cmd_keygen(args: argparse.Namespace) -> int:
    from zone.audit.keys import generate_key, public_key_path
    from zone.wire.keys import fingerprint

    public = generate_key(args.out)
    print(f"private key: {args.out} (mode 0600; name it in the config as audit.signing_key)")
    print(f"public key:  {public_key_path(args.out)} (give it to the regulator)")
    print(f"key id:      {fingerprint(public)}")
    return 0


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    from zone.audit.checkpoint import make_checkpoint
    from zone.audit.keys import load_private_key
    from zone.state.opening import open_state

    config = _config(args)
    if config.audit.signing_key is None:
        raise FailedPrecondition("the config names no audit.signing_key")
    key = load_private_key(config.audit.signing_key)
    store = open_state(config.state_db, config.state)
    try:
        checkpoint = make_checkpoint(store, key)
    finally:
        store.close()
    if args.out is None:
        sys.stdout.write(checkpoint.to_json())
        return 0
    args.out.write_text(checkpoint.to_json())
    print(
        f"checkpoint: {checkpoint.length} entries, head {checkpoint.head_hash}, "
        f"root {checkpoint.merkle_root}; written to {args.out}"
    )
    return 0


def _cmd_receipt_get(args: argparse.Namespace) -> int:
    import json

    from zone.client.receipts import write_bundle

    with connect(args) as client:
        bundle = client.get_receipt(args.release_id)
    if args.out is None:
        print(json.dumps(bundle.to_dict(), indent=2, sort_keys=True))
        return 0
    write_bundle(bundle, args.out)
    status = (
        f"proven against the checkpoint of {bundle.checkpoint.length} entries"
        if bundle.checkpoint
        else "not covered by a checkpoint yet (fetch it again after the next one)"
    )
    print(f"receipt of release {bundle.release_id}: audit entry {bundle.entry.seq}, {status}")
    return 0


def _cmd_receipt_verify(args: argparse.Namespace) -> int:
    from zone.wire.checkpoint import Checkpoint
    from zone.wire.keys import fingerprint
    from zone.wire.receipts import load_bundle, verify_bundle

    bundle = load_bundle(args.receipt.read_text())
    checkpoint = Checkpoint.from_json(args.checkpoint.read_text()) if args.checkpoint else None
    trusted = _trusted_key(args, None)
    problem = verify_bundle(bundle, checkpoint, trusted)
    used = checkpoint or bundle.checkpoint
    if problem or used is None:
        print(f"FAILED: {problem or 'no checkpoint'}", file=sys.stderr)
        return 1
    if trusted is None and not args.allow_unpinned:
        return _refuse_unpinned(used.key_id)
    r = bundle.receipt
    pin = f"pinned key {fingerprint(trusted)}" if trusted else _unpinned(used.key_id)
    print(
        f"ok: release {bundle.release_id} ({r.get('principal')}, {r.get('product')}, "
        f"epsilon_micro {r.get('epsilon_micro')}) is audit entry {bundle.entry.seq} of the "
        f"chain checkpointed at {used.length} entries on {used.time}; {pin}"
    )
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from zone.audit.leaked import read_leaked
    from zone.audit.releases import read_releases
    from zone.audit.trace import describe, trace

    leaked = read_leaked(args.artifact.read_bytes())
    with reading_state(_config(args).state_db) as conn:
        result = trace(leaked, read_releases(conn))
    for line in describe(result, top=max(1, args.top)):
        print(line)
    return 0 if result.confident else 1
