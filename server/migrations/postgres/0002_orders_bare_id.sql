-- SQLite's 0002 added orders.bare_id; PostgreSQL's first migration already has it. Kept so that
-- version N means the same change on both engines.
SELECT 1;
