"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright) against a running daemon on loopback with a local feed site.

It signs in, sees the failing source in its failing state, sees a newly published matching
story arrive in the alert list with its snippet (the page refreshes itself), tries a rule,
moves a dead alert back to pending with the retry button (its form carries the CSRF token),
and shows a story whose title is an ``<img onerror>`` / ``<script>`` payload as text: no
script runs, no dialog opens, and a canary listening on 127.0.0.2 is never contacted.
Screenshots of each step go to ``test-artifacts/browser/``.

In CI (``CI=true``) the browser must be there (``.ci/run`` installs it); elsewhere the test is
skipped, saying what to install, when it is not.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from monitor.demo.receiver import Receiver
from monitor.models import OutboxStatus
from tests.support.dashboard import QUAKE_TITLE, TOKEN, dashboard_rig
from tests.support.feeds import Item
from tests.support.servers import Canary, Site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
#: how long the browser may take for one step (a deadline, not a measurement)
STEP_MS = 20_000


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("chromium (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": in CI it must run")
        pytest.skip(message)


async def test_dashboard_in_headless_chromium(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    _need_browser()
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Canary("127.0.0.2") as canary:
        rig = await dashboard_rig(tmp_path, site, receiver, canary_port=canary.port)
        dialogs: list[str] = []
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    context = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
                    page = await context.new_page()
                    page.set_default_timeout(STEP_MS)
                    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

                    # signing in: the form sets the session cookie
                    await page.goto(rig.base + "/login")
                    await page.fill("input[name=token]", TOKEN)
                    await page.click("button[type=submit]")
                    await page.wait_for_url(rig.base + "/")
                    failing = page.locator("#sources tr", has_text="broken").locator(".state")
                    assert (await failing.inner_text()).startswith("failing since")
                    assert await failing.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
                    await page.screenshot(path=str(ARTIFACTS / "sources.png"), full_page=True)

                    # the filter hides the other rows at once
                    await page.fill("input[data-filter=sources]", "brok")
                    assert await page.locator("#sources tbody tr:visible").count() == 1

                    # alerts: the hostile title is text; a new story arrives by the page's own refresh
                    await page.goto(rig.base + "/alerts")
                    assert await page.locator("#alerts img, #alerts script").count() == 0
                    shown = await page.locator("#alerts").inner_text()
                    assert "<img src=x onerror=" in shown and QUAKE_TITLE in shown
                    await rig.publish(
                        Item("Second earthquake felt inland", "http://127.0.0.1/inland", "g-inland",
                             description="The second earthquake was felt far inland.")
                    )
                    fresh = page.locator("#alerts li", has_text="Second earthquake felt inland")
                    await fresh.wait_for()
                    assert await fresh.locator("mark").first.inner_text() == "earthquake"
                    await page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)

                    # try a rule on pasted text
                    await page.goto(rig.base + "/try")
                    await page.fill("input[name=query]", "earthquake AND coast")
                    await page.fill("textarea[name=text]", "An earthquake shook the coast overnight.")
                    await page.click("#try-form button[type=submit]")
                    result = page.locator("#try-result")
                    assert "1 of 1 story matched" in await result.inner_text()
                    assert await result.locator("mark").count() == 2
                    await page.screenshot(path=str(ARTIFACTS / "try.png"), full_page=True)

                    # try a rule over the stored history: the stories the daemon polled
                    await page.goto(rig.base + "/try")
                    await page.fill("input[name=query]", "earthquake")
                    await page.click("#try-form button[type=submit]")
                    result = page.locator("#try-result")
                    said = await result.inner_text()
                    assert "the stored history" in said and "stories matched" in said, said
                    titles = await result.locator("li.alert p.title").all_inner_texts()
                    assert QUAKE_TITLE in titles and "Second earthquake felt inland" in titles, titles
                    assert await result.locator("li.alert mark").count() >= 2
                    await page.screenshot(path=str(ARTIFACTS / "try-history.png"), full_page=True)

                    # retry: the dead alert goes back to pending
                    await page.goto(rig.base + "/outbox")
                    row = page.locator(f"#outbox-dead tr[data-id='{rig.dead_id}']")
                    assert "HTTP 500 from <b>chat</b>" in await row.inner_text()
                    await row.locator("button.retry").click()
                    await page.locator(".notice", has_text="is pending again").wait_for()
                    assert await page.locator(f"#outbox-dead tr[data-id='{rig.dead_id}']").count() == 0
                    assert await rig.status_of(rig.dead_id) is OutboxStatus.PENDING
                    await page.screenshot(path=str(ARTIFACTS / "outbox.png"), full_page=True)
                finally:
                    await browser.close()
        finally:
            await rig.close()
        assert canary.accepts == 0, "the XSS payload reached the canary"
    assert dialogs == []
