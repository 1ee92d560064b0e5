"""Commands over the stored history: ``backtest`` and ``rules`` (``rules --report``).

* ``backtest 'QUERY' [--since 30d] [--source NAME] [--tag T] [--limit N] [--json]`` runs a
  query over the stories the daemon recorded and prints the matches with their snippets
  (as ``test-rule`` does) and the matches per day. Exit 0 when something matched, 1 when
  nothing did (or there is no database yet), 2 on an invalid query.
* ``rules [--report [--since 7d]] [--json]`` lists the configured rules; with ``--report``,
  each rule's matches per day, the alerts sent, its last match, and the rules that matched
  nothing (noisy and dead rules at a glance).

Both only read the database (they work beside a running daemon) and call the functions of
:mod:`monitor.daemon.history`, which the dashboard calls too.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.cli.rules import _caret, _fail
from monitor.cli.state import NO_DATABASE, open_store
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config
from monitor.config.durations import parse_duration
from monitor.daemon.history import Backtest, BacktestMatch, RulesReport, backtest, rules_report, run_dedicated
from monitor.daemon.outbox import local_time
from monitor.errors import QueryError
from monitor.notify.sanitize import single_line
from monitor.rules import parse_query
from monitor.store.facade import Store

#: the most days ``rules --report`` shows as columns (``--json`` has every day)
DAY_COLUMNS = 14


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _iso(ts: float | None, zone: ZoneInfo) -> str | None:
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).isoformat(timespec="seconds") if ts is not None else None


# ---------------------------------------------------------------------------- backtest


@main.command("backtest")
@click.argument("query")
@config_option
@click.option("--since", default="30d", show_default=True, callback=_duration, metavar="DURATION",
              help="Search the stories first seen in the last DURATION (12h, 7d, ...).")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only the stories of this source (a name or outlet; repeatable), as a rule's sources: limit.")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="Only the stories of sources with this tag (repeatable), as a rule's tags: limit.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0),
              help="Show at most this many matches, the newest (all are counted).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def backtest_command(
    query: str,
    config_path: str | None,
    since: float,
    sources: tuple[str, ...],
    tags: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Run QUERY over the stories the daemon recorded: the matches with their snippets, and
    how many matched on each day.

    Stories are matched as the daemon matched them (their text as recorded, each source's
    outlet and tags as configured now). Exit status: 0 some story matched, 1 none did, 2
    invalid query.
    """
    try:
        parse_query(query)
    except QueryError as exc:
        _fail(f"invalid query: {exc.message} at column {exc.column}\n{_caret(query, exc.column)}")
    config = load_or_exit(config_path)
    zone = ZoneInfo(config.settings.timezone)
    store = _store(config)
    if store is None:
        click.echo(f"no stories to search {NO_DATABASE}")
        sys.exit(1)
    now = SYSTEM_CLOCK.timestamp()
    try:
        result = asyncio.run(
            backtest(
                store,
                query,
                since=now - since,
                until=now,
                configured=config.settings.sources,
                sources=sources,
                tags=tags,
                zone=zone,
                limit=limit,
                cpu=run_dedicated,
            )
        )
    finally:
        store.close()
        gc.unfreeze()  # what run_dedicated froze: the command leaves the process as it found it
    if as_json:
        click.echo(json.dumps(backtest_json(result, zone), ensure_ascii=False))
    else:
        _show_backtest(result, zone)
    sys.exit(0 if result.matched else 1)


def _store(config: Config) -> Store | None:
    database = open_store(config)
    return Store(database) if database is not None else None


def _match_json(match: BacktestMatch, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": match.story_id,
        "title": match.title,
        "url": match.url,
        "source": match.source,
        "lang": match.lang,
        "published": _iso(match.published, zone),
        "first_seen": _iso(match.first_seen, zone),
        "terms": list(match.terms),
        "snippets": [snippet.plain() for snippet in match.snippets],
    }


def backtest_json(result: Backtest, zone: ZoneInfo) -> dict[str, Any]:
    """What ``backtest --json`` prints: the window, the counts, the matches per day and the
    matches shown (newest first), times as ISO 8601 in the configuration's zone."""
    return {
        "query": result.query,
        "since": _iso(result.since, zone),
        "until": _iso(result.until, zone),
        "timezone": result.zone,
        "searched": result.searched,
        "without_text": result.without_text,
        "matched": result.matched,
        "per_day": {day.day.isoformat(): day.count for day in result.per_day},
        "matches": [_match_json(match, zone) for match in result.matches],
    }


