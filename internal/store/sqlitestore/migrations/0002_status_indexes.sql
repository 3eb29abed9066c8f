-- Version 2: indexes for filters that combine an owner with statuses
-- ("ACTIVE memberships of this account", "ongoing queries of this
-- membership"), which quota checks run on every create. Without them the
-- planner may walk every record of a status.
CREATE INDEX records_kind_account_status_seq ON records (kind, account, status, seq);
CREATE INDEX records_kind_parent_status_seq ON records (kind, parent, status, seq);
