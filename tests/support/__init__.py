"""The one test plugin: local servers, feed documents, config builders and an SMTP box.

Test modules import classes and helpers from here, never from another test module; the
fixtures that wrap them (``site``, ``other_site``, ``canary``, ``receiver``, ``smtp``) are
registered once, in ``tests/conftest.py``.

- :mod:`tests.support.paths`    the repository, ``tests/data`` and the shared corpus (skip when absent)
- :mod:`tests.support.feeds`    RSS items and documents
- :mod:`tests.support.configs`  validated configs pointing at local servers; config problems as a list
- :mod:`tests.support.servers`  ``Site`` (the local HTTP server), ``Feed``, ``Canary``, ``raw_server``
- :mod:`tests.support.smtp`     a local SMTP server that keeps what it accepts
- :mod:`tests.support.slowclients` slow-loris clients: connections that trickle a request head forever
- :mod:`tests.support.waiting`  bounded polling for a condition
- :mod:`tests.support.crash`    crash trials against a daemon subprocess (tests and ``benchmarks/crash.py``)
"""
