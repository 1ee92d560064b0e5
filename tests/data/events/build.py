"""Rebuild stories.jsonl from the shared corpus and the labels in labels.json.

    python tests/data/events/build.py ../shared/corpus

Keeps of each article of the scrapinghub set its title, outlet, URL and the first
``LEAD_CHARS`` characters of its human-annotated text (the lead, which is what the event
grouping reads), with the event label of labels.json (none: a story of its own).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LEAD_CHARS = 1200
HERE = Path(__file__).resolve().parent


def main(corpus: Path) -> None:
    labels = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    by_prefix = {member: name for name, event in labels["events"].items() for member in event["members"]}
    out = []
    for line in (corpus / "articles" / "index.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        if row["set"] != "scrapinghub-aeb":
            continue
        short = row["id"][:8]
        text = row["ground_truth"] or ""
        out.append(
            {
                "id": short,
                "outlet": row["domain"],
                "url": row["url"],
                "title": row["title"] or "",
                "lead": text[:LEAD_CHARS],
                "event": by_prefix.pop(short, None),
            }
        )
    if by_prefix:
        raise SystemExit(f"labels name stories not in the corpus: {sorted(by_prefix)}")
    with (HERE / "stories.jsonl").open("w", encoding="utf-8") as file:
        for story in sorted(out, key=lambda s: s["id"]):
            file.write(json.dumps(story, ensure_ascii=False) + "\n")
    print(f"{len(out)} stories written")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
