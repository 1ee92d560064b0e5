"""Test helpers around the matcher's internals."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from monitor.models import Story
from monitor.rules import matcher as matcher_module


def random_story(rng: random.Random, i: int, words: Sequence[str], text_words: int, title_words: int) -> Story:
    """A story numbered ``i`` of up to ``text_words`` words drawn from ``words``, with a title
    of up to ``title_words`` (the text drawn first)."""
    text = " ".join(rng.choices(words, k=rng.randint(0, text_words)))
    title = " ".join(rng.choices(words, k=rng.randint(0, title_words)))
    return Story(source="wire", url=f"https://news.example/{i}", title=title, text=text)


def index_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The languages whose index is built from now on (by any matcher), in order: a test
    of the kept indexes (see ``monitor.daemon.rulecache``) shows none was built again."""
    built: list[str] = []
    init = matcher_module._Index.__init__

    def counted(self: object, rules: object, lang: str, *args: object) -> None:
        built.append(lang)
        init(self, rules, lang, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(matcher_module._Index, "__init__", counted)
    return built
