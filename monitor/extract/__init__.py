"""Article text and metadata, section-page link discovery and URL normalisation.

Everything here is pure (bytes/str in, values out, no I/O) so the daemon can run it in a
worker pool and tests can run it directly:

* ``urls``: ``normalize_url``, ``unwrap_redirect``, ``registrable_domain``, ``is_http_url``
* ``article``: ``extract_article`` → ``Article``; ``with_feed_text`` (what a story is
  matched on once its article was extracted)
* ``linklists``: ``link_lines`` / ``drop_link_lines`` ("Read more:" lines and related-story
  lists inside an article)
* ``links``: ``discover_links`` → ``LinkReport``; ``compile_patterns``; ``advertised_feeds``
  (the feeds a page's ``<link rel="alternate">`` names)
* ``charset``: ``decode_html`` (BOM, UTF-8, ``<meta charset>``, detection)
"""
