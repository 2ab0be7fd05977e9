-- One row that `/healthz` rewrites in a transaction of its own, exactly as intake commits: whether
-- the outbox can be written right now (a full disk shows there, and so does its end).

CREATE TABLE probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_at_ms INTEGER NOT NULL
);
