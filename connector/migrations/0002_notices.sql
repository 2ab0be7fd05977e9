-- Notices (money the connector received but cannot apply: a dispute opened, a failed renewal, a
-- refund of a payment never seen) are delivered like orders and refunds, so the outbox's kinds
-- widen. SQLite cannot alter a CHECK constraint: the table is rebuilt with its rows.

CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('order', 'refund', 'notice')),
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    last_error TEXT,
    created_at_ms INTEGER NOT NULL,
    done_at_ms INTEGER
);
INSERT INTO outbox_new (id, msg_id, kind, body, state, attempts, next_attempt_at_ms, last_error, created_at_ms, done_at_ms)
    SELECT id, msg_id, kind, body, state, attempts, next_attempt_at_ms, last_error, created_at_ms, done_at_ms FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at_ms);
CREATE INDEX outbox_kind ON outbox (kind, id);
