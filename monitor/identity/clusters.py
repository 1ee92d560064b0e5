"""Syndicated-story clustering: the same wire story on many sites becomes one cluster.

Copies of a wire story differ in small ways: each site's template adds bylines, "Read
more" lines and copyright footers, trims the last paragraph, or writes "(AFP)" where
another writes "AFP". Two signals find them:

* **text**: a MinHash (datasketch) over word 3-shingles of the normalised text. Jaccard
  similarity of shingle sets tolerates local edits; a MinHash LSH index gives
  sub-linear candidate lookup and the exact signature comparison decides. Texts under
  :data:`MIN_WORDS` words never merge on text alone and texts under :data:`SHORT_WORDS`
  need more similarity: short stories of one outlet share too much filler;
* **title**: a normalised title when it is long and specific enough to identify a story
  on its own (:func:`title_key`); "Live updates" or "Morning briefing" never are.

The default :data:`THRESHOLD` was measured with ``benchmarks/dedup.py`` over the shared
article corpus (see that script's docstring for the numbers). Everything is pure and
deterministic across processes (fixed seed, fixed hash), so signatures stored in the
database and loaded after a restart compare correctly.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

NUM_PERM = 128
SEED = 20240611
SCHEME = "affine32"
SHINGLE = 3
#: minimum words for a text to merge stories on its own: below this, an outlet's recurring
#: filler sentences ("Officials said further details would be released ...") can make up
#: half of two different stories (benchmarks/dedup.py, "filler" pairs)
MIN_WORDS = 100
#: texts shorter than this (the shorter of the pair) need SHORT_MARGIN more similarity
SHORT_WORDS = 200
SHORT_MARGIN = 0.1
#: Jaccard similarity (estimated) at or above which two texts are the same story. Measured
#: with benchmarks/dedup.py: different articles score at most 0.16 (same-topic stories from
#: different outlets included), "updates" (same lede, new body) at most 0.31, while heavily
#: edited copies go down to about 0.26. Precision is 1.0 from 0.35 up; 0.40 keeps a margin
#: of about 3 standard errors (128 permutations) above the worst update at 99.0% pair recall.
THRESHOLD = 0.40
#: the LSH index is tuned lower than the decision threshold so that true pairs near the
#: threshold are not lost to banding; the exact comparison then decides
LSH_MARGIN = 0.15

_MAGIC = b"NMS"
_VERSION = 1
_HEADER = struct.Struct("<3sBHI")  # magic, version, num_perm, words

# one CJK/kana/Thai character is one token (those scripts do not separate words with
# spaces); everything else is a run of letters and digits
_TOKEN = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")

_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations

#: the LSH bands of the default index (datasketch's choice for the lookup threshold): the
#: database's index (:func:`story_bands`) cuts every signature the same way, so a copy
#: recorded by another instance shares a band key with this one wherever the in-memory
#: index would have found it
_BANDS = MinHashLSH(threshold=max(0.1, THRESHOLD - LSH_MARGIN), num_perm=NUM_PERM).hashranges


def words(text: str) -> list[str]:
    """The normalised word tokens of ``text``: NFKC, case-folded, punctuation and quotes dropped."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


