"""The security headers every answer of the status server carries, error pages included.

The pages are read-only and self-contained: no script, no frame, no form, no outside
resource, so the policy forbids all of them (Miniflux CVE-2023-27592 is what happens when
an error page is the one answer without it).
"""

from __future__ import annotations

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def raw_answer(status: str) -> bytes:
    """A complete, body-less HTTP/1.1 answer with ``status`` (``"503 Service Unavailable"``)
    that closes the connection, for the moments no aiohttp response can be sent (a request
    head that timed out, a connection refused at the cap)."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
    return f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n".encode("ascii")
