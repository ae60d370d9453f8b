-- The priority sort becomes a single-direction key: priority_rank, created_at, id, all ascending
-- (most urgent first, longest waiting first within a priority). A keyset cursor is then one row
-- comparison that starts an index range scan; with the old mixed key (rank ASC, created_at
-- DESC, id DESC) it was an OR chain the planner answered by scanning from the top of the index
-- (measured by `firelater bench issues`).
DROP INDEX idx_issues_open_priority;
CREATE INDEX idx_issues_open_priority ON issues (priority_rank, created_at, id)
    WHERE status NOT IN ('resolved', 'closed') AND deleted_at IS NULL;
