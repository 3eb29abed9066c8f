-- Version 1: the records table (see package store).
--
-- seq is the rowid. AUTOINCREMENT makes SQLite never reuse a seq, even the
-- largest one after it was deleted, so every insert gets a larger seq than
-- every insert committed before it.
-- create_time and update_time are Unix microseconds, UTC.
CREATE TABLE records (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	parent      TEXT    NOT NULL,
	account     TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	unique_key  TEXT    NOT NULL,
	create_time INTEGER NOT NULL,
	update_time INTEGER NOT NULL,
	data        BLOB    NOT NULL,
	CONSTRAINT records_kind_id UNIQUE (kind, id)
) STRICT;

CREATE UNIQUE INDEX records_kind_unique_key ON records (kind, unique_key) WHERE unique_key <> '';
CREATE INDEX records_kind_seq ON records (kind, seq);
CREATE INDEX records_kind_parent_seq ON records (kind, parent, seq);
CREATE INDEX records_kind_account_seq ON records (kind, account, seq);
CREATE INDEX records_kind_status_seq ON records (kind, status, seq);
