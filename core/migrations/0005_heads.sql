-- Version 5: which stored rows make up a record, and which records make up a list,
-- authenticated. Both used to be decided by plaintext alone (ids, sequence numbers, client ids,
-- the indexes), so damage to the file could drop a change or a record without any envelope
-- failing to open.
--
-- A record's head is the sequence number of its newest stored part (snapshot or change), sealed
-- under the vault key and bound to the record, rewritten in the same transaction as every part.
-- It is kept in `changes` under the largest sequence number (`store::db::HEAD_SEQ`), so it sits
-- in the B-tree page of the newest change and a save writes no extra page. Loading a record
-- checks that its changes run without a gap from the snapshot to the head. The migration step
-- seals a head for every existing record (no SQL: it needs the vault key).
--
-- `tallies` holds, per client and record kind, how many records it has (never fewer: records are
-- never deleted, erasure destroys keys), sealed under the vault key and bound to the client and
-- kind; the all-ones client id counts a kind across the vault. Lists compare what they read with
-- these counts, so a record whose row was lost or moved to another client by damage makes its
-- list an error instead of a shorter list. Also filled by the migration step.
CREATE TABLE tallies (
    client_id BLOB NOT NULL,
    kind      INTEGER NOT NULL,
    sealed    BLOB NOT NULL,
    PRIMARY KEY (client_id, kind)
) WITHOUT ROWID;

-- The queue of bundles that cannot be applied yet is walked in relay order a page at a time.
CREATE INDEX pending_by_seq ON pending(relay_seq, id);
