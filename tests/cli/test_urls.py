"""``test-rule URL``: the URL typed by the operator is fetched (its exact host:port allowed), extracted, matched."""

from __future__ import annotations

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli.rules import test_rule as rule_command


def test_test_rule_fetches_a_url_typed_on_the_command_line(httpserver: HTTPServer) -> None:
    page = (
        "<html><head><title>Britain, Japan agree</title></head><body><article><h1>Britain, Japan agree</h1>"
        + "<p>The ministers discussed rare earths and defence cooperation in Tokyo on Saturday.</p>" * 6
        + "</article><aside>Streetwear capsule collection</aside></body></html>"
    )
    httpserver.expect_request("/story").respond_with_data(page, content_type="text/html")
    url = httpserver.url_for("/story")
    hit = CliRunner().invoke(rule_command, ['"rare earths"', url])
    assert hit.exit_code == 0, hit.output
    assert "**rare earths**" in hit.output
    miss = CliRunner().invoke(rule_command, ["zeppelin", url])
    assert miss.exit_code == 1, miss.output
