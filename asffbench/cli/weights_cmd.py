"""`asffbench weights convert SRC --out DST [OVERRIDES]`: write weights as an asffbench checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list

weights_app = typer.Typer(help="Model weight files: convert reference-implementation checkpoints.",
                          no_args_is_help=True)


@weights_app.command("convert")
def convert_command(
    source: Path = typer.Argument(..., help="Weights: a reference-implementation state dict or an "
                                  "asffbench checkpoint.", show_default=False),
    overrides: Optional[list[str]] = OverridesArg,
    out: Path = typer.Option(..., "--out", "-o", help="The asffbench checkpoint to write."),
) -> None:
    """Save weights (SRC) as an asffbench checkpoint of the configured model.

    SRC is loaded into the model the overrides configure (fusion=, model.num_classes=, ...); the
    checkpoint is usable as model.weights= or eval.checkpoint=.
    """
    from asffbench.config.compose import compose_config

    cfg = compose_config(overrides_list(overrides))  # a config error before torch loads
    from asffbench.convert import convert_weights

    summary = convert_weights(cfg, source, out)
    typer.echo(f"wrote {summary['out']}: {summary['tensors']} tensors from {summary['source_format']} "
               f"weights {summary['source']}")


def register(app: typer.Typer) -> None:
    app.add_typer(weights_app, name="weights")
