"""The names of the dataset's resources, indexed once when the dataset loads: /search and the near matches of an
unknown /id/ read this index instead of scanning every label on each request.

Names are compared in a normal form: case-folded, each run of letters and digits a word, words joined by one
space. A word starts at the first letter or digit of a run, and at every CJK character, since Chinese and
Japanese names have no spaces. A search finds the names in which the words typed start a word; every word
start of every name is one entry of a sorted list, so a search is two bisections and a walk over at most
a bounded number of entries, whatever the size of the dataset.
"""

from __future__ import annotations

import difflib
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

#: the longest search or slug looked up, in characters (a longer one is refused, or finds no near match)
MAX_QUERY = 400
#: the most hits a search answers
MAX_HITS = 50
#: entries of the index a search walks at most: a name has several word starts, a resource several names
MAX_WALK = 20 * MAX_HITS

WORD = re.compile(r"[^\W_]+")
CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
#: sorts after every character, so [p, p + END) holds exactly the keys that start with p
END = "\U0010ffff"


def normal(text: str) -> str:
    """The normal form names are compared in.

    >>> normal("  Agence France-Presse ")
    'agence france presse'
    >>> normal("智己汽车 (IM)")
    '智己汽车 im'
    """
    return " ".join(WORD.findall(text.casefold()))


def word_starts(key: str) -> list[int]:
    """Where the words of a normal form start: after each space, and at every CJK character.

    >>> word_starts("im motors")
    [0, 3]
    >>> word_starts("智己汽车 im")
    [0, 1, 2, 3, 5]
    """
    return [i for i, char in enumerate(key) if i == 0 or key[i - 1] == " " or CJK.match(char)]


@dataclass
class Hit:
    """A resource a search found: its IRI, the name that matched, and how well (0 whole name, 1 its start, 2 a later word)."""

    iri: str
    name: str
    score: int


class Prefixed:
    """Word starts of names, sorted by the rest of the name from there: the ones that start with a prefix are one run.

    An entry is a name's number and the offset of the word in its normal form, packed in one integer, so that the
    index holds no copy of the text.
    """

    def __init__(self, keys: list[str], entries: Iterable[tuple[int, int]]) -> None:
        """Index the word starts (name number, offset) of the normal forms `keys`."""
        self.keys = keys
        self.entries = array("Q", sorted((number << 16 | start for number, start in entries), key=self.rest))

    def rest(self, entry: int) -> str:
        """The normal form an entry stands for, from its word on."""
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
        self.iris: list[str] = []
        self.names: list[str] = []
        self.keys: list[str] = []  # the names' normal forms
        self.exact: dict[str, list[int]] = {}
        self.slugs: dict[str, str] = {}  # near-match key (an IRI's last segment, or an English label) -> IRI
        self.english: dict[str, str] = {}  # IRI -> the near-match key of its English label
        wholes: list[tuple[int, int]] = []
        inner: list[tuple[int, int]] = []
        for number, (iri, name, english) in enumerate(names):
            key = normal(name)
            self.iris.append(iri)
            self.names.append(name)
            self.keys.append(key)
            if not key:
                continue
            self.exact.setdefault(key, []).append(number)
            wholes.append((number, 0))
            inner += [(number, start) for start in word_starts(key)[1:] if start <= 0xFFFF]
            self.slugs.setdefault(iri.rsplit("/", 1)[-1], iri)
            if english:
                self.english.setdefault(iri, name.casefold().replace(" ", "-"))
                self.slugs.setdefault(self.english[iri], iri)
        self.wholes = Prefixed(self.keys, wholes)
        self.inner = Prefixed(self.keys, inner)
        self.near_keys = sorted(self.slugs)

    def __len__(self) -> int:
        return len(self.names)

    def search(self, words: str, limit: int = MAX_HITS) -> list[Hit]:
        """Resources with a name whose words start with `words`: whole names first, then names that start so, then the rest.

        Each group is in the order of the names; a resource is listed once, under its best name; at most `limit`
        (ask for one more than you show to learn whether there are more).
        """
        key = normal(words[:MAX_QUERY])
        if not key:
            return []
        hits: dict[str, Hit] = {}
        for number in sorted(self.exact.get(key, []), key=lambda n: self.iris[n]):
            hits.setdefault(self.iris[number], Hit(self.iris[number], self.names[number], 0))
        for score, entries in ((1, self.wholes), (2, self.inner)):
            for position in entries.starting(key)[:MAX_WALK]:
                if len(hits) >= limit:
                    break
                number = entries.name(position)
                hits.setdefault(self.iris[number], Hit(self.iris[number], self.names[number], score))
        return list(hits.values())[:limit]

    def near(self, slug: str, limit: int = 5) -> list[str]:
        """IRIs whose slug or English label is close to `slug` (difflib's ratio at least 0.5), best first.

        The candidates are the keys that sort next to `slug`, and the resources one of whose words starts like
        one of its words: a few hundred, whatever the size of the dataset.
        """
        slug = slug.casefold()
        if not slug or len(slug) > MAX_QUERY:
            return []
        width = 2 * limit
        at = bisect_left(self.near_keys, slug)
        candidates = set(self.near_keys[max(0, at - width):at + width])
        iris = {self.iris[self.wholes.name(p)] for p in self.wholes.around(normal(slug), width)}
        for word in normal(slug).split()[:8]:
            for entries in (self.wholes, self.inner):
                iris.update(self.iris[entries.name(p)] for p in entries.starting(word[:3])[:limit])
        for iri in iris:
            candidates.add(iri.rsplit("/", 1)[-1])
            candidates.add(self.english.get(iri, ""))
        close = difflib.get_close_matches(slug, sorted(candidates), n=limit * 2, cutoff=0.5)
        return list(dict.fromkeys(self.slugs[k] for k in close if k in self.slugs))[:limit]
