-- The connector's durable outbox: a cart's webhook is acknowledged only after its order or
-- refund is committed here; the forwarder then delivers it to the server until it is accepted.

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    -- Stable per order or refund ("order:stripe:cs_1"): it is the Standard Webhooks message id,
    -- and its uniqueness makes a cart's retried webhook one entry.
    msg_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('order', 'refund')),
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    last_error TEXT,
    created_at_ms INTEGER NOT NULL,
    done_at_ms INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at_ms);

-- A cart's own ids (Stripe payment intents and charges, Paddle transactions) → our order id, so a
-- refund that names only those finds its order.
CREATE TABLE cart_refs (
    cart_ref TEXT PRIMARY KEY,
    order_id TEXT NOT NULL
);
