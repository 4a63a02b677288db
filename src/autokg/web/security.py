"""What keeps a browser from turning the server's answers against its reader: the headers of pages, and redirects
that stay on this site whatever Host header the request came with."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from werkzeug.wrappers import Response

#: every page's scripts and styles are files of the app itself (static/), so a page needs nothing from elsewhere,
#: and no other site may frame it
PAGE_POLICY = "; ".join((
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
))
PAGE_HEADERS = (
    ("Content-Security-Policy", PAGE_POLICY),
    ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers that predate it
    ("Referrer-Policy", "same-origin"),  # a query typed on /query stays out of other sites' logs
)


def secure(response: Response, public_base: str = "") -> Response:
    """Add the page headers to an HTML answer, and make its Location relative unless it points under `public_base`."""
    if response.mimetype in ("text/html", "application/xhtml+xml"):
        response.headers.extend(PAGE_HEADERS)
    location = response.headers.get("Location")
    if location is not None:
        response.headers["Location"] = on_this_site(location, public_base)
    return response


def on_this_site(location: str, public_base: str = "") -> str:
    """A redirect target that cannot leave this site: a path, or a URL under the configured public base.

    Werkzeug writes the redirects it makes itself (`/id//x` to `/id/x`, say) with the request's Host header,
    which the client chooses.

    >>> on_this_site("http://evil.example/id/x?format=turtle")
    '/id/x?format=turtle'
    >>> on_this_site("http://evil.example//evil.example/x")
    '/evil.example/x'
    >>> on_this_site("https://w3id.org/autokg/id/x", "https://w3id.org/autokg/")
    'https://w3id.org/autokg/id/x'
    >>> on_this_site("https://w3id.org.evil.example/x", "https://w3id.org/autokg")
    '/x'
    >>> on_this_site("/ontology#v-rumoured")
    '/ontology#v-rumoured'
    """
    parts = urlsplit(location)
    base = urlsplit(public_base)
    if public_base and (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
        return location
    if not parts.scheme and not parts.netloc and not parts.path.startswith(("//", "/\\", "\\")):
        return location
    # browsers read a path that starts with // or /\ as another host's
    return urlunsplit(("", "", "/" + parts.path.lstrip("/\\"), parts.query, parts.fragment))
