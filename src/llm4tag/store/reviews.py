"""The review queue: recent low-confidence tags for a person to confirm or correct. Part of ``Store`` (a mixin
over its connection)."""

from __future__ import annotations

import time
from collections.abc import Iterable


class ReviewQueue:
    # -- review queue --------------------------------------------------------
    def add_reviews(self, items: Iterable[tuple[str, str, str, float]], *, limit: int | None = None) -> int:
        """Queue (content id, text, tag id, score) for a person to confirm or correct; a content's tag already
        waiting is not queued twice. ``limit``: pending items kept, the newest (a person reviews tens a day, a
        service tags thousands a minute: the queue must not grow with traffic). Returns how many were queued."""
        now = time.time()
        rows = [(c, t, tag, float(score), now, c, tag) for c, t, tag, score in items]
        with self.transaction() as conn:
            queued = sum(
                conn.execute(
                    "INSERT INTO reviews(content_id, text, tag_id, score, created_at) SELECT ?, ?, ?, ?, ? WHERE NOT"
                    " EXISTS (SELECT 1 FROM reviews WHERE content_id = ? AND tag_id = ? AND resolved_at IS NULL)",
                    row,
                ).rowcount
                for row in rows
            )
            if limit is not None:
                conn.execute(
                    "DELETE FROM reviews WHERE resolved_at IS NULL AND seq <= (SELECT seq FROM reviews WHERE"
                    " resolved_at IS NULL ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (limit,),
                )
        return queued

    def pending_reviews(self, limit: int = 50) -> list[dict]:
        """Unresolved review items, newest first."""
        rows = self._query(
            "SELECT seq, content_id, text, tag_id, score, created_at FROM reviews WHERE resolved_at IS NULL"
            " ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        keys = ("seq", "content_id", "text", "tag_id", "score", "created_at")
        return [dict(zip(keys, row)) for row in rows]

    def resolve_reviews(self, content_id: str, tag_ids: Iterable[str] | None = None) -> int:
        """Mark a content's review items (or only those of ``tag_ids``) as done."""
        now = time.time()
        with self.transaction() as conn:
            if tag_ids is None:
                cursor = conn.execute(
                    "UPDATE reviews SET resolved_at = ? WHERE content_id = ? AND resolved_at IS NULL", (now, content_id)
                )
                return cursor.rowcount
            count = 0
            for tag_id in tag_ids:
                cursor = conn.execute(
                    "UPDATE reviews SET resolved_at = ? WHERE content_id = ? AND tag_id = ? AND resolved_at IS NULL",
                    (now, content_id, tag_id),
                )
                count += cursor.rowcount
            return count
