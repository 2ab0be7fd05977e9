-- Rollups: every figure the Partner Center, the merchant's report and the chart show, per partner
-- and UTC day (and link and SubID, or product), kept in the same transaction as the rows they
-- count. The raw rows stay the truth: `reftrack rollups rebuild` recomputes these from them (the
-- server does so once, at its first start with this migration). '' stands for "no link/SubID".
CREATE TABLE rollup_daily (
    partner_code TEXT NOT NULL,
    day BIGINT NOT NULL,
    link_code TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    hits BIGINT NOT NULL DEFAULT 0,
    opt_ins BIGINT NOT NULL DEFAULT 0,
    orders BIGINT NOT NULL DEFAULT 0,
    unverified BIGINT NOT NULL DEFAULT 0,
    revenue_minor BIGINT NOT NULL DEFAULT 0,
    commission_minor BIGINT NOT NULL DEFAULT 0,
    clawback_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (partner_code, day, link_code, sub_id)
);

CREATE TABLE rollup_products (
    partner_code TEXT NOT NULL,
    day BIGINT NOT NULL,
    sku TEXT NOT NULL,
    currency TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL DEFAULT 0,
    revenue_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (partner_code, day, sku, currency)
);

-- Per partner and currency: what the ledger adds up to, whatever the time. Pending and approved
-- depend on the time, and are read from the unpaid entries (the partial index below).
CREATE TABLE rollup_balances (
    partner_code TEXT NOT NULL,
    currency TEXT NOT NULL,
    earned_minor BIGINT NOT NULL DEFAULT 0,
    clawed_back_minor BIGINT NOT NULL DEFAULT 0,
    reversed_minor BIGINT NOT NULL DEFAULT 0,
    adjusted_minor BIGINT NOT NULL DEFAULT 0,
    paid_minor BIGINT NOT NULL DEFAULT 0,
    balance_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (partner_code, currency)
);
CREATE INDEX ledger_unpaid ON ledger (partner_code, currency, available_at_ms) WHERE payout_id IS NULL;
