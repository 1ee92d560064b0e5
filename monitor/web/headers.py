"""The security headers every answer of the status server carries, error pages included.

Everything but our own HTML pages gets a policy that forbids every resource and sandboxes
the document (Miniflux CVE-2023-27592 is what happens when an error page is the one answer
without it; CVE-2025-31483 when the policy of raw bytes is only ``default-src 'self'``). Our
pages may load their own stylesheet and script, never inline code, and post only to us.
"""

from __future__ import annotations

#: the policy of every answer that is not one of our pages: nothing loads, nothing runs
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'; sandbox"
#: our HTML pages: their own stylesheet and script (no inline code), forms back to us only
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": STRICT_CSP,
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: with it a browser sends `Origin: null` on our own form posts, which the
    # CSRF check must refuse; same-origin keeps every referrer from other sites all the same
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def raw_answer(status: str) -> bytes:
    """A complete, body-less HTTP/1.1 answer with ``status`` (``"503 Service Unavailable"``)
    that closes the connection, for the moments no aiohttp response can be sent (a request
    head that timed out, a connection refused at the cap)."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
    return f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n".encode("ascii")
