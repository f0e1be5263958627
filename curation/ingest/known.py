"""The set of conversation ids already in the lake, with their content hashes, as sorted numpy arrays.

Ids are kept as 64-bit hashes (16 bytes per conversation with the content hash), so the index of ten
million conversations costs 160 MB, and membership for a whole batch is one `searchsorted`.
"""

from __future__ import annotations

import numpy as np
import xxhash


def id_hashes(ids: list[str]) -> np.ndarray:
    return np.fromiter((xxhash.xxh3_64_intdigest(i.encode()) for i in ids), dtype=np.uint64, count=len(ids))


class KnownIds:
    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.uint64)
        self.contents = np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, content hash of the known id where found)."""
        pos = np.searchsorted(self.ids, ids)
        pos_clipped = np.minimum(pos, max(len(self.ids) - 1, 0))
        found = (pos < len(self.ids)) & (self.ids[pos_clipped] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        contents = np.where(found, self.contents[pos_clipped] if len(self.ids) else 0, 0).astype(np.uint64)
        return found, contents

    def add(self, ids: np.ndarray, contents: np.ndarray) -> None:
        """Insert new (not yet known, distinct) ids: a sorted merge, linear in the index size."""
        order = np.argsort(ids, kind="stable")
        ids, contents = ids[order], contents[order]
        at = np.searchsorted(self.ids, ids)
        self.ids = np.insert(self.ids, at, ids)
        self.contents = np.insert(self.contents, at, contents)
