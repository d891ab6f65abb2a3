"""`asffbench config [OVERRIDES]`: print the resolved config."""

from __future__ import annotations

from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json


def register(app: typer.Typer) -> None:
    @app.command("config")
    def config_command(
        overrides: Optional[list[str]] = OverridesArg,
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
    ) -> None:
        """Print the config that OVERRIDES resolve to (YAML by default)."""
        from asffbench.config.compose import compose_config, config_yaml, to_plain

        cfg = compose_config(overrides_list(overrides))
        if as_json:
            print_json(to_plain(cfg))
        else:
            typer.echo(config_yaml(cfg), nl=False)
