"""Per-source options left out of an entry are resolved from ``defaults:`` once, at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Defaults, SourceSettings, load_config, parse_settings


def source(defaults: str, entry: str) -> SourceSettings:
    text = (
        f"defaults: {{{defaults}}}\nsources:\n  - {{name: wire, feed: 'https://example.com/rss', {entry}}}\n"
    )
    return parse_settings(text.replace(", }", "}"), "cfg.yaml", {}).settings.sources[0]


def test_a_source_that_sets_nothing_polls_with_the_defaults() -> None:
    src = source("interval: 30m, robots: false, full_text: true", "")
    assert (src.interval, src.robots, src.full_text) == (1800, False, True)
    assert (src.min_interval, src.max_interval) == (None, None)


def test_a_source_without_defaults_polls_with_the_built_in_ones() -> None:
    src = source("", "")
    assert (src.interval, src.robots, src.full_text) == (900, True, "auto")


def test_what_the_entry_writes_wins_over_defaults() -> None:
    src = source(
        "interval: 30m, robots: false, full_text: true", "interval: 5m, robots: true, full_text: auto"
    )
    assert (src.interval, src.robots, src.full_text) == (300, True, "auto")


def test_null_in_the_entry_means_as_in_defaults() -> None:
    src = source("interval: 30m, robots: false", "interval: null, robots: null, full_text: null")
    assert (src.interval, src.robots, src.full_text) == (1800, False, "auto")
    assert not {"interval", "robots", "full_text"} & src.model_fields_set


@pytest.mark.parametrize(
    ("defaults", "entry", "floor", "ceiling"),
    [
        ("min_interval: 2m, max_interval: 2h", "", 120, 7200),
        ("min_interval: 2m", "max_interval: 1h", 120, 3600),
        ("", "min_interval: 1m", 60, None),
        ("min_interval: 2m", "min_interval: 0", 120, None),  # zero counts as unset, as it always has
        ("min_interval: 0", "", None, None),
        # a source with its own interval polls at exactly that interval
        ("min_interval: 2m, max_interval: 2h", "interval: 5m", None, 7200),
        ("", "interval: 5m, min_interval: 1m", None, None),
    ],
)
def test_adaptive_polling_bounds(
    defaults: str, entry: str, floor: float | None, ceiling: float | None
) -> None:
    src = source(defaults, entry)
    assert (src.min_interval, src.max_interval) == (floor, ceiling)


def test_resolving_again_changes_nothing() -> None:
    src = source("interval: 30m, min_interval: 2m", "robots: false")
    defaults = Defaults.model_validate({"interval": "30m", "min_interval": "2m"})
    again = defaults.resolve(src)
    assert again == src
    assert again.model_fields_set == src.model_fields_set == {"name", "feed", "robots"}


def test_a_source_built_apart_from_a_file_is_resolved_by_the_caller() -> None:
    defaults = Defaults.model_validate({"robots": False, "interval": "1h", "min_interval": "5m"})
    src = defaults.resolve(SourceSettings.model_validate({"name": "(test)", "page": "https://example.com/"}))
    assert (src.interval, src.robots, src.min_interval) == (3600, False, 300)
    assert src.kind == "page" and src.url == "https://example.com/"


def test_a_reload_resolves_against_the_new_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    entry = "sources:\n  - {name: wire, feed: 'https://example.com/rss'}\n"
    path.write_text("defaults: {interval: 10m, robots: true}\n" + entry)
    assert load_config(str(path)).settings.sources[0].interval == 600
    path.write_text("defaults: {interval: 20m, robots: false}\n" + entry)
    src = load_config(str(path)).settings.sources[0]
    assert (src.interval, src.robots) == (1200, False)


def test_inherited_full_text_false_is_no_error_on_a_page() -> None:
    text = "defaults: {full_text: false}\nsources:\n  - {name: desk, page: 'https://example.com/world/'}\n"
    src = parse_settings(text, "cfg.yaml", {}).settings.sources[0]
    assert src.full_text is False  # the page fetches its articles anyway (PageSource.always_full_text)
