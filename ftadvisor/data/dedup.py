"""Exact and near-duplicate examples: normalised-text hashing and MinHash LSH with exact verification.

System prompts are left out: they are usually shared by every example and would make all of them look
alike. Near-duplicates are pairs whose sets of character 5-grams (of the normalised text) have a Jaccard
similarity at or above the threshold; every candidate pair is checked with the exact Jaccard, so the
reported pairs have no false positives. Candidates come from two indexes, split by set size:
- long texts (``LONG`` 5-grams or more): MinHash signatures (128 permutations, numpy) in datasketch's
  ``MinHashLSH``, tuned for recall at a slightly lower threshold;
- short texts (up to ``LONG / threshold``): exact prefix filtering (PPJoin, see ``_prefix_pairs``): two sets
  at or above the threshold must share one of their rarest 5-grams, so no pair is missed, and since the rare
  5-grams lead, the lists probed stay short. Short templated texts ("q1", "q2", ... with one answer) make
  MinHash return nearly every pair as a candidate; this keeps them linear.
A pair of sizes a <= b can reach the threshold only if a >= threshold * b, so every such pair lies in one
index or both.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ftadvisor.data.formats import Method
from ftadvisor.data.jsonl import iter_objects, iter_raw_lines, open_input
from ftadvisor.data.text import example_text, normalise

NUM_PERM = 128
SHINGLE = 5  # characters
LONG = 64  # 5-grams: sets this large go to MinHash LSH; sets up to LONG / threshold to prefix filtering


@dataclass
class DuplicateGroup:
    kind: Literal["exact", "near"]
    lines: list[int]
    similarity: float  # the lowest verified Jaccard between linked members (1.0 for exact groups)


@dataclass
class DedupReport:
    file: str
    n_examples: int
    threshold: float
    groups: list[DuplicateGroup] = field(default_factory=list)

    @property
    def n_removable(self) -> int:
        return sum(len(g.lines) - 1 for g in self.groups)

    def drop_lines(self) -> set[int]:
        """Lines to remove so one example (the first) of each group stays."""
        return {line for g in self.groups for line in g.lines[1:]}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class MinHasher:
    """MinHash signatures of character-5-gram sets (stable across runs and processes)."""

    def __init__(self, num_perm: int = NUM_PERM, seed: int = 1) -> None:
        import numpy as np

        self.np = np
        rng = np.random.default_rng(seed)
        # Multiply-shift hashing h(x) = (a*x + b) >> 32 over uint64 (wrapping): no slow modulo.
        self.a = (rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1))[:, None]
        self.b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)[:, None]

    def shingles(self, text: str) -> Any:
        """Sorted unique 32-bit hashes of the character 5-grams of the normalised text."""
        np = self.np
        b = np.frombuffer(normalise(text).encode(), dtype=np.uint8).astype(np.uint64)
        if len(b) >= SHINGLE:
            n = len(b) - SHINGLE + 1
            h = b[:n].copy()
            for k in range(1, SHINGLE):  # the 5 bytes packed into 40 bits: no collisions before folding
                h = (h << np.uint64(8)) | b[k : k + n]
            h = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
        else:
            h = np.array([zlib.crc32(b.astype(np.uint8).tobytes())], dtype=np.uint64)
        return np.unique(h)

    def signature(self, shingles: Any) -> Any:
        np = self.np
        buf = np.multiply(self.a, shingles[None, :])
        np.add(buf, self.b, out=buf)
        # The shift is monotonic, so it can be applied after the minimum: one pass less over the matrix.
        return buf.min(axis=1) >> np.uint64(32)


def jaccard(a: Any, b: Any) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays."""
    import numpy as np

    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def _prefix_pairs(sets: list[Any], threshold: float) -> Iterator[tuple[int, int, float]]:
    """``(i, j, Jaccard)`` with ``i < j`` for every pair of ``sets`` at or above ``threshold``, exactly.

    PPJoin's prefix filtering (Xiao et al. 2008): sets are visited by increasing size, each ordered rarest
    5-gram first; a set probes the index with its first ``n - ceil(t n) + 1`` 5-grams and is then indexed
    under only its first ``n - ceil(2t/(1+t) n) + 1`` (every set already indexed is no larger). A size
    filter follows, then the exact Jaccard of all of a set's candidates in one vectorised step."""
    import numpy as np

    if not sets:
        return
    values, counts = np.unique(np.concatenate(sets), return_counts=True)
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.lexsort((values, counts))] = np.arange(len(values))  # rarest first, ties by value
    index: dict[int, list[int]] = {}
    sizes = [len(s) for s in sets]
    mid = 2 * threshold / (1 + threshold)
    for i in sorted(range(len(sets)), key=sizes.__getitem__):
        s, size = sets[i], sizes[i]
        low = threshold * size
        ordered = np.sort(rank[np.searchsorted(values, s)]).tolist()
        found: set[int] = set()
        for token in ordered[: size - math.ceil(threshold * size - 1e-9) + 1]:
            bucket = index.get(token)
            if bucket:
                found.update(j for j in bucket if sizes[j] >= low)
        for token in ordered[: size - math.ceil(mid * size - 1e-9) + 1]:
            index.setdefault(token, []).append(i)
        if not found:
            continue
        cands = sorted(found)
        lens = np.array([sizes[j] for j in cands])
        hits = np.isin(np.concatenate([sets[j] for j in cands]), s)  # the candidates share 5-grams: not unique
        inter = np.add.reduceat(hits, np.concatenate(([0], np.cumsum(lens)[:-1])))
        sims = inter / (size + lens - inter)
        for k in np.flatnonzero(sims >= threshold).tolist():
            j = cands[k]
            yield min(i, j), max(i, j), float(sims[k])


