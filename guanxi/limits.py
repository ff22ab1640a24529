"""Per-run limits on what one source may contribute, recorded on the source when they bite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone

from guanxi.models import Batch
from guanxi.store import rows_view

_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def cap_entries(batch: Batch, limit: int) -> tuple[Batch, int]:
    """Keep the newest `limit` entries (undated ones count as oldest; ties keep feed order);
    return the batch and how many entries were dropped."""
    total = len(batch.entries)
    if total <= limit:
        return batch, 0
    ranked = sorted(range(total), key=lambda i: (batch.entries[i].published_at or _OLDEST, -i), reverse=True)
    keep = sorted(ranked[:limit])
    return replace(batch, entries=[batch.entries[i] for i in keep]), total - limit


def record_notes(con, notes: dict[int, str | None], say: Callable[[str], None]) -> None:
    """Save each source's note for this run (None clears an old one) and say it on stderr."""
    if not notes:
        return
    with rows_view(con, "_notes", ["source_id", "note"], [[sid, note] for sid, note in notes.items()]):
        con.execute("UPDATE sources SET last_note = n.note FROM _notes n WHERE sources.source_id = n.source_id")
    for source_id, note in notes.items():
        if note:
            say(f"source {source_id}: {note}")


def capped_note(kept: int, dropped: int) -> str:
    return (f"limit: kept the newest {kept} of {kept + dropped} entries "
            "([ingest] max_entries_per_feed)")
