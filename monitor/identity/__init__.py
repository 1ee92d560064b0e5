"""The identity stage (pure): when two listings are the same story.

- ``keys``: the keys under which a story counts as seen, and outbox idempotency keys;
- ``clusters``: syndication clusters, so one wire story on many sites is one alert.
"""