def _show_backtest(result: Backtest, zone: ZoneInfo) -> None:
    for match in result.matches:
        click.echo(f"MATCH {local_time(match.first_seen, zone)}  {match.source}  {single_line(match.title, 100)}")
        click.echo(f"  {single_line(match.url, 300)}")
        click.echo(f"  terms: {', '.join(match.terms)}")
        for snippet in match.snippets:
            click.echo(f"  [{snippet.field}] {single_line(snippet.plain(), 400)}")
        click.echo("")
    click.echo(f"matches per day ({result.zone}):")
    widest = max((day.count for day in result.per_day), default=0)
    for day in result.per_day:
        bar = "#" * (round(40 * day.count / widest) if widest else 0)
        click.echo(f"  {day.day.isoformat()} {day.count:>6}  {bar}".rstrip())
    shown = f"; the newest {len(result.matches)} shown" if len(result.matches) < result.matched else ""
    click.echo(
        f"{result.matched} of {result.searched} stories matched, first seen since "
        f"{local_time(result.since, zone)}{shown}"
    )
    if result.without_text:
        click.echo(
            f"note: {result.without_text} of the stories were recorded before the history kept texts: "
            "only their titles, links and sources were searched"
        )


# ---------------------------------------------------------------------------- rules


@main.command("rules")
@config_option
@click.option("--report", is_flag=True, help="Each rule's matches per day, alerts sent and last match.")
@click.option("--since", default="7d", show_default=True, callback=_duration, metavar="DURATION",
              help="With --report: the last DURATION (12h, 7d, ...).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def rules_command(config_path: str | None, report: bool, since: float, as_json: bool) -> None:
    """List the configured rules; with --report, how each one did: its matches on each day,
    the alerts of it sent, its last match, and the rules that matched nothing (noisy and
    dead rules at a glance)."""
    config = load_or_exit(config_path)
    enabled = [rule.name for rule in config.settings.rules if rule.enabled and rule.matches_stories]
    if not report:
        _list_rules(config, as_json)
        return
    zone = ZoneInfo(config.settings.timezone)
    store = _store(config)
    now = SYSTEM_CLOCK.timestamp()
    if store is None:
        click.echo(f"no activity to report {NO_DATABASE}")
        return
    try:
        result = asyncio.run(rules_report(store, enabled, since=now - since, until=now, zone=zone))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report_json(result, zone), ensure_ascii=False))
    else:
        _show_report(result, zone)


def _list_rules(config: Config, as_json: bool) -> None:
    rules = config.settings.rules
    if as_json:
        listed = [
            {"name": r.name, "enabled": r.enabled, "query": r.query, "notify": config.rule_targets(r)}
            | ({"spike": r.spike.model_dump()} if r.spike is not None else {}) for r in rules
        ]
        click.echo(json.dumps({"rules": listed}, ensure_ascii=False))
        return
    width = max([20, *(len(r.name) for r in rules)])
    click.echo(f"{'RULE':<{width}} {'STATE':<8} {'NOTIFY':<20} QUERY")
    for r in rules:
        state = "on" if r.enabled else "off"
        click.echo(f"{r.name:<{width}} {state:<8} {','.join(config.rule_targets(r))[:20]:<20} {single_line(r.text)}")


def report_json(result: RulesReport, zone: ZoneInfo) -> dict[str, Any]:
    """What ``rules --report --json`` prints: every rule (in the configuration's order) with
    its matches per day, alerts sent and last match; the rules without a match."""
    return {
        "since": _iso(result.since, zone),
        "until": _iso(result.until, zone),
        "timezone": result.zone,
        "rules": [
            {
                "rule": rule.rule,
                "matches": rule.matches,
                "alerts": rule.alerts,
                "last_match": _iso(rule.last_match, zone),
                "per_day": {day.day.isoformat(): day.count for day in rule.per_day},
            }
            for rule in result.rules
        ],
        "silent": [rule.rule for rule in result.silent],
    }


def _show_report(result: RulesReport, zone: ZoneInfo) -> None:
    days = result.days[-DAY_COLUMNS:]
    width = max([20, *(len(rule.rule) for rule in result.rules)])
    heads = " ".join(f"{day:%m-%d}" for day in days)
    click.echo(f"{'RULE':<{width}} {'MATCHES':>7} {'ALERTS':>6} {'LAST MATCH':<21} {heads}")
    # the noisiest first: what to tune is at the top, what never fires at the bottom
    order = sorted(result.rules, key=lambda rule: -rule.matches)
    for rule in order:
        counts = " ".join(f"{day.count:>5}" for day in rule.per_day[-DAY_COLUMNS:])
        last = local_time(rule.last_match, zone) if rule.last_match is not None else "never"
        click.echo(f"{rule.rule:<{width}} {rule.matches:>7} {rule.alerts:>6} {last:<21} {counts}")
    click.echo(
        f"{len(result.rules)} rules, matches since {local_time(result.since, zone)}"
        + (f"; the last {DAY_COLUMNS} days shown (--json has every day)" if len(result.days) > DAY_COLUMNS else "")
    )
    if result.silent:
        names = ", ".join(rule.rule for rule in result.silent)
        click.echo(f"no match since {local_time(result.since, zone)}: {names}")
