-- Mend vault schema, version 1.
-- Plaintext columns hold only random ids, kind codes, key ids, sequence numbers and sizes.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- Data keys, each wrapped (encrypted) under the vault key. `wrapped` is NULL once the key is
-- destroyed by erasure (crypto-shredding); the row stays as a tombstone.
CREATE TABLE keys (
    key_id    BLOB PRIMARY KEY,
    client_id BLOB NOT NULL,
    purpose   INTEGER NOT NULL,
    wrapped   BLOB
) WITHOUT ROWID;

-- One row per record (Automerge document): its latest encrypted snapshot.
CREATE TABLE docs (
    doc_id       BLOB PRIMARY KEY,
    kind         INTEGER NOT NULL,
    client_id    BLOB NOT NULL,
    key_id       BLOB NOT NULL REFERENCES keys(key_id),
    next_seq     INTEGER NOT NULL,
    snapshot_seq INTEGER NOT NULL,
    snapshot     BLOB NOT NULL
) WITHOUT ROWID;

-- Encrypted incremental changes saved since the snapshot; folded in by compaction.
CREATE TABLE changes (
    doc_id BLOB NOT NULL REFERENCES docs(doc_id),
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
