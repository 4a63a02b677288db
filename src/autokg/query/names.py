"""The names of the dataset's resources, indexed once when the dataset loads: /search and the near matches of an
unknown /id/ read this index instead of scanning every label on each request.

The same index serves /reconcile (query/matching.py scores its names by trigrams). Names are compared in one
normal form: NFKC (so full-width letters are letters), case-folded, each run of letters and digits a word, words joined by one
space. A word starts at the first letter or digit of a run, and at every CJK character, since Chinese and
Japanese names have no spaces. A search finds the names in which the words typed start a word; every word
start of every name is one entry of a sorted list, so a search is two bisections and a walk over at most
a bounded number of entries, whatever the size of the dataset.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

#: the longest search or slug looked up, in characters (a longer one is refused, or finds no near match)
MAX_QUERY = 400
#: the most hits a search answers
MAX_HITS = 50
#: entries of the index a search walks at most: a name has several word starts, a resource several names
MAX_WALK = 20 * MAX_HITS

WORD = re.compile(r"[^\W_]+")
CJK = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"
#: one character where a word starts: the first of the text or one after a space, or any CJK character
WORD_START = re.compile("(?<![^ ])[^ ]|" + CJK)
#: sorts after every character, so [p, p + END) holds exactly the keys that start with p
END = "\U0010ffff"


def normal(text: str) -> str:
    """The normal form names are compared in.

    >>> normal("  Agence France-Presse ")
    'agence france presse'
    >>> normal("智己汽车 (IM)"), normal("ＳＡＩＣ  Motor Corp., Ltd.")
    ('智己汽车 im', 'saic motor corp ltd')
    """
    return " ".join(WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def trigrams(key: str) -> frozenset[str]:
    """The character trigrams of a normal form, padded so that short names and word starts count.

    >>> sorted(trigrams("mg"))
    ['  m', ' mg', 'mg ']
    """
    padded = f"  {key} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


def word_starts(key: str) -> list[int]:
    """Where the words of a normal form start: after each space, and at every CJK character.

    >>> word_starts("im motors")
    [0, 3]
    >>> word_starts("智己汽车 im")
    [0, 1, 2, 3, 5]
    """
    return [match.start() for match in WORD_START.finditer(key)]


@dataclass
class Hit:
    """A resource a search found: its IRI, the name that matched, and how well (0 whole name, 1 its start, 2 a later word)."""

    iri: str
    name: str
    score: int


class Prefixed:
    """Strings from an offset on (names from one of their words, IRIs from their last segment), sorted: those that
    start with a prefix are one run.

    An entry is a name's number and the offset, packed in one integer, so that the index holds no copy of the text.
    """

    def __init__(self, keys: list[str], entries: Iterable[tuple[int, int]]) -> None:
        """Index the (name number, offset) pairs into `keys`, the strings of each name (its normal form, or its IRI)."""
        self.keys = keys
        self.entries = array("Q", sorted((number << 16 | start for number, start in entries), key=self.rest))

    def rest(self, entry: int) -> str:
        """The string an entry stands for, from its offset on."""
        return self.keys[entry >> 16][entry & 0xFFFF:]

    def name(self, position: int) -> int:
        """The number of the name of the entry at `position`."""
        return self.entries[position] >> 16

    def starting(self, prefix: str) -> range:
        """The positions of the entries that start with `prefix`."""
        return range(bisect_left(self.entries, prefix, key=self.rest), bisect_left(self.entries, prefix + END, key=self.rest))

    def around(self, key: str, width: int) -> range:
        """The positions of the `width` entries on either side of where `key` sorts."""
        at = bisect_left(self.entries, key, key=self.rest)
        return range(max(0, at - width), min(len(self.entries), at + width))


class NameIndex:
    """Every name (label or alias, in any language) of the dataset's resources, ready for search and near matches.

    >>> index = NameIndex([("r:im", "IM Motors", True), ("r:im", "智己汽车", False), ("r:saic", "SAIC Motor", True)])
    >>> [(h.iri, h.name, h.score) for h in index.search("motor")]
    [('r:saic', 'SAIC Motor', 2), ('r:im', 'IM Motors', 2)]
    >>> [h.name for h in index.search("汽车")]
    ['智己汽车']
    >>> index.search("im motors")[0].score
    0
    """

    def __init__(self, names: Iterable[tuple[str, str, bool]]) -> None:
        """Index (IRI, name, whether it is the resource's English label) triples."""
        self.iris: list[str] = []  # the IRI of each name, sorted, one string per IRI
        self.names: list[str] = []
        self.keys: list[str] = []  # the names' normal forms
        self.english = bytearray()  # 1 for a name that is its resource's English label
        seen: dict[str, str] = {}
        wholes: list[tuple[int, int]] = []
        inner: list[tuple[int, int]] = []
        slugs: list[tuple[int, int]] = []
        # by IRI (a stable sort: each IRI's names keep their order), so that one IRI's names are a run of self.iris
        for number, (iri, name, english) in enumerate(sorted(names, key=lambda row: row[0])):
            if iri not in seen:
                seen[iri] = iri
                slugs += [(number, start) for start in (iri.rfind("/") + 1,) if start <= 0xFFFF]
            key = normal(name)
            self.iris.append(seen[iri])
            self.names.append(name)
            self.keys.append(key)
            self.english.append(bool(english))
            if key:
                wholes.append((number, 0))
                inner += [(number, start) for start in word_starts(key)[1:] if start <= 0xFFFF]
        self.wholes = Prefixed(self.keys, wholes)
        self.inner = Prefixed(self.keys, inner)
        self.slugs = Prefixed(self.iris, slugs)  # each IRI once, by its last segment

    def __len__(self) -> int:
        return len(self.names)

    def names_of(self, iri: str) -> dict[str, str]:
        """The names of one resource: normal form -> the name as first written, in the order they were indexed.

        >>> index = NameIndex([("r:a", "SAIC Motor", True), ("r:ab", "AB", True), ("r:a", "saic  motor", False)])
        >>> index.names_of("r:a"), index.names_of("r:"), index.english_label("r:ab")
        ({'saic motor': 'SAIC Motor'}, {}, 'AB')
        """
        found: dict[str, str] = {}
        for number in self.numbers(iri):
            found.setdefault(self.keys[number], self.names[number])
        return found

    def english_label(self, iri: str) -> str:
        """The resource's English label, or "" when it has none."""
        return next((self.names[n] for n in self.numbers(iri) if self.english[n]), "")

    def numbers(self, iri: str) -> range:
        """The numbers of one resource's names: a run, since names are numbered in the order of their IRIs."""
        start = bisect_left(self.iris, iri)
        return range(start, bisect_right(self.iris, iri, lo=start))

    def search(self, words: str, limit: int = MAX_HITS) -> list[Hit]:
        """Resources with a name whose words start with `words`: whole names first, then names that start so, then the rest.

        Each group is in the order of the names; a resource is listed once, under its best name; at most `limit`
        (ask for one more than you show to learn whether there are more).
        """
        key = normal(words[:MAX_QUERY])
        if not key:
            return []
        hits: dict[str, Hit] = {}
        for entries in (self.wholes, self.inner):
            for position in entries.starting(key)[:MAX_WALK]:
                if len(hits) >= limit:
                    break
                number = entries.name(position)
                # the names equal to `key` sort first among those that start with it
                score = 2 if entries is self.inner else 0 if self.keys[number] == key else 1
                hits.setdefault(self.iris[number], Hit(self.iris[number], self.names[number], score))
        return list(hits.values())[:limit]

    def near(self, slug: str, limit: int = 5) -> list[str]:
        """IRIs whose slug or English label is close to `slug` (difflib's ratio at least 0.5), best first.

        The candidates are the slugs and the names that sort next to `slug`, and the names one of whose words starts
        like one of its words: a few hundred, whatever the size of the dataset.
        """
        slug = slug.casefold()
        if not slug or len(slug) > MAX_QUERY:
            return []
        width, key = 2 * limit, normal(slug)
        numbers = {self.slugs.name(p) for p in self.slugs.around(slug, width)}
        numbers.update(self.wholes.name(p) for p in self.wholes.around(key, width))
        for word in key.split()[:8]:
            for entries in (self.wholes, self.inner):
                numbers.update(entries.name(p) for p in entries.starting(word[:3])[:limit])
        candidates: dict[str, str] = {}  # an IRI's last segment, or an English label written like one -> the IRI
        for number in sorted(numbers):
            iri = self.iris[number]
            candidates.setdefault(iri[iri.rfind("/") + 1:], iri)
            if self.english[number]:
                candidates.setdefault(self.names[number].casefold().replace(" ", "-"), iri)
        close = difflib.get_close_matches(slug, list(candidates), n=limit * 2, cutoff=0.5)
        return list(dict.fromkeys(candidates[k] for k in close))[:limit]
