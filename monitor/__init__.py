"""newsmonitor: a self-hosted news-monitoring alert daemon."""

__version__ = "0.1.0"
USER_AGENT = f"newsmonitor/{__version__} (+https://github.com/newsmonitor/newsmonitor)"
