"""The ``zone`` command: serve, import datasets, check and reload policies, verify the audit.

Exit codes: 0 success, 1 a check failed or the input was refused (every problem is printed,
once), 2 usage errors (argparse). ``zone COMMAND --help`` shows every option and its default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from zone.cli import (
    admin,
    audit,
    cohorts,
    consent,
    datasets,
    jobs,
    models,
    operators,
    statedb,
    stats,
    verify,
)
from zone.cli.connect import add_connection, connect, unreachable_hint
from zone.cli.parser import ZoneArgumentParser, print_error
from zone.client import UnavailableError, ZoneClientError
from zone.config import ZoneConfig, load_config
from zone.errors import ValidationFailed, ZoneError
from zone.files import private_umask
from zone.wire.jsontext import MalformedEvidence

Handler = Callable[[argparse.Namespace], int]


def _config(args: argparse.Namespace) -> ZoneConfig:
    return load_config(Path(args.config))


def _cmd_serve(args: argparse.Namespace) -> int:
    from zone.server.app import serve  # imported here: only `serve` needs grpc's server side

    config = _config(args)
    serve(
        config.with_listen(args.listen) if args.listen else config,
        insecure_plaintext=args.insecure_plaintext,
    )
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from zone.worker.loop import serve_worker  # imported here: only `worker` needs procrastinate

    serve_worker(_config(args))
    return 0


def _cmd_policy_check(args: argparse.Namespace) -> int:
    from zone.serving import Sources, load_snapshot

    config = _config(args)
    policies_dir = Path(args.dir) if args.dir else config.policies_dir
    sources = Sources(config.datasets_db, config.models_dir, policies_dir)
    snapshot = load_snapshot(sources)  # the set a reload would bring in, validated together
    snapshot.datasets.close()
    policy_set = snapshot.policies
    print(
        f"ok: {len(policy_set.principals)} principals, {len(policy_set.grants)} grants, "
        f"{len(snapshot.products)} products; digest {policy_set.digest}"
    )
    return 0


def _cmd_policy_reload(args: argparse.Namespace) -> int:
    with connect(args) as client:
        result = client.reload_policies()
    print(f"reloaded: {result.policy_digest} (was {result.previous_digest})")
    print(
        f"products: {result.products}; datasets: "
        + ", ".join(
            f"{name} {version}" for name, version in sorted(result.dataset_versions.items())
        )
    )
    return 0


def _cmd_token_new(args: argparse.Namespace) -> int:
    from zone.policy import new_token, token_digest

    token = new_token()
    print(f"token:        {token}\ntoken_sha256: {token_digest(token)}")
    print("Give the token to the principal; put only token_sha256 in policies/*.yaml.")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from zone.reference import json_schema

    print(json.dumps(json_schema(args.kind), indent=2, ensure_ascii=False))
    return 0


def _parser() -> argparse.ArgumentParser:
    # Typed as the base class: the subcommand modules take plain ArgumentParsers.
    parser: argparse.ArgumentParser = ZoneArgumentParser(prog="zone", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        handler: Handler,
        help_text: str,
        config: bool = True,
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        if config:
            p.add_argument("--config", required=True, help="zone config file (YAML)")
        return p

    serve = command(sub, "serve", _cmd_serve, "run the zone's gRPC server")
    serve.add_argument(
        "--listen",
        help="HOST:PORT; port 0 takes a free port (default: the config's listen, whose own "
        "default is 127.0.0.1:50051)",
    )
    serve.add_argument(
        "--insecure-plaintext",
        action="store_true",
        help="allow a non-loopback --listen without TLS (bearer tokens then cross the network "
        "in clear; a warning is logged)",
    )

    command(
        sub,
        "worker",
        _cmd_worker,
        "run training jobs queued by the zone's replicas (needs jobs.executor: procrastinate)",
    )

    datasets.add_parser(sub)  # datasets import|list|versions|activate|retire

    policy = sub.add_parser("policy", help="policy administration").add_subparsers(
        dest="sub", required=True
    )
    check = command(policy, "check", _cmd_policy_check, "validate policies, print every error")
    check.add_argument("dir", nargs="?", help="policies directory (default: from config)")
    reload = command(policy, "reload", _cmd_policy_reload, "reload a running zone", config=False)
    add_connection(reload, admin=True)

    audit.add_parser(sub)  # audit keygen|checkpoint|verify, receipt get|verify, trace
    stats.add_parser(sub)
    jobs.add_parser(sub)
    admin.add_parser(sub)
    verify.add_parser(sub)
    models.add_parser(sub)
    operators.add_parser(sub)  # operators report

    schema = command(
        sub, "schema", _cmd_schema, "print the JSON Schema of a file kind", config=False
    )
    schema.add_argument(
        "kind",
        choices=("metadata", "product", "policy", "config"),
        help="dataset metadata, a product (models/*.yaml), a policy file or the zone config; "
        "save it and point your editor's YAML support at it (docs/REFERENCE.md)",
    )
    statedb.add_parser(sub)  # db migrate
    cohorts.add_parser(sub)
    consent.add_parser(sub)

    token = sub.add_parser("token", help="credentials").add_subparsers(dest="sub", required=True)
    command(token, "new", _cmd_token_new, "make a token and its digest", config=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zone`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handler: Handler = args.handler
    try:
        with private_umask():  # every file the zone writes is its own: 0600, folders 0700
            return handler(args)
    except ValidationFailed as exc:
        print(exc.message, file=sys.stderr)
        return 1
    except ZoneError as exc:
        print_error(exc.message)
        return 1
    except MalformedEvidence as exc:
        print_error(str(exc))
        return 1
    except BrokenPipeError:  # `zone ... | head` stopped reading: no traceback, nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ZoneClientError as exc:
        hint = unreachable_hint(args) if isinstance(exc, UnavailableError) else ""
        print_error(str(exc), (*exc.details, *((hint,) if hint else ())))
        return 1
