"""Reading HTML pages in tests: their tags and text."""

from __future__ import annotations

from html.parser import HTMLParser

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Elements(HTMLParser):
    """Collects start tags with their attributes, and the text, of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    def links(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t == "a" and "href" in a]


def page(client, path: str) -> tuple[int, str]:
    response = client.get(path, headers={"Accept": BROWSER})
    return response.status_code, response.get_data(as_text=True)
