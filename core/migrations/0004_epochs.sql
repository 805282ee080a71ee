-- Version 4: keys that follow membership. A client's keys come in generations: revoking a
-- device starts a new epoch, and everything written from then on goes under the newest
-- generation (highest `epoch`, then key id). `sealed_for` remembers which devices (by receiving
-- key) this device has caught up, once each: with the keys it made itself (`mine`), or, for a
-- device it invited, every key added after those the invite carried (`invited`: the `added`
-- number of the last key in it).
ALTER TABLE keys ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN mine INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN added INTEGER NOT NULL DEFAULT 0;
-- The device that made the key (NULL: unknown, before epochs). Generations made by a device
-- revoked since are never sent under.
ALTER TABLE keys ADD COLUMN maker BLOB;

CREATE TABLE invited (
    device_id BLOB PRIMARY KEY,
    upto      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sealed_for (
    device_id BLOB NOT NULL,
    public    BLOB NOT NULL,
    PRIMARY KEY (device_id, public)
) WITHOUT ROWID;
