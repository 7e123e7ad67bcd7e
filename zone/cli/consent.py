"""``zone consent register|revoke|list|revoke-token|keygen|issue``: consent records and tokens.

For products declared ``consent: operator``: the operator registers the consent a subject
signed (the zone keeps the SHA-256 of the signed letter, never the letter), revokes it, and
lists its own. For ``consent: issuer``: an administrator lists an authority's token as revoked
(``revoke-token issuer/id``) when the subject withdrew consent at the authority. Every command
is a ConsentService call with the caller's token, as the SDK makes it; the zone audits each
registration and revocation.

``keygen`` and ``issue`` are for a consent authority (e.g. an e-government consent portal) and
run offline, never against a zone: ``keygen`` makes the authority's Ed25519 key (the private
key 0600; the public key is printed in the form ``consent_authorities`` take), ``issue`` signs
one subject's consent as a token (``zone.consent.tokens``) and prints it or appends it to a
file, one per line, as ``zone verify --tokens`` and the SDK's ``read_tokens`` read them.
"""

from __future__ import annotations

import argparse
import secrets
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

    keygen = actions.add_parser("keygen", help="make a consent authority's key (offline)")
    keygen.set_defaults(handler=_cmd_keygen)
    keygen.add_argument("--out", type=Path, required=True, help="private key file (+ .pub)")

    issue = actions.add_parser("issue", help="sign a consent token as an authority (offline)")
    issue.set_defaults(handler=_cmd_issue)
    issue.add_argument("--key", type=Path, required=True, help="the authority's private key")
    issue.add_argument("--issuer", required=True, help="the authority's id in the policies")
    issue.add_argument("--id", dest="consent_id", default="", help="consent id (default: random)")
    issue.add_argument("--principal", required=True, help="the operator it authorizes")
    issue.add_argument("--product", required=True, help="the verification product")
    issue.add_argument("--subject", required=True, help="the subject's key")
    issue.add_argument("--purpose", required=True, help="the purpose the subject agreed to")
    issue.add_argument("--not-after", required=True, type=_when, help="end of validity")
    issue.add_argument("--not-before", type=_when, help="start of validity (default: now)")
    issue.add_argument("--max-uses", type=int, default=1, help="subject checks it allows")
    issue.add_argument("--out", type=Path, help="append the token to this file (default: print)")

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


def _cmd_keygen(args: argparse.Namespace) -> int:
    from zone.audit.keys import generate_key, public_key_path
    from zone.consent import encode_authority_key

    public = generate_key(args.out)
    print(f"private key: {args.out} (mode 0600; keep it at the authority, never in the zone)")
    print(f"public key:  {public_key_path(args.out)}")
    print(f"for policies (consent_authorities[].public_key): {encode_authority_key(public)}")
    return 0


def _cmd_issue(args: argparse.Namespace) -> int:
    from zone.audit.keys import load_private_key
    from zone.consent import ConsentTerms, issue_token

    not_before = args.not_before or datetime.now(UTC)
    terms = ConsentTerms(
        principal=args.principal,
        product=args.product,
        subject=args.subject,
        purpose=args.purpose,
        not_before=int(not_before.timestamp()),
        not_after=int(args.not_after.timestamp()),
        max_uses=args.max_uses,
    )
    consent_id = args.consent_id or secrets.token_hex(16)
    token = issue_token(
        load_private_key(args.key), issuer=args.issuer, consent_id=consent_id, terms=terms
    )
    if args.out is None:
        print(token)
    else:
        with args.out.open("a", encoding="ascii") as out:
            out.write(token + "\n")
        print(f"issued {args.issuer}/{consent_id} for subject {args.subject} -> {args.out}")
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
