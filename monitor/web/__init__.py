"""Read-only status page, JSON status and Prometheus metrics (``web.listen``)."""
