"""Overlapping chunks for very long texts, so that no entity is lost on a chunk border.

Consecutive chunks overlap by `overlap` characters. Each chunk *owns* the part of the text from the middle
of its leading overlap to the middle of its trailing overlap, and a detection is kept only by the chunk
that owns its start. An entity of up to `overlap / 2` characters that starts in a chunk's owned part
therefore lies wholly inside that chunk, and is found complete exactly once.
"""

from __future__ import annotations


def chunk_spans(length: int, size: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, end, owned_from, owned_to) for each chunk of a text of `length` characters."""
    if length <= size:
        return [(0, length, 0, length)]
    half = overlap // 2
    step = size - overlap
    spans = []
    start = 0
    while True:
        end = min(start + size, length)
        last = end == length
        spans.append((start, end, start + half if start else 0, length if last else end - half))
        if last:
            return spans
        start += step


def owned(position: int, owned_from: int, owned_to: int) -> bool:
    return owned_from <= position < owned_to
