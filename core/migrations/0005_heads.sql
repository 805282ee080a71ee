-- Version 5: which stored rows make up a record, authenticated. `heads` holds, per record, the
-- sequence number of its newest stored part (snapshot or change) sealed under the vault key and
-- bound to the record id, rewritten in the same transaction as every part. Loading a record
-- checks that its changes run without a gap from the snapshot to that number, so a row lost or
-- moved by damage to the file (a flipped byte in a key, a page of the B-tree) is an error, not
-- an older value. Filled for existing records by the migration step itself.
CREATE TABLE heads (
    doc_id BLOB PRIMARY KEY REFERENCES docs(doc_id),
    sealed BLOB NOT NULL
) WITHOUT ROWID;

-- And which records make up a list: `tallies` holds, per client and record kind, how many
-- records it has (never fewer: records are never deleted, erasure destroys keys), sealed under
-- the vault key and bound to the client and kind; the all-ones client id counts a kind across
-- the vault. Lists compare what they read with these counts, so a record whose row was lost or
-- moved to another client by damage makes its list an error instead of a shorter list.
CREATE TABLE tallies (
    client_id BLOB NOT NULL,
    kind      INTEGER NOT NULL,
    sealed    BLOB NOT NULL,
    PRIMARY KEY (client_id, kind)
) WITHOUT ROWID;
