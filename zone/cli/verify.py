"""``zone verify keys|match|score``: verification from the command line (the SDK).

``match`` and ``score`` read a CSV with a ``subject`` column and one column per claim (Match) or
caller feature (Score), blind (Match) or encrypt (Score) it, call the zone and write one row
per subject: its status, for Match one ``true``/``false`` column per claim, for Score the
logit and the linked value, and the reason of a refused consent. Only blinded elements or
ciphertexts and the subject keys leave the machine. Each subject's consent comes from
``--consents`` (a CSV ``subject,consent`` of registered consent ids) or ``--tokens`` (a file of
authority-signed tokens, one per line); products declared ``consent: none`` need neither.

Score keys are made and kept on the caller's machine: ``zone verify keys new`` writes them,
secret key included, to a file only its owner can read; ``keys register`` uploads the public
part and records the key id in the same file; ``keys revoke`` revokes it. Match needs no key.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from zone.cli.connect import add_connection, connect
from zone.client.consent_calls import read_tokens
from zone.client.he import HEKeys, new_keys
from zone.client.match import MatchReport
from zone.errors import InvalidArgument


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zone verify keys new|register|revoke``, ``zone verify match|score``."""
    verify = sub.add_parser("verify", help="verification: Match (blinded), Score (encrypted)")
    commands = verify.add_subparsers(dest="sub", required=True)
    keys = commands.add_parser("keys", help="caller keys").add_subparsers(
        dest="action", required=True
    )
    new = keys.add_parser("new", help="make Score keys (kept on this machine, mode 0600)")
    new.set_defaults(handler=_keys_new)
    new.add_argument("--param-set", default="ckks-8192", help="ckks-8192 (Score)")
    new.add_argument("--out", type=Path, required=True)
    for name, handler, help_text in (
        ("register", _keys_register, "upload the public part; the key id goes into the file"),
        ("revoke", _keys_revoke, "revoke the registered key"),
    ):
        p = keys.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("keys", type=Path)
        add_connection(p)
    for name, help_text in (
        ("match", "check claimed values (CSV: subject + one column per claim)"),
        ("score", "score subjects (CSV: subject + one column per caller feature)"),
    ):
        p = commands.add_parser(name, help=help_text)
        p.set_defaults(handler=_run)
        p.add_argument("--product", required=True)
        if name == "score":
            p.add_argument("--keys", type=Path, required=True, help="registered ckks keys")
        p.add_argument("--csv", type=Path, required=True, help="input CSV")
        p.add_argument("--out", type=Path, required=True, help="result CSV")
        p.add_argument("--purpose", required=True, help="why these subjects are checked (audited)")
        p.add_argument("--subject-column", default="subject", help="CSV column of subject keys")
        consents = p.add_mutually_exclusive_group()
        consents.add_argument("--consents", type=Path, help="CSV subject,consent (consent ids)")
        consents.add_argument("--tokens", type=Path, help="consent tokens, one per line")
        add_connection(p)


def _keys_new(args: argparse.Namespace) -> int:
    try:
        keys = new_keys(args.param_set)
    except KeyError:
        raise InvalidArgument(f"unknown parameter set {args.param_set!r}") from None
    keys.save(args.out)
    print(f"wrote {args.param_set} keys to {args.out} (secret: keep it on this machine)")
    return 0


def _keys_register(args: argparse.Namespace) -> int:
    keys = HEKeys.load(args.keys)
    with connect(args) as client:
        key_id = client.register_key(keys)
    keys.save(args.keys)
    print(f"registered {keys.params.name} key {key_id}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    keys = HEKeys.load(args.keys)
    if not keys.key_id:
        raise InvalidArgument("these keys were never registered")
    with connect(args) as client:
        info = client.revoke_key(keys.key_id)
    print(f"revoked key {info.key_id} at {info.revoked_at}")
    return 0


def _read(path: Path, subject: str) -> tuple[list[str], dict[str, list[float]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        names = [n for n in reader.fieldnames or [] if n != subject]
        if subject not in (reader.fieldnames or []) or not names:
            raise InvalidArgument(
                f"the CSV needs a {subject!r} column (--subject-column) and at least one value "
                f"column; it has {', '.join(reader.fieldnames or []) or 'no header'}"
            )
        subjects: list[str] = []
        columns: dict[str, list[float]] = {name: [] for name in names}
        for line, row in enumerate(reader, start=2):
            subjects.append(row[subject])
            for name in names:
                if not (row[name] or "").strip():
                    raise InvalidArgument(
                        f"{path}:{line}: {name} is empty: every subject needs a value in every "
                        "column; check other columns in another call, with a CSV of only them"
                    )
                try:
                    columns[name].append(float(row[name]))
                except (TypeError, ValueError):
                    raise InvalidArgument(
                        f"{path}:{line}: {name} is not a number (plain digits, such as 3175.18: "
                        "no thousands separators or units)"
                    ) from None
    return subjects, columns


def _consents(args: argparse.Namespace, subjects: list[str]) -> list[str]:
    """Each subject's consent, in subject order (none when no file is given)."""
    if args.consents is None and args.tokens is None:
        return []
    try:
        if args.tokens is not None:
            by_subject = read_tokens(args.tokens)
        else:
            with args.consents.open(newline="") as handle:
                reader = csv.DictReader(handle)
                if not {"subject", "consent"} <= set(reader.fieldnames or []):
                    raise ValueError(f"{args.consents}: needs 'subject' and 'consent' columns")
                by_subject = {row["subject"]: row["consent"] for row in reader}
    except (OSError, ValueError) as exc:
        raise InvalidArgument(str(exc)) from None
    missing = [s for s in subjects if s not in by_subject]
    if missing:
        raise InvalidArgument(f"no consent for {len(missing)} subject(s), e.g. {missing[0]!r}")
    return [by_subject[s] for s in subjects]


def _match_rows(report: MatchReport, names: list[str]) -> list[list[Any]]:
    flags = {name: report.matched(name) for name in names}
    evaluated = ("MATCH", "NO_MATCH")
    return [
        [
            s,
            status,
            *(str(flags[n][i]).lower() if status in evaluated else "" for n in names),
            reason,
        ]
        for i, (s, status, reason) in enumerate(
            zip(report.subjects, report.statuses, report.refusals, strict=True)
        )
    ]


def _run(args: argparse.Namespace) -> int:
    subjects, columns = _read(args.csv, args.subject_column)
    consents = _consents(args, subjects)
    rows: list[list[Any]]
    with connect(args) as client:
        if args.sub == "match":
            report = client.match(
                args.product, subjects, columns, purpose=args.purpose, consents=consents
            )
            release_ids = report.release_ids
            header = ["subject", "status", *columns, "consent_refusal"]
            rows = _match_rows(report, list(columns))
        else:
            keys = HEKeys.load(args.keys)
            scored = client.score_batch(
                args.product, keys, subjects, columns, purpose=args.purpose, consents=consents
            )
            header = ["subject", "status", "logit", "value", "consent_refusal"]
            rows = [
                [
                    r.subject,
                    r.status,
                    "" if r.logit is None else f"{r.logit:.6g}",
                    "" if r.value is None else f"{r.value:.6g}",
                    r.refusal,
                ]
                for r in scored
            ]
            release_ids = scored.release_ids
    with args.out.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(rows)} subjects: {summary}; releases {', '.join(release_ids) or 'none'}")
    print(f"wrote {args.out}")
    return 0