class Signature:
    """A MinHash of a story's text plus its word count; comparable and serialisable."""

    __slots__ = ("_lean", "values", "words")

    def __init__(self, values: np.ndarray, words: int) -> None:
        self.values = np.asarray(values, dtype=np.uint32)
        self.words = words
        self._lean: LeanMinHash | None = None

    def similarity(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two texts' shingle sets, 0.0 to 1.0."""
        if len(self.values) != len(other.values):
            raise ValueError("signatures of different sizes cannot be compared")
        return float(np.count_nonzero(self.values == other.values)) / len(self.values)

    def to_bytes(self) -> bytes:
        """A compact, versioned, platform-independent encoding (little-endian)."""
        head = _HEADER.pack(_MAGIC, _VERSION, len(self.values), min(self.words, 0xFFFFFFFF))
        return head + self.values.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Decode :meth:`to_bytes` output. Raises ValueError for anything else."""
        if len(data) < _HEADER.size:
            raise ValueError("not a newsmonitor text signature (too short)")
        magic, version, num_perm, count = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise ValueError("not a newsmonitor text signature (bad header or version)")
        body = data[_HEADER.size :]
        if len(body) != 4 * num_perm or num_perm != NUM_PERM:
            raise ValueError("text signature has the wrong size")
        return cls(np.frombuffer(body, dtype="<u4").astype(np.uint32), count)

    def lean(self) -> LeanMinHash:
        """The datasketch form, for the LSH index."""
        if self._lean is None:
            self._lean = LeanMinHash(seed=SEED, hashvalues=self.values, scheme=SCHEME)
        return self._lean

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Signature)
            and self.words == other.words
            and bool(np.array_equal(self.values, other.values))
        )

    def __hash__(self) -> int:
        return hash((self.words, self.values.tobytes()))

    def __repr__(self) -> str:
        return f"Signature(words={self.words}, values={self.values[:3].tolist()}...)"


def shingles(tokens: list[str], size: int = SHINGLE) -> set[bytes]:
    """The set of ``size``-word shingles (one shingle of everything when shorter)."""
    if len(tokens) < size:
        return {" ".join(tokens).encode("utf-8")} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode("utf-8") for i in range(len(tokens) - size + 1)}


def text_signature(text: str, *, size: int = SHINGLE) -> Signature:
    """The MinHash signature of ``text`` (deterministic across processes and machines)."""
    tokens = words(text)
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, permutations=_PERMUTATIONS)
    minhash.update_batch(sorted(shingles(tokens, size)))
    return Signature(minhash.hashvalues, len(tokens))


def merge_threshold(threshold: float, words_a: int, words_b: int) -> float:
    """The similarity two texts of these lengths need to merge (higher when either is short)."""
    return threshold + (SHORT_MARGIN if min(words_a, words_b) < SHORT_WORDS else 0.0)


# ---------------------------------------------------------------------------- titles

MIN_TITLE_WORDS = 6
MIN_TITLE_CHARS = 40
_SEPARATORS = re.compile(r"\s+[|\-–—:·•»]\s+")
_GENERIC = re.compile(
    r"\b(?:live(?: updates?| blog| coverage| news| stream)|as it happened|latest (?:news|updates|headlines)"
    r"|breaking news|top (?:stories|headlines|news)"
    r"|(?:morning|evening|daily|weekly|news|midday) (?:briefing|digest)"
    r"|what we know|what to know|in pictures|in photos|week in review|news (?:roundup|in brief|summary)"
    r"|headlines|newsletter|podcast|crossword|horoscope|weather forecast|quiz|opinion poll"
    r"|today s news|this week s news)\b"
)
_LIVE_PREFIX = re.compile(r"^\s*(?:live|watch live|video|watch|gallery|podcast)\s*[:|]", re.IGNORECASE)
_FLAG_PREFIX = re.compile(
    r"^\s*(?:breaking|update|updated|exclusive|analysis|opinion)\s*[:|]\s*", re.IGNORECASE
)


def title_key(title: str) -> str | None:
    """The normalised title when it can merge stories on its own, else None.

    A site suffix or prefix (" | Reuters", "Opinion | ") of at most three words is dropped;
    the rest must have at least 6 words and 40 characters and must not be a recurring
    generic headline (live blogs, briefings, roundups, podcasts, ...).
    """
    text = unicodedata.normalize("NFKC", title or "").strip()
    if not text or _LIVE_PREFIX.match(text):
        return None
    text = _FLAG_PREFIX.sub("", text)
    parts = _SEPARATORS.split(text)
    if len(parts) > 1 and len(words(parts[-1])) <= 3:
        parts = parts[:-1]
    if len(parts) > 1 and len(words(parts[0])) <= 2:
        parts = parts[1:]
    key = " ".join(words(" ".join(parts)))
    if len(key.split()) < MIN_TITLE_WORDS or len(key) < MIN_TITLE_CHARS or _GENERIC.search(key):
        return None
    return key


# ---------------------------------------------------------------------------- band keys


def _key64(data: bytes) -> int:
    # a signed 64-bit integer: a PostgreSQL bigint, and an advisory lock's key
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def story_bands(sig: Signature | None, tkey: str | None, *, min_words: int = MIN_WORDS) -> list[int]:
    """The band keys of a story in the database's near-duplicate index, sorted and distinct:
    one per LSH band of its text signature (when the text is long enough to merge stories,
    as :meth:`ClusterIndex.add` decides) and one for its title key. Two stories that the
    in-memory index would compare share at least one key. Deterministic across processes."""
    keys: set[int] = set()
    if sig is not None and sig.words >= min_words:
        values = sig.values.astype("<u4")
        for number, (start, end) in enumerate(_BANDS):
            keys.add(_key64(b"b" + number.to_bytes(1, "little") + values[start:end].tobytes()))
    if tkey:
        keys.add(_key64(b"t" + tkey.encode("utf-8")))
    return sorted(keys)


@dataclass(frozen=True, slots=True)
class Copy:
    """A story already recorded, as the near-duplicate index knows it."""

    cluster: str
    sig: Signature | None
    tkey: str | None
    at: float


def settle_clusters(
    known: Sequence[Copy],
    new: Sequence[tuple[str, Signature | None, str | None]],
    now: float,
    *,
    window_seconds: float,
    threshold: float = THRESHOLD,
) -> list[str]:
    """The cluster of each of ``new`` (its own key, signature, title key), recorded at
    ``now``, among the ``known`` copies (those sharing a band key with any of them) and the
    ones before it in ``new``: exactly as a :class:`ClusterIndex` holding ``known`` decides
    (a title wins, else the most similar text at or above the threshold, within the window);
    a story that joins none is its own cluster, named by its key. Every text is compared
    with every earlier one: ``known`` holds only the copies a band lookup found."""
    index = ClusterIndex(threshold=threshold, window_seconds=window_seconds, exhaustive=True)
    for copy in sorted(known, key=lambda c: c.at):
        index.add(copy.cluster, copy.sig, copy.tkey, copy.at)
    clusters = []
    for key, sig, tkey in new:
        cluster = index.find(sig, tkey, now) or key
        index.add(cluster, sig, tkey, now)
        clusters.append(cluster)
    return clusters


# ---------------------------------------------------------------------------- the index


@dataclass(slots=True)
class _Member:
    cluster: str
    sig: Signature
    at: float


class ClusterIndex:
    """Recently seen stories by text signature and title key, for finding a story's cluster.

    Not thread-safe; the daemon uses it from the event loop only.
    """

    def __init__(
        self,
        *,
        threshold: float = THRESHOLD,
        window_seconds: float = 48 * 3600,
        min_words: int = MIN_WORDS,
        exhaustive: bool = False,
    ) -> None:
        """``threshold``: similarity at or above which texts merge; ``window_seconds``: how far
        apart in time two copies may be; ``exhaustive``: compare a text with every member,
        not only the LSH index's candidates (for a few members that a lookup elsewhere already
        chose: building the index costs ~40 ms, datasketch tunes its bands on the way). Raises
        ValueError for a threshold outside (0, 1]."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.window = window_seconds
        self.min_words = min_words
        self._lsh = None if exhaustive else MinHashLSH(threshold=max(0.1, threshold - LSH_MARGIN), num_perm=NUM_PERM)
        self._members: dict[int, _Member] = {}
        self._titles: dict[str, tuple[str, float]] = {}
        self._expiry: list[tuple[float, int, str]] = []  # (at, member id or -1, title key)
        self._next = 0

    def __len__(self) -> int:
        return len(self._members) + len(self._titles)

    def add(self, cluster_id: str, sig: Signature | None, tkey: str | None, at: float) -> None:
        """Remember a story of ``cluster_id`` seen at ``at`` (epoch seconds)."""
        if sig is not None and sig.words >= self.min_words:
            member = self._next
            self._next += 1
            self._members[member] = _Member(cluster_id, sig, at)
            if self._lsh is not None:
                self._lsh.insert(member, sig.lean(), check_duplication=False)
            heapq.heappush(self._expiry, (at, member, ""))
        if tkey:
            known = self._titles.get(tkey)
            if known is None or known[1] <= at:
                # the newest sighting keeps the title alive; the first cluster keeps the name
                cluster = known[0] if known is not None and at - known[1] <= self.window else cluster_id
                self._titles[tkey] = (cluster, at)
                heapq.heappush(self._expiry, (at, -1, tkey))

    def find(self, sig: Signature | None, tkey: str | None, at: float) -> str | None:
        """The cluster of a story seen within the window that this one duplicates, or None.

        A title key match wins; otherwise the most similar text at or above the threshold
        (ties: the most recent). Short texts (under ``min_words``) never match on text;
        texts under SHORT_WORDS words need SHORT_MARGIN more similarity.
        """
        if tkey:
            known = self._titles.get(tkey)
            if known is not None and abs(at - known[1]) <= self.window:
                return known[0]
        if sig is None or sig.words < self.min_words:
            return None
        best: tuple[float, float, str] | None = None
        candidates = self._lsh.query(sig.lean()) if self._lsh is not None else list(self._members)
        for member_id in candidates:
            member = self._members.get(member_id)
            if member is None or abs(at - member.at) > self.window:
                continue
            score = sig.similarity(member.sig)
            needed = merge_threshold(self.threshold, sig.words, member.sig.words)
            if score >= needed and (best is None or (score, member.at) > best[:2]):
                best = (score, member.at, member.cluster)
        return best[2] if best is not None else None

    def expire(self, now: float) -> None:
        """Forget everything last seen more than the window before ``now``."""
        limit = now - self.window
        while self._expiry and self._expiry[0][0] < limit:
            at, member_id, tkey = heapq.heappop(self._expiry)
            if member_id >= 0:
                if self._members.pop(member_id, None) is not None and self._lsh is not None:
                    self._lsh.remove(member_id)
            elif tkey in self._titles and self._titles[tkey][1] == at:
                del self._titles[tkey]
