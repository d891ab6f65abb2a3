"""The `asffbench` command line: a thin Typer layer over the library.

Each subcommand lives in its own module with a `register(app)` function. Bad input raises
:class:`asffbench.errors.UserError`, printed here as one line with exit code 2.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Optional, Sequence

import click
import typer
from rich.markup import escape

from asffbench.errors import UserError

app = typer.Typer(
    name="asffbench",
    help="Ablations and benchmarks of adaptive spatial feature fusion (ASFF) in YOLOv3 detectors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root() -> None:
    """Ablations and benchmarks of adaptive spatial feature fusion (ASFF) in YOLOv3 detectors.

    Every subcommand that runs something takes Hydra overrides (key=value, group=option).
    """


# Subcommand modules, in the order `asffbench --help` lists them.
COMMAND_MODULES = (
    "asffbench.cli.config_cmd",
    "asffbench.cli.bench_cmd",
    "asffbench.cli.train_cmd",
    "asffbench.cli.eval_cmd",
    "asffbench.cli.run_cmd",
    "asffbench.cli.sweep_cmd",
    "asffbench.cli.data_cmd",
    "asffbench.cli.report_cmd",
    "asffbench.cli.compare_cmd",
    "asffbench.cli.analyze_cmd",
    "asffbench.cli.plan_cmd",
    "asffbench.cli.viz_cmd",
    "asffbench.cli.weights_cmd",
    "asffbench.cli.predict_cmd",
    "asffbench.cli.export_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def fail(message: str, code: int = 2) -> None:
    sys.stderr.write(f"asffbench: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def readable_help(command: click.Command) -> click.Command:
    """Help as a person reads it, for `command` and every subcommand: each docstring paragraph one
    line that the terminal wraps (not the source's line breaks), the first paragraph the command
    list's one-line summary, and rich markup escaped so `asffbench[deploy]` prints as written."""
    if command.help:
        paragraphs = [" ".join(line.strip() for line in paragraph.splitlines())
                      for paragraph in inspect.cleandoc(command.help).split("\n\n")]
        command.help = escape("\n\n".join(paragraphs))
        command.short_help = escape(paragraphs[0])
    for param in command.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)
    return command


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point."""
    command = readable_help(typer.main.get_command(app))
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name="asffbench", standalone_mode=False)
    except UserError as err:
        fail(str(err), err.exit_code)
    except typer.Exit as err:
        raise SystemExit(err.exit_code) from None
    except typer.Abort:
        fail("aborted", 130)
    except Exception as err:  # noqa: BLE001 - only the CLI parser's own usage errors are caught
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
            raise
        if type(err).__name__ == "NoArgsIsHelpError":
            typer.echo(command.get_help(command.make_context("asffbench", [], resilient_parsing=True)))
            raise SystemExit(0) from None
        fail(err.format_message(), err.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    raise SystemExit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
