"""The configuration stage: one YAML file in, one validated :class:`Config` out.

Public face (import from here, not from the modules):

- :func:`load_config` and :func:`parse_settings` read and validate a whole file, collecting
  every problem into one :class:`~monitor.errors.ConfigError`;
- the typed settings models (:class:`Settings`, :class:`SourceSettings`, ...).

Inside: ``yamlload`` (YAML with line marks), ``models`` (pydantic settings; per-source
defaults resolved at validation), ``validate`` (shorthand, readable pydantic errors,
partial validation), ``check`` (one cross-checker per section; source kinds, notifiers,
rules and the address guard check their own options), ``problem`` (a problem and its key
path), ``durations`` (``90s``, ``1h30m``), ``load`` (``${VAR}`` expansion and the entry
points).
"""

from monitor.config.load import expand_string, load_config, load_for_matching, load_rules_only, parse_settings
from monitor.config.models import (
    ClusterSettings,
    Config,
    Defaults,
    DeliverySettings,
    EventSettings,
    FloodSettings,
    HealthSettings,
    HttpSettings,
    NotifierSettings,
    RuleSettings,
    Settings,
    SourceSettings,
    SpikeSettings,
    WebSettings,
    default_config_path,
    state_dir,
)
from monitor.errors import ConfigError

__all__ = [
    "ClusterSettings",
    "Config",
    "ConfigError",
    "Defaults",
    "DeliverySettings",
    "EventSettings",
    "FloodSettings",
    "HealthSettings",
    "HttpSettings",
    "NotifierSettings",
    "RuleSettings",
    "Settings",
    "SourceSettings",
    "SpikeSettings",
    "WebSettings",
    "default_config_path",
    "expand_string",
    "load_config",
    "load_for_matching",
    "load_rules_only",
    "parse_settings",
    "state_dir",
]
