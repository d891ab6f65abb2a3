"""`--help` as a person reads it: one short summary line per command in the command list, and
every bracketed word of a docstring or option help (`asffbench[deploy]`) printed as written."""

from __future__ import annotations

import inspect
import re

import pytest
import typer

from asffbench.cli.app import app

SUMMARY_CHARS = 88  # fits the command list of an 100-column terminal on one line
BRACKETED = re.compile(r"\S*\[[^\]\s]+\]\S*")


def commands() -> list[tuple[list[str], object]]:
    """(the words that name it, the click command) of every command and subcommand."""
    found = []

    def walk(command, words):
        for name, sub in getattr(command, "commands", {}).items():
            found.append(([*words, name], sub))
            walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


def source_help(command) -> str:
    """The help as written in the source: the docstring and every option's help."""
    texts = [inspect.cleandoc(command.help or "")]
    texts += [param.help for param in command.params if getattr(param, "help", None)]
    return "\n".join(texts)


def flat(text: str) -> str:
    """Rendered help with the panel borders and line wrapping taken out."""
    return " ".join(text.replace("│", " ").split())


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside a word


def test_every_command_has_a_one_line_summary_in_the_command_list(cli, wide):
    listed = {}
    for words, command in commands():
        summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert "\n" not in summary and len(summary) <= SUMMARY_CHARS, (words, summary)
        listed.setdefault(tuple(words[:-1]), []).append((words[-1], summary))
    for parent, entries in listed.items():
        code, out, err = cli(*parent, "--help")
        assert code == 0, err
        lines = out.splitlines()
        for name, summary in entries:
            [line] = [line for line in lines if line.replace("│", " ").split()[:1] == [name]]
            assert summary in line, (name, line)  # whole, on the command's own line


@pytest.mark.parametrize("words", [words for words, _ in commands()], ids=" ".join)
def test_help_keeps_every_bracketed_word_and_wraps_paragraphs_not_source_lines(cli, wide, words):
    command = dict((tuple(w), c) for w, c in commands())[tuple(words)]
    code, out, err = cli(*words, "--help")
    assert code == 0, err
    rendered = flat(out)
    for word in BRACKETED.findall(source_help(command)):
        assert word in rendered, (words, word)
    lines = [" ".join(line.split()) for line in out.splitlines()]
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        joined = " ".join(paragraph.split())
        assert any(joined in line for line in lines), (words, joined)  # one line on a wide terminal


def test_export_help_names_the_extra_as_written(cli, wide):
    code, out, _err = cli("export", "--help")
    assert code == 0 and "asffbench[deploy]" in out
