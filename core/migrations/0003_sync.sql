-- Version 3: sync. Local changes wait in `outbox` (already encrypted) until pushed; `applied`
-- remembers which (device, sequence) bundles were applied, for idempotence; `pending` holds
-- bundles that cannot be applied yet (unknown device or key), still encrypted; `relay_drops`
-- lists erased key ids the relay has not yet been told to drop.
CREATE TABLE outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    INTEGER NOT NULL,
    doc_id  BLOB NOT NULL,
    key_id  BLOB NOT NULL,
    payload BLOB NOT NULL
);

CREATE TABLE applied (
    device_id BLOB NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE TABLE pending (
    id        BLOB PRIMARY KEY, -- first 16 bytes of the bundle's SHA-256
    relay_seq INTEGER NOT NULL,
    bundle    BLOB NOT NULL
) WITHOUT ROWID;

-- Listing clients filters on kind alone.
CREATE INDEX docs_by_kind ON docs(kind);

CREATE TABLE relay_drops (
    key_id BLOB PRIMARY KEY
) WITHOUT ROWID;

-- Device enrollments and revocations the relay has not been told about yet (op 1 = enroll,
-- 2 = revoke). Public keys only.
CREATE TABLE relay_queue (
    op        INTEGER NOT NULL,
    device_id BLOB NOT NULL,
    public    BLOB NOT NULL,
    PRIMARY KEY (op, device_id)
) WITHOUT ROWID;