def _examples(path: str | Path, method: Method) -> Iterator[tuple[int, str]]:
    for line_no, obj in iter_objects(path):
        if isinstance(obj, dict):
            yield line_no, example_text(obj, method, system=False)


def find_duplicates(
    path: str | Path,
    *,
    threshold: float = 0.8,
    method: Method | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DedupReport:
    """Groups of exact and near-duplicate examples in a JSONL dataset, by line number."""
    from datasketch import LeanMinHash, MinHashLSH

    from ftadvisor.data.scan import detect_method
    from ftadvisor.errors import InputError

    if not 0 < threshold <= 1:
        raise InputError(f"--threshold must be in (0, 1], got {threshold}")
    open_input(path).close()
    method = method or detect_method(path)[0]
    hasher = MinHasher()
    exact_first: dict[bytes, int] = {}
    uf = _UnionFind()
    edges: list[tuple[int, int, float, bool]] = []  # (line, line, Jaccard, exact copy)
    shingles: dict[int, Any] = {}

    def join(a: int, b: int, sim: float, exact: bool = False) -> None:
        """Put ``a`` and ``b`` in one group; the edge keeps the group's lowest verified similarity."""
        if uf.find(a) != uf.find(b):
            uf.union(a, b)
            edges.append((a, b, sim, exact))

    n = 0
    for line_no, text in _examples(path, method):
        n += 1
        key = hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()
        first = exact_first.setdefault(key, line_no)
        if first != line_no:
            join(first, line_no, 1.0, exact=True)
            continue  # an exact copy adds nothing to the near-duplicate indexes
        shingles[line_no] = hasher.shingles(text)
        if progress and n % 1000 == 0:
            progress(n, 0)

    lsh = MinHashLSH(threshold=max(0.05, threshold - 0.1), num_perm=NUM_PERM, weights=(0.2, 0.8))
    for line_no, sh in shingles.items():
        if len(sh) >= LONG:
            mh = LeanMinHash(seed=1, hashvalues=hasher.signature(sh), scheme="legacy")
            for other in lsh.query(mh):
                if uf.find(other) != uf.find(line_no) and (sim := jaccard(shingles[other], sh)) >= threshold:
                    join(other, line_no, sim)
            lsh.insert(line_no, mh, check_duplication=False)
    short = [line for line, sh in shingles.items() if len(sh) <= LONG / threshold]
    for a, b, sim in _prefix_pairs([shingles[line] for line in short], threshold):
        join(short[a], short[b], sim)
    by_root: dict[int, tuple[set[int], list[float], list[bool]]] = {}
    for a, b, sim, exact in edges:
        members, sims, exacts = by_root.setdefault(uf.find(a), (set(), [], []))
        members.update((a, b))
        sims.append(sim)
        exacts.append(exact)
    report = DedupReport(str(path), n, threshold)
    for _root, (members, sims, exacts) in sorted(by_root.items()):
        report.groups.append(DuplicateGroup("exact" if all(exacts) else "near", sorted(members), min(sims)))
    return report


def write_deduplicated(path: str | Path, out: str | Path, report: DedupReport) -> int:
    """Copy ``path`` to ``out`` without the duplicate lines (bytes kept as they were); returns lines kept."""
    from ftadvisor.data.jsonl import atomic_writer

    drop = report.drop_lines()
    kept = 0
    with atomic_writer(out, "wb", inputs=[path]) as f:
        for line_no, raw in enumerate(iter_raw_lines(path), 1):
            if line_no not in drop:
                f.write(raw + b"\n")
                kept += 1
    return kept
