"""Security headers: the ones every answer carries, and the Content-Security-Policies of the pages."""

from __future__ import annotations

# On every answer (api/middleware.py adds them, and the last-resort 500 carries them itself).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# JSON answers load nothing and may be framed by nobody.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"


def page_csp(*, script_src: str) -> str:
    """A page of this app (Swagger UI, GraphiQL): its own files and `script_src`, requests only to the
    app itself. Their bundled libraries inject <style> elements, hence 'unsafe-inline' for styles
    (never for scripts); their fonts and icons are data: URIs."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {script_src}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
