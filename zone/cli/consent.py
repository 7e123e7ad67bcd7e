"""``zone consent register|revoke|list|revoke-token``: consent records, through the zone's API.

For products declared ``consent: operator``: the operator registers the consent a subject
signed (the zone keeps the SHA-256 of the signed letter, never the letter), revokes it, and
lists its own. For ``consent: issuer``: an administrator lists an authority's token as revoked
(``revoke-token issuer/id``) when the subject withdrew consent at the authority. Every command
is a ConsentService call with the caller's token, as the SDK makes it; the zone audits each
registration and revocation.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from zone.cli.connect import add_connection, connect
from zone.client.consent_calls import ConsentInfo, letter_digest


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone consent`` commands."""
    consent = sub.add_parser("consent", help="subject consents an operator registered")
    actions = consent.add_subparsers(dest="sub", required=True)

    register = actions.add_parser("register", help="register a consent a subject signed")
    register.set_defaults(handler=run)
    register.add_argument("--product", required=True, help="the verification product")
    register.add_argument("--subject", required=True, help="the subject's key")
    register.add_argument(
        "--purpose", required=True, help="the purpose the subject agreed to (calls state it)"
    )
    register.add_argument(
        "--not-after", required=True, type=_when, help="end of validity (ISO 8601, UTC if no zone)"
    )
    register.add_argument("--not-before", type=_when, help="start of validity (default: now)")
    register.add_argument("--max-uses", type=int, default=1, help="subject checks it allows")
    letter = register.add_mutually_exclusive_group(required=True)
    letter.add_argument("--letter", type=Path, help="the signed letter (only its SHA-256 is sent)")
    letter.add_argument("--letter-sha256", help="the letter's SHA-256 (64 hex digits)")
    add_connection(register)

    revoke = actions.add_parser("revoke", help="revoke one of your consents (idempotent)")
    revoke.set_defaults(handler=run)
    revoke.add_argument("consent_id")
    revoke.add_argument("--reason", default="", help="why (kept with the record)")
    add_connection(revoke)

    token = actions.add_parser(
        "revoke-token", help="list an authority's token as revoked (admin, for the authority)"
    )
    token.set_defaults(handler=run)
    token.add_argument("consent", help="issuer/id of the token")
    token.add_argument("--reason", required=True, help="why (on the audit chain)")
    add_connection(token, admin=True)

    listing = actions.add_parser("list", help="your registered consents, by id")
    listing.set_defaults(handler=run)
    listing.add_argument("--product", default="", help="only this product's")
    listing.add_argument("--subject", default="", help="only this subject's")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many (per page)")
    listing.add_argument("--after", default="", help="ids after this one (the next page)")
    add_connection(listing)


def run(args: argparse.Namespace) -> int:
    """Run one ``zone consent`` command."""
    with connect(args) as client:
        if args.sub == "register":
            digest = letter_digest(args.letter) if args.letter else args.letter_sha256
            info = client.register_consent(
                args.product,
                args.subject,
                purpose=args.purpose,
                not_after=args.not_after,
                not_before=args.not_before,
                max_uses=args.max_uses,
                letter_sha256=digest,
            )
            print(f"registered {info.consent}")
            _show([info])
        elif args.sub == "revoke-token":
            label, when = client.revoke_consent_token(args.consent, args.reason)
            print(f"revoked token {label} (since {when.isoformat()})")
        elif args.sub == "revoke":
            info = client.revoke_consent(args.consent_id, args.reason)
            print(f"revoked {info.consent}")
            _show([info])
        else:
            _show(
                client.list_consents(
                    product=args.product, subject=args.subject, after=args.after, limit=args.limit
                )
            )
    return 0


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _show(consents: list[ConsentInfo]) -> None:
    header = ("consent", "product", "subject", "purpose", "valid until", "uses", "state")
    rows = [
        (
            c.consent,
            c.product,
            c.subject,
            c.purpose,
            c.not_after.isoformat(),
            f"{c.uses}/{c.max_uses}",
            "revoked" if c.revoked_at is not None else "in force",
        )
        for c in consents
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
