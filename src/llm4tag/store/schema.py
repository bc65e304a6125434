"""The store's tables (SQLite). ``SCHEMA_VERSION`` is written into ``meta``: a store written by a newer llm4tag
is refused, never misread."""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    parent TEXT,
    deprecated INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS contents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS annotations (
    content_seq INTEGER NOT NULL REFERENCES contents(seq) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags(id),
    source TEXT NOT NULL DEFAULT 'import',
    added_at REAL NOT NULL,
    PRIMARY KEY (content_seq, tag_id)
);
CREATE INDEX IF NOT EXISTS annotations_by_tag ON annotations(tag_id);
CREATE TABLE IF NOT EXISTS knowledge (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('example', 'correction', 'note')),
    content_id TEXT,
    text TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    rejected TEXT NOT NULL DEFAULT '[]',
    tag_id TEXT,
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS knowledge_by_tag ON knowledge(tag_id);
CREATE INDEX IF NOT EXISTS knowledge_by_content ON knowledge(content_id);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
);
CREATE TABLE IF NOT EXISTS judgements (
    judge TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    tag_id TEXT NOT NULL,
    p_yes REAL NOT NULL,
    fallback INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (judge, text_hash, tag_id)
);
CREATE TABLE IF NOT EXISTS reviews (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    content_id TEXT NOT NULL,
    text TEXT NOT NULL,
    tag_id TEXT NOT NULL,
    score REAL NOT NULL,
    created_at REAL NOT NULL,
    resolved_at REAL
);
CREATE INDEX IF NOT EXISTS reviews_pending ON reviews(resolved_at, seq);
CREATE INDEX IF NOT EXISTS reviews_by_content ON reviews(content_id, tag_id);
"""
