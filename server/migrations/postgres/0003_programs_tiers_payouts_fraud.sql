-- Commission programs grow lead shares, tiers, recurring rules and a refund window (hold);
-- the ledger records each share's role and when it becomes payable; payouts and fraud signals.
ALTER TABLE programs ADD COLUMN lead_rate_bps BIGINT;
ALTER TABLE programs ADD COLUMN lead_flat_minor BIGINT;
ALTER TABLE programs ADD COLUMN tier2_bps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN tier3_bps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN recurring TEXT NOT NULL DEFAULT 'every';
ALTER TABLE programs ADD COLUMN hold_days BIGINT NOT NULL DEFAULT 30;

ALTER TABLE orders ADD COLUMN subscription_id TEXT;
ALTER TABLE orders ADD COLUMN renewal BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE orders ADD COLUMN program_code TEXT;
ALTER TABLE orders ADD COLUMN reason TEXT;
CREATE INDEX orders_by_subscription ON orders (subscription_id, occurred_at_ms);

ALTER TABLE ledger ADD COLUMN role TEXT NOT NULL DEFAULT 'sale';
ALTER TABLE ledger ADD COLUMN program_code TEXT;
-- Until then an earned entry is pending (the program's refund window); then approved.
ALTER TABLE ledger ADD COLUMN available_at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN payout_id BIGINT;
UPDATE ledger SET available_at_ms = at_ms + 2592000000;

CREATE TABLE payouts (
    id BIGSERIAL PRIMARY KEY,
    partner_code TEXT NOT NULL REFERENCES partners(code),
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE fraud_events (
    id BIGSERIAL PRIMARY KEY,
    reason TEXT NOT NULL,
    partner_code TEXT,
    link_code TEXT,
    order_id TEXT,
    at_ms BIGINT NOT NULL
);
CREATE INDEX fraud_by_partner ON fraud_events (partner_code, at_ms);
