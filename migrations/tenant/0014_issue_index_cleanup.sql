-- Indexes on issues that another index already answers. Every write to an issue that moves
-- an indexed column (a comment's updated_at, a due time) inserts into each index, and the
-- planner weighs each one on every custom plan; `firelater bench issues --mix jsm` showed
-- both as the largest costs of a request.
--   idx_issues_number   = the unique constraint issues_issue_number_key
--   idx_issues_created  = the leading column of idx_issues_created_id
--   idx_issues_reporter = the leading column of idx_issues_reporter_created
--   idx_issues_open     = a subset of idx_issues_status
--   idx_issues_priority : four values, never selective; open issues by priority use
--                         idx_issues_open_priority
DROP INDEX IF EXISTS idx_issues_number;
DROP INDEX IF EXISTS idx_issues_created;
DROP INDEX IF EXISTS idx_issues_reporter;
DROP INDEX IF EXISTS idx_issues_open;
DROP INDEX IF EXISTS idx_issues_priority;
