"""Per-worker memos (remembered addresses, signed CSRF tokens) bounded in size."""


def make_room(kept: dict, bound: int) -> None:
    """Once `kept` holds `bound` entries, forget its oldest half (a dict keeps the order of insertion)."""
    if len(kept) >= bound:
        for old in list(kept)[: bound // 2]:
            kept.pop(old, None)  # another thread may have dropped it first
