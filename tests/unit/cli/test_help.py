"""``zone ... --help`` shows every default and the syntax a user needs, without the source."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from zone.cli import _parser, main


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # help is wrapped to the terminal


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def test_every_option_with_a_default_shows_it() -> None:
    missing = []
    for path, parser in commands(_parser()):
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            default = action.default
            if default is None or default is False or default in ([], "", argparse.SUPPRESS):
                continue
            if action.required:
                continue
            if "default:" not in (action.help or "") and f"(default: {default})" not in text:
                missing.append(f"zone {' '.join(path)} {action.option_strings}")
    assert missing == []


def test_connection_and_training_defaults_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, "jobs", "train")
    assert "(default: 127.0.0.1:50051)" in text
    for shown in ("(default: 20)", "(default: 256)", "(default: 1.0)", "(default: 32)",
                  "(default: 2.0 for logistic_regression, 0.5 otherwise)",
                  "(default: 0)"):  # fmt: skip
        assert shown in text
    assert "prints the released model" in text


def test_stats_help_lays_out_the_measure_and_filter_syntax(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of(capsys, "stats", "query")
    for syntax in ("count", "sum:COL", "mean:COL", "histogram:COL[:BINS]",
                   "quantile:COL:Q1,Q2,...", "COL=V", "COL>=V, COL<=V", "COL=LOW..HIGH",
                   "COL~A,B,C", "s:V"):  # fmt: skip
        assert syntax in text
    assert "zone.cli" not in text  # no "see the source"


def test_serve_and_verify_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--insecure-plaintext" in help_of(capsys, "serve")
    assert "--subject-column SUBJECT_COLUMN" in help_of(capsys, "verify", "match")
