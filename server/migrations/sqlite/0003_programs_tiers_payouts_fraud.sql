-- Commission programs grow lead shares, tiers, recurring rules and a refund window (hold);
-- the ledger records each share's role and when it becomes payable; payouts and fraud signals.
ALTER TABLE programs ADD COLUMN lead_rate_bps INTEGER;
ALTER TABLE programs ADD COLUMN lead_flat_minor INTEGER;
ALTER TABLE programs ADD COLUMN tier2_bps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN tier3_bps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN recurring TEXT NOT NULL DEFAULT 'every';
ALTER TABLE programs ADD COLUMN hold_days INTEGER NOT NULL DEFAULT 30;

ALTER TABLE orders ADD COLUMN subscription_id TEXT;
ALTER TABLE orders ADD COLUMN renewal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN program_code TEXT;
ALTER TABLE orders ADD COLUMN reason TEXT;
CREATE INDEX orders_by_subscription ON orders (subscription_id, occurred_at_ms);

ALTER TABLE ledger ADD COLUMN role TEXT NOT NULL DEFAULT 'sale';
ALTER TABLE ledger ADD COLUMN program_code TEXT;
-- Until then an earned entry is pending (the program's refund window); then approved.
ALTER TABLE ledger ADD COLUMN available_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN payout_id INTEGER;
UPDATE ledger SET available_at_ms = at_ms + 2592000000;

CREATE TABLE payouts (
    id INTEGER PRIMARY KEY,
    partner_code TEXT NOT NULL REFERENCES partners(code),
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE fraud_events (
    id INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    partner_code TEXT,
    link_code TEXT,
    order_id TEXT,
    at_ms INTEGER NOT NULL
);
CREATE INDEX fraud_by_partner ON fraud_events (partner_code, at_ms);
