"""Order-preserving alignment of what a student wrote (or built) to what the spec expects.

A weighted edit distance (Needleman-Wunsch): each item is matched to one expected item or left
out, at the cost the caller gives. Used both to map code to steps and to map a model's layers to
steps, so that a missing or extra layer does not shift every layer after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")

GAP = 1.0


def align(actual: Sequence[A], expected: Sequence[B],
          cost: Callable[[A, B], float]) -> list[int | None]:
    """For each item of `actual`, the index of the expected item it matches, or None."""
    rows, cols = len(actual), len(expected)
    table = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        table[i][0] = i * GAP
    for j in range(1, cols + 1):
        table[0][j] = j * GAP
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            table[i][j] = min(table[i - 1][j - 1] + cost(actual[i - 1], expected[j - 1]),
                              table[i - 1][j] + GAP, table[i][j - 1] + GAP)
    matches: list[int | None] = [None] * rows
    i, j = rows, cols
    while i > 0 and j > 0:
        if table[i][j] == table[i - 1][j - 1] + cost(actual[i - 1], expected[j - 1]):
            matches[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif table[i][j] == table[i - 1][j] + GAP:
            i -= 1
        else:
            j -= 1
    return matches
