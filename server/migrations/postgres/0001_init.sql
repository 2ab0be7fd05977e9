-- reftrack's PostgreSQL schema (the same shape as the embedded SQLite one). Times are unix milliseconds (UTC); money is integer minor units.

CREATE TABLE programs (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rate_bps BIGINT NOT NULL DEFAULT 0,
    flat_minor BIGINT,
    window_days BIGINT NOT NULL,
    pixel_commission BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE program_products (
    program_code TEXT NOT NULL REFERENCES programs(code),
    sku TEXT NOT NULL,
    rate_bps BIGINT,
    flat_minor BIGINT,
    PRIMARY KEY (program_code, sku)
);

CREATE TABLE partners (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    parent_code TEXT REFERENCES partners(code),
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE partner_programs (
    partner_code TEXT NOT NULL REFERENCES partners(code),
    program_code TEXT NOT NULL REFERENCES programs(code),
    PRIMARY KEY (partner_code, program_code)
);

CREATE TABLE links (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    destination TEXT NOT NULL,
    partner_code TEXT REFERENCES partners(code),
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE link_programs (
    link_code TEXT NOT NULL REFERENCES links(code),
    program_code TEXT NOT NULL REFERENCES programs(code),
    PRIMARY KEY (link_code, program_code)
);

CREATE TABLE clicks (
    id TEXT PRIMARY KEY,
    link_code TEXT NOT NULL,
    partner_code TEXT NOT NULL,
    sub_id TEXT,
    program_code TEXT,
    at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    ip_hash TEXT,
    user_agent TEXT
);
CREATE INDEX clicks_by_partner ON clicks (partner_code, at_ms);

-- One opt-in per partner and contact: a form submitted twice is one opt-in.
CREATE TABLE leads (
    id BIGSERIAL PRIMARY KEY,
    partner_key TEXT NOT NULL,
    contact_key TEXT NOT NULL,
    partner_code TEXT,
    click_id TEXT,
    link_code TEXT,
    sub_id TEXT,
    email TEXT,
    page TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    UNIQUE (partner_key, contact_key)
);
CREATE INDEX leads_by_partner ON leads (partner_code, at_ms);

-- The partner who first brought each email (the lead partner).
CREATE TABLE contacts (
    email TEXT PRIMARY KEY,
    partner_code TEXT NOT NULL,
    click_id TEXT,
    link_code TEXT,
    sub_id TEXT,
    program_code TEXT,
    at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

-- Server-side leads are deduplicated on their webhook-id so a replay is recognised.
CREATE TABLE signed_leads (
    msg_id TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    response_json TEXT NOT NULL
);

-- Conversions seen by the pixel: unverified until a signed order with the same id arrives.
CREATE TABLE conversions (
    order_id TEXT PRIMARY KEY,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    click_id TEXT,
    partner_code TEXT,
    link_code TEXT,
    sub_id TEXT,
    at_ms BIGINT NOT NULL,
    verified_order_id TEXT
);
CREATE INDEX conversions_by_partner ON conversions (partner_code, at_ms);

CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    occurred_at_ms BIGINT NOT NULL,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    email TEXT,
    click_id TEXT,
    partner_code TEXT,
    link_code TEXT,
    sub_id TEXT,
    status TEXT NOT NULL,
    commission_minor BIGINT NOT NULL,
    response_json TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    -- The id without its "source:" prefix, to reconcile pixel conversions in either order.
    bare_id TEXT
);
CREATE INDEX orders_by_partner ON orders (partner_code, occurred_at_ms);
CREATE INDEX orders_by_bare_id ON orders (bare_id);

CREATE TABLE order_items (
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    line BIGINT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    PRIMARY KEY (order_id, line)
);

CREATE TABLE refunds (
    refund_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    amount_minor BIGINT NOT NULL,
    body_hash TEXT NOT NULL,
    occurred_at_ms BIGINT NOT NULL,
    response_json TEXT NOT NULL
);

-- Every money movement for a partner; balances are derived from here, never stored.
CREATE TABLE ledger (
    id BIGSERIAL PRIMARY KEY,
    partner_code TEXT NOT NULL,
    order_id TEXT NOT NULL,
    refund_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('earned', 'clawback', 'payout')),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    link_code TEXT,
    sub_id TEXT,
    at_ms BIGINT NOT NULL
);
CREATE INDEX ledger_by_partner ON ledger (partner_code, at_ms);
CREATE INDEX ledger_by_order ON ledger (order_id);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('admin', 'partner')),
    partner_code TEXT REFERENCES partners(code),
    key_hash TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
