"""``newsmonitor demo``: two local outlets, a webhook receiver, and the real daemon for ~30 s."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from monitor.config import parse_settings
from monitor.demo.receiver import Received, Receiver
from monitor.demo.site import NewsSite
from monitor.demo.stories import STORIES

DEMO_RULES = textwrap.dedent(
    """\
    rules:
      - name: rare-earths
        query: '"rare earths" OR "rare earth"'
      - name: japan-defence
        query: Japan AND (defence OR defense)
      - name: chip-exports
        query: semiconductor* NEAR/10 export*
      - name: floods
        query: flood* -football
    """
)


def demo_config(
    feed_site: NewsSite, page_site: NewsSite, receiver: Receiver, state: Path, interval: float
) -> str:
    """The YAML the demo runs with (also a readable example of a small config)."""
    return (
        textwrap.dedent(
            f"""\
        database: sqlite:///{state}/demo.db
        # the demo site runs on loopback, which newsmonitor refuses by default (SSRF guard);
        # allow exactly the two demo ports
        allow_networks: ["127.0.0.1:{feed_site.port}", "127.0.0.1:{page_site.port}"]
        defaults:
          interval: {interval}s
          notify: [demo-hook]
        notifiers:
          demo-hook: "{receiver.url}"
        sources:
          - name: daily-planet
            outlet: Daily Planet
            feed: {feed_site.base}/feed.xml
          - name: coast-herald-world
            outlet: Coast Herald
            page: {page_site.base}/world/
        """
        )
        + DEMO_RULES
    )


async def run_demo(
    *,
    duration: float = 30.0,
    port: int = 0,
    echo: Callable[[str], object] = print,
    interval: float = 2.0,
    publish_every: float = 2.5,
) -> int:
    """Run the demo; returns the exit status (0 when alerts arrived exactly once each)."""
    from monitor.daemon.service import Daemon
    from monitor.redact import install_logging

    install_logging(30)
    local = [s for s in STORIES if not s.wire]
    wire = [s for s in STORIES if s.wire]
    planet = NewsSite("Daily Planet", [*local[:3], *local[3:6], *wire, *local[6:]], style=0)
    herald = NewsSite("Coast Herald", [*local[6:][:1], *wire], style=1)
    receiver = Receiver()
    seen_keys: dict[str, int] = {}

    def show(msg: Received) -> None:
        if msg.key:
            seen_keys[msg.key] = seen_keys.get(msg.key, 0) + 1
        echo("")
        echo(f"--- alert received by the local json:// receiver ({time.strftime('%H:%M:%S')}) ---")
        echo(f"{msg.title}")
        echo(textwrap.indent(msg.body.strip(), "  "))

    receiver.on_message = show
    await planet.start(port)
    await herald.start(0)
    await receiver.start(0)
    for site in (planet, herald):
        for _ in range(2):
            site.publish_next()  # already there before the first poll: primed, never alerted
    with tempfile.TemporaryDirectory(prefix="newsmonitor-demo-") as tmp:
        text = demo_config(planet, herald, receiver, Path(tmp), interval)
        config = parse_settings(text, "demo.yaml", env={})
        config.warnings.clear()  # the 2 s intervals are deliberate here
        echo(
            f"newsmonitor demo: news sites on {planet.base} (feed) and {herald.base} (section page, no feed)"
        )
        echo(f"rules: {', '.join(r.name for r in config.settings.rules)}; running for {duration:.0f} s")
        echo("the stories already on the sites are recorded at the first poll and never alerted;")
        echo("new stories appear every few seconds...")
        daemon = Daemon(config, workers=0)
        task = asyncio.create_task(daemon.run(install_signals=False))
        started = time.monotonic()
        published = 0
        try:
            await asyncio.sleep(interval * 2)
            while time.monotonic() - started < duration - 5:
                for site in (planet, herald):
                    story = site.publish_next()
                    if story is not None:
                        published += 1
                        echo(f"[site] {site.name} published: {story.title}")
                await asyncio.sleep(publish_every)
            await asyncio.sleep(max(0.0, duration - (time.monotonic() - started)))
        finally:
            daemon.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
            await daemon.close()
            await receiver.stop()
            await planet.stop()
            await herald.stop()
    duplicates = sum(n - 1 for n in seen_keys.values() if n > 1)
    echo("")
    echo("=== demo summary ===")
    echo(f"stories published while running: {published}")
    echo(f"alerts delivered to the receiver: {len(receiver.messages)} (duplicates: {duplicates})")
    echo(f"site requests served: {planet.requests + herald.requests}")
    echo("The AFP-style story ran on both outlets and produced one alert that lists both.")
    return 0 if receiver.messages and duplicates == 0 else 1
