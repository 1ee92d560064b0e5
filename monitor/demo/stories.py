"""The demo's news stories (written for newsmonitor; fictional outlets, invented quotes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoStory:
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    section: str = "world"
    wire: bool = False  # published by both demo outlets (a syndicated wire story)


FILLER = (
    "Officials said further details would be released in the coming days.",
    "Analysts said the announcement had been widely expected.",
    "The statement did not give a timetable for the next steps.",
    "Opposition politicians said they would study the plans closely.",
)


def _body(*lead: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return (*lead, *FILLER[:2], *extra, *FILLER[2:])


STORIES: tuple[DemoStory, ...] = (
    DemoStory(
        "harbour-bridge-reopens-after-repairs",
        "Harbour bridge reopens to traffic after two years of repairs",
        _body(
            "The city's harbour bridge reopened to cars and buses on Monday after a two-year repair programme.",
            "Engineers replaced the deck joints and repainted the steel arches, the transport authority said.",
        ),
        section="local",
    ),
    DemoStory(
        "central-bank-holds-rates-steady",
        "Central bank holds interest rates steady as inflation cools",
        _body(
            "The central bank left its benchmark rate unchanged at its monthly meeting.",
            "Inflation slowed for a third month in a row, the statistics office said last week.",
        ),
        section="business",
    ),
    DemoStory(
        "marathon-record-falls-in-rain",
        "Marathon course record falls despite heavy rain",
        _body(
            "A 24-year-old runner broke the course record by 41 seconds on a wet Sunday morning.",
            "More than 12,000 runners finished the race, organisers said.",
        ),
        section="sport",
    ),
    DemoStory(
        "britain-japan-deepen-defence-cooperation",
        "Britain, Japan agree to deepen defence, security cooperation",
        (
            "Britain and Japan agreed on Thursday to deepen their defence and security cooperation, "
            "the two governments said after talks between their foreign and defence ministers.",
            "The ministers discussed joint exercises, the exchange of intelligence and the joint development "
            "of a next-generation fighter jet, according to a joint statement.",
            "Tokyo has been expanding its security ties beyond its alliance with the United States.",
            *FILLER,
            "The two sides also agreed to cooperate on economic security, including supply chains for "
            "critical minerals and rare earths, which are used in electric vehicles and weapons systems.",
            "China dominates the processing of rare earths, and both countries have sought to reduce "
            "their dependence on a single supplier.",
        ),
        wire=True,
    ),
    DemoStory(
        "chipmakers-face-new-export-rules",
        "Chipmakers face new export rules on advanced semiconductors",
        _body(
            "Governments announced tighter export controls on advanced semiconductors and the machines "
            "that make them.",
            "Industry groups warned that the rules could disrupt supply chains for carmakers.",
        ),
        section="business",
    ),
    DemoStory(
        "fashion-house-launches-capsule",
        "Fashion house launches spring capsule collection",
        _body(
            "A fashion house unveiled a twelve-piece capsule collection inspired by seaside towns.",
            "The pieces go on sale next month in stores and online.",
        ),
        section="lifestyle",
    ),
    DemoStory(
        "flood-warnings-issued-for-river-valley",
        "Flood warnings issued for river valley after days of rain",
        _body(
            "Authorities issued flood warnings for towns along the river after three days of heavy rain.",
            "Residents of low-lying streets were advised to move valuables upstairs.",
        ),
        section="local",
    ),
    DemoStory(
        "mining-company-opens-rare-earth-plant",
        "Mining company opens rare earth processing plant",
        _body(
            "A mining company opened a plant to separate rare earth elements outside China.",
            "The plant will produce neodymium and praseodymium for magnets used in wind turbines.",
        ),
        section="business",
    ),
    DemoStory(
        "japan-defense-budget-record",
        "Japan approves record defense budget",
        _body(
            "Japan's cabinet approved a record defense budget for the next fiscal year.",
            "The spending includes long-range missiles and new destroyers.",
        ),
    ),
    DemoStory(
        "library-extends-opening-hours",
        "City library extends opening hours for exam season",
        _body(
            "The central library will stay open until midnight during the exam season.",
            "Students welcomed the change on social media.",
        ),
        section="local",
    ),
)
