"""``newsmonitor demo``: a bundled news site on 127.0.0.1 and the real daemon run against it."""
