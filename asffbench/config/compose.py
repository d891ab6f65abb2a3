"""Compose an experiment config from `key=value` / `group=option` overrides with Hydra.

Every Hydra or OmegaConf failure is turned into a one-line :class:`UserError` that names the
override at fault and, for a config group, the valid choices; then the values are checked
against validate.py's rules.
"""

from __future__ import annotations

import importlib.resources
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Sequence

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from asffbench.atomic import write_text_atomic
from asffbench.config.schema import LEGACY_VALUES, ExperimentConfig, register_configs
from asffbench.config.validate import validate_config
from asffbench.errors import UserError

CONFIG_MODULE = "asffbench.conf"
CONFIG_NAME = "config"
RUN_CONFIG = "config.yaml"  # a run directory's copy of its composed config
# Options whose value is a file or folder. Hydra's override grammar refuses `=` (and spaces,
# commas, brackets) in an unquoted value, and sweeps name their runs `fusion=asff`: these values
# are quoted for Hydra here, so `run_dir=runs/smoke/fusion=asff` works as typed.
PATH_OPTIONS = ("run_dir", "model.weights", "model.pretrained", "train.checkpoint", "eval.checkpoint",
                "data.root", "data.cache_dir", "data.*.ann", "data.*.images",
                "logger.mlflow.uri")  # a file store's folder, or a URL (`http://host:5000`)


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose and resolve the experiment config; raise UserError on any bad override."""
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=[quoted_for_hydra(o) for o in overrides])
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


def quoted_for_hydra(override: str) -> str:
    """A path option's value single-quoted for Hydra's grammar (`run_dir='a=b'`); any other
    override, a value already quoted, `null` and an empty value are left as they are."""
    key, sep, value = override.partition("=")
    if not sep or not is_path_option(key) or value in ("", "null") or value[:1] in ("'", '"'):
        return override
    # Inside quotes Hydra reads a backslash as an escape only before a quote or the end.
    escaped = re.sub(r"(\\+)(?=$|')", lambda m: m.group(1) * 2, value).replace("'", "\\'")
    return f"{key}='{escaped}'"


def is_path_option(key: str) -> bool:
    name = key.strip().lstrip("+~")
    return any(fnmatchcase(name, pattern) for pattern in PATH_OPTIONS)


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


# Every config group of conf/ an override can choose an option of (`recipe=reference`).
CONFIG_GROUPS = ("fusion", "model", "tricks", "data", "recipe")
# The groups a run's config may swap: they say what the model runs on, not what it is. The
# others (model, fusion, tricks, recipe) built and trained the run's weights, so they are fixed.
RUN_SWAPPABLE_GROUPS = ("data",)


def names_a_group(override: str) -> bool:
    """`model=tiny`, not `model.width=0.5`: the override picks an option of a config group."""
    key = override.split("=", 1)[0].strip().lstrip("+~")
    return key in CONFIG_GROUPS


def load_run_config(path: Path, overrides: Sequence[str]) -> DictConfig:
    """A run's config.yaml checked against the schema, with the overrides applied to it: a group
    override that restates the run's choice changes nothing, `data=X` swaps the data section for
    option X's (the run's model kept), any other group is refused; then `key.path=value`s."""
    cfg = read_run_config(path)
    groups = [o for o in overrides if names_a_group(o)]
    values = [o for o in overrides if not names_a_group(o)]
    bad = [o for o in values if "=" not in o]
    if bad:
        raise UserError(f"override '{bad[0]}': a run's config takes key.path=value overrides "
                        "(e.g. device=cpu eval.nms_iou=0.5) and data=...")
    swaps = [o for o in groups if changes_group(cfg, o, path)]
    if swaps:
        cfg = with_groups_swapped(cfg, swaps)
    try:
        merged = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(values)))
    except OmegaConfBaseException as err:
        raise UserError(f"override: {str(err).splitlines()[0]}") from None
    return validate_config(merged)


def read_run_config(path: Path) -> DictConfig:
    """A run's config.yaml over the schema; a key the run's asffbench did not have yet reads as
    what that run built (`LEGACY_VALUES`), not as today's default."""
    try:
        return OmegaConf.merge(OmegaConf.structured(ExperimentConfig), with_legacy_values(OmegaConf.load(path)))
    except (OmegaConfBaseException, OSError, ValueError) as err:
        raise UserError(f"{path}: not a usable run config ({str(err).splitlines()[0]})") from None


def with_legacy_values(saved: Any) -> Any:
    """A saved config with each `LEGACY_VALUES` key it lacks set to its legacy value."""
    for dotted, value in LEGACY_VALUES.items():
        section, _, key = dotted.partition(".")
        if OmegaConf.is_dict(saved) and OmegaConf.is_dict(saved.get(section)) and key not in saved[section]:
            saved[section][key] = value
    return saved


def changes_group(cfg: DictConfig, override: str, path: Path) -> bool:
    """Whether a group override changes the run's choice; UserError where the group is fixed."""
    key, _, option = override.partition("=")
    group = key.strip().lstrip("+~")
    current = str(cfg[group].name)
    if option.strip() == current:
        return False
    if group not in RUN_SWAPPABLE_GROUPS:
        raise UserError(f"override '{override}': {path.parent} is a run of {group}={current}; a run's "
                        f"{group} is fixed (data=... and key.path=value overrides apply to a run)")
    return True


def with_groups_swapped(cfg: DictConfig, swaps: Sequence[str]) -> DictConfig:
    """The run's config with each swapped group's section as composing the option anew gives it
    (under the run's recipe, which sets keys in some groups' sections)."""
    fresh = compose_config([f"recipe={cfg.recipe.name}", *swaps])
    cfg = cfg.copy()
    for override in swaps:
        group = override.partition("=")[0].strip().lstrip("+~")
        cfg[group] = fresh[group]
    return cfg
