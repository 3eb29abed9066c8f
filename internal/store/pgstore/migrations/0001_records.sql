-- 0001: the records table (see internal/store/store.go for the contract).
--
-- seq is an identity column with the default CACHE 1. Do not raise the
-- cache: with a per-session cache, a session could hand out a value smaller
-- than one already committed by another session, breaking Record.Seq's
-- promise (see the comment on Store in pgstore.go).
CREATE TABLE records (
    kind        text        NOT NULL,
    id          text        NOT NULL,
    parent      text        NOT NULL DEFAULT '',
    account     text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT '',
    unique_key  text        NOT NULL DEFAULT '',
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    data        bytea,
    PRIMARY KEY (kind, id)
);

CREATE INDEX records_kind_seq ON records (kind, seq);
CREATE UNIQUE INDEX records_kind_unique_key ON records (kind, unique_key) WHERE unique_key <> '';
CREATE INDEX records_kind_parent_seq ON records (kind, parent, seq);
CREATE INDEX records_kind_account_seq ON records (kind, account, seq);
CREATE INDEX records_kind_status_seq ON records (kind, status, seq);
