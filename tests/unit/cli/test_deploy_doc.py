"""Every command, flag and config key docs/DEPLOY.md names exists; every command README names.

An administrator deploys from that page alone, a new user starts from the README: a ``zone``
subcommand or flag they show that the parser does not know, or a config key the schema does
not, is a command that fails.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from zone.cli import _parser
from zone.reference import json_schema

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "docs" / "DEPLOY.md"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(zone [^`]+)`")
DOTTED = re.compile(r"`([a-z_]+(?:\.[a-z_]+)+)`")


def _text() -> str:
    return DEPLOY.read_text()


def _commands(text: str, *, inline: bool = True) -> list[str]:
    """The ``zone`` command lines of the code blocks, and (``inline``) of inline code."""
    found = [m.group(1) for m in INLINE.finditer(FENCE.sub("", text))] if inline else []
    for lang, body in FENCE.findall(text):
        if lang in ("", "sh", "bash"):
            logical = body.replace("\\\n", " ")
            found += [ln.strip() for ln in logical.splitlines() if ln.strip().startswith("zone ")]
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _check(command: str, root: argparse.ArgumentParser) -> list[str]:
    words = shlex.split(command.split("#", 1)[0])[1:]
    return _check_words(command, words, root, ["zone"])


def _check_words(
    command: str, words: list[str], parser: argparse.ArgumentParser, path: list[str]
) -> list[str]:
    children = _subparsers(parser)
    if words and children and not words[0].startswith("-"):
        name, rest = words[0], words[1:]
        problems = []
        for each in name.split("|"):  # `zone jobs list|status` names several: each is checked
            if each not in children:
                return [f"{command}: no subcommand {' '.join(path)} {each}"]
            problems += _check_words(command, rest, children[each], [*path, each])
        return problems
    if children and not words:
        return []  # a command group named in prose (`zone worker`, `zone datasets import`)
    known = {option for action in parser._actions for option in action.option_strings}
    flags = [  # `[--a X]`, `--a|--b`, `--a=X`: each flag named
        flag.split("=", 1)[0]
        for word in words
        for flag in word.strip("[]()").split("|")
        if flag.startswith("--")
    ]
    return [
        f"{command}: {' '.join(path)} has no option {flag}" for flag in flags if flag not in known
    ]


def test_deploy_names_commands() -> None:
    commands = _commands(_text())
    assert "zone db migrate --config zone.yaml" in commands
    assert any(c.startswith("zone audit verify --config restored.yaml") for c in commands)


def test_every_zone_command_and_flag_in_deploy_exists() -> None:
    root = _parser()
    problems = [p for command in _commands(_text()) for p in _check(command, root)]
    assert problems == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_zone_command_line_in_the_docs_code_blocks_exists(page: Path) -> None:
    root = _parser()
    commands = _commands(page.read_text(), inline=False)  # what a reader copies and runs
    problems = [p for command in commands for p in _check(command, root)]
    assert problems == []


def test_the_checker_catches_a_wrong_command() -> None:
    root = _parser()
    assert _check("zone db migrate --config zone.yaml", root) == []
    assert _check("zone jobs list --ca-file ca.crt --target h:1", root) == []
    assert _check("zone db migrat --config zone.yaml", root) != []
    assert _check("zone audit verify --config z --checkpoints cp.json", root) != []
    assert _check("zone admin budgets|revenue --principal P", root) != []  # not revenue's flag


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in node:
            node = next((n for n in node["anyOf"] if n.get("type") != "null"), node["anyOf"][0])
        else:
            return node


def _unknown(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str) -> list[str]:
    node = _resolve(schema, node)
    if not isinstance(value, dict) or "properties" not in node:
        return []
    problems = []
    for key, child in value.items():
        if key not in node["properties"]:
            problems.append(f"{path}{key}")
        else:
            problems += _unknown(schema, node["properties"][key], child, f"{path}{key}.")
    return problems


def _yaml_blocks(text: str) -> list[dict[str, Any]]:
    return [yaml.safe_load(body) for lang, body in FENCE.findall(text) if lang == "yaml"]


@pytest.mark.parametrize("kind", ["config", "policy"])
def test_every_key_in_deploys_yaml_blocks_exists(kind: str) -> None:
    schema = json_schema(kind)
    blocks = [b for b in _yaml_blocks(_text()) if ("principals" in b) == (kind == "policy")]
    assert blocks
    problems = [p for block in blocks for p in _unknown(schema, schema, block, "")]
    assert problems == []


def test_every_dotted_config_key_in_deploy_exists() -> None:
    schema = json_schema("config")
    top = schema["properties"]
    dotted = {m.group(1) for m in DOTTED.finditer(_text()) if m.group(1).split(".")[0] in top}
    assert {"jobs.max_concurrent", "console.listen", "joint.cohorts_dir"} <= dotted
    problems = []
    for key in sorted(dotted):
        value: Any = None
        for part in reversed(key.split(".")):
            value = {part: value}
        problems += _unknown(schema, schema, value, "")
    assert problems == []
