"""Compose an experiment config from `key=value` / `group=option` overrides with Hydra.

Every Hydra or OmegaConf failure is turned into a one-line :class:`UserError` that names the
override at fault and, for a config group, the valid choices; then the values are checked
against validate.py's rules.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Sequence

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asffbench.atomic import write_text_atomic
from asffbench.config.schema import ExperimentConfig, register_configs
from asffbench.config.validate import validate_config
from asffbench.errors import UserError

CONFIG_MODULE = "asffbench.conf"
CONFIG_NAME = "config"
RUN_CONFIG = "config.yaml"  # a run directory's copy of its composed config


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose and resolve the experiment config; raise UserError on any bad override."""
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=list(overrides))
        check_resolvable(cfg)
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise UserError(describe_config_error(err)) from None
    finally:
        GlobalHydra.instance().clear()
    return validate_config(cfg)


def group_options(group: str) -> list[str]:
    """The option names of a config group of conf/ (its YAML files); none for an unknown group."""
    folder = importlib.resources.files(CONFIG_MODULE).joinpath(group)
    if not group or not folder.is_dir():
        return []
    return [f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml")]


def check_resolvable(cfg: DictConfig) -> None:
    """Resolve every interpolation and reject mandatory values left unset (`???`)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UserError(f"{missing[0]}: a value is required (set it with {missing[0]}=...)")
    OmegaConf.resolve(cfg)


def describe_config_error(err: Exception) -> str:
    """One line saying what is wrong with which override, and what would be valid."""
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        group, _, option = err.missing_cfg_file.rpartition("/")
        # Hydra lists the options of a single choice, not those of a list group (logger=[...]).
        options = err.options if err.options is not None else group_options(group)
        if options:
            choices = ", ".join(sorted(o for o in options if not o.endswith("_schema")))
            return f"{group}={option}: unknown option for '{group}'; choose from {choices}"
    if isinstance(err, OverrideParseException):
        return f"cannot parse override: {first_line(str(err))}"
    cause = err.__cause__ or err.__context__
    if isinstance(err, HydraException) and isinstance(cause, OmegaConfBaseException):
        err = cause
    if isinstance(err, OmegaConfBaseException):
        return describe_omegaconf_error(err)
    return first_line(str(err))


def describe_omegaconf_error(err: OmegaConfBaseException) -> str:
    key = getattr(err, "full_key", None)
    msg = first_line(str(err))
    if "not in" in msg or ("Key '" in msg and "not" in msg):
        name = re.search(r"Key '([^']+)'", msg)
        where = key or (name.group(1) if name else "?")
        return f"{where}: unknown config key ({msg})"
    enum_choices = re.search(r"Invalid value '([^']*)', expected one of \[([^\]]*)\]", msg)
    if enum_choices:
        return f"{key}={enum_choices.group(1)}: invalid value; choose from {enum_choices.group(2)}"
    return f"{key}: {msg}" if key else msg


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text


def to_plain(cfg: DictConfig) -> dict:
    """The config as plain Python (enums as strings), for records and JSON."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # type: ignore[return-value]


def config_yaml(cfg: DictConfig) -> str:
    """The resolved config as YAML, enums as strings (what `asffbench config` prints)."""
    return OmegaConf.to_yaml(OmegaConf.create(to_plain(cfg)))


def write_run_config(run_dir: Path, cfg: DictConfig) -> Path:
    """`run_dir/config.yaml`, written atomically; the caller decides which rank writes."""
    return write_text_atomic(Path(run_dir) / RUN_CONFIG, config_yaml(cfg))


# Group choices would rebuild another model than the run's weights fit.
# Every config group of conf/ an override can choose an option of (`recipe=reference`): a run's
# config is fixed in all of them.
CONFIG_GROUPS = ("fusion", "model", "tricks", "data", "recipe")


def names_a_group(override: str) -> bool:
    """`model=tiny`, not `model.width=0.5`: the override picks an option of a config group."""
    key = override.split("=", 1)[0].strip().lstrip("+~")
    return key in CONFIG_GROUPS


def load_run_config(path: Path, overrides: Sequence[str]) -> DictConfig:
    """A run's config.yaml checked against the schema, with `key=value` overrides applied."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), OmegaConf.load(path))
    except (OmegaConfBaseException, OSError, ValueError) as err:
        raise UserError(f"{path}: not a usable run config ({str(err).splitlines()[0]})") from None
    bad = [o for o in overrides if "=" not in o or names_a_group(o)]
    if bad:
        raise UserError(f"override '{bad[0]}': a run's config is fixed; only key.path=value overrides "
                        "(e.g. device=cpu eval.nms_iou=0.5) apply to it")
    try:
        merged = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as err:
        raise UserError(f"override: {str(err).splitlines()[0]}") from None
    return validate_config(merged)
