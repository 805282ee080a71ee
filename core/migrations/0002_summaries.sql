-- Version 2: small encrypted per-record summaries, so lists and timelines come up without
-- loading any document, and an index to find a client's records.
CREATE TABLE summaries (
    doc_id BLOB PRIMARY KEY REFERENCES docs(doc_id),
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL
) WITHOUT ROWID;

CREATE INDEX docs_by_client ON docs(client_id, kind);
