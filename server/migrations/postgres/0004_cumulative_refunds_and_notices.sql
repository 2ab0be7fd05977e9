-- Refunds are single refunds, the cart's refunded total so far, or lost disputes.
ALTER TABLE refunds ADD COLUMN kind TEXT NOT NULL DEFAULT 'refund' CHECK (kind IN ('refund', 'dispute'));
ALTER TABLE refunds ADD COLUMN refunded_total_minor BIGINT;

-- Money events the connector received but could not apply, shown to the merchant.
CREATE TABLE notices (
    notice_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT,
    amount_minor BIGINT,
    currency TEXT,
    message TEXT NOT NULL,
    occurred_at_ms BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    body_hash TEXT NOT NULL
);
CREATE INDEX notices_by_time ON notices (occurred_at_ms);
