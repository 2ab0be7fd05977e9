-- The merchant's back office (issue #14).
--
-- Ledger: corrections are new entries, never edits. `void` cancels what remains of a commission
-- the merchant voided; `move` cancels it because the order was credited to another partner;
-- `approval` pairs (−amount while pending, +amount payable now) approve a commission early;
-- `adjustment` is a bonus or correction. Each carries the merchant's reason, and `reverses_id`
-- names the entry it corrects.
ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check
    CHECK (kind IN ('earned', 'clawback', 'payout', 'void', 'move', 'approval', 'adjustment'));
ALTER TABLE ledger ADD COLUMN reason TEXT;
ALTER TABLE ledger ADD COLUMN reverses_id BIGINT;
CREATE INDEX ledger_by_reversed ON ledger (reverses_id);

-- Every hand-made change of an order's credit, with what it was before (the order row holds the
-- current credit; its commissions are in the ledger).
CREATE TABLE order_credits (
    id BIGSERIAL PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    from_partner_code TEXT,
    from_link_code TEXT,
    from_sub_id TEXT,
    from_click_id TEXT,
    from_status TEXT NOT NULL,
    partner_code TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX order_credits_by_order ON order_credits (order_id, id);

-- A product may name an owner partner, who earns `owner_bps` of its lines on every sale.
ALTER TABLE program_products ADD COLUMN owner_code TEXT REFERENCES partners(code);
ALTER TABLE program_products ADD COLUMN owner_bps BIGINT;

-- A deactivated partner's links stop crediting; their history stays.
ALTER TABLE partners ADD COLUMN deactivated_at_ms BIGINT;

-- Would-be partners who applied on the public sign-up page.
CREATE TABLE partner_applications (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    website TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    partner_code TEXT REFERENCES partners(code),
    decision_note TEXT NOT NULL DEFAULT '',
    created_at_ms BIGINT NOT NULL,
    decided_at_ms BIGINT
);
CREATE INDEX partner_applications_by_status ON partner_applications (status, created_at_ms);

-- Banners and copy per program, for partners to paste with their own link inside.
CREATE TABLE resources (
    id BIGSERIAL PRIMARY KEY,
    program_code TEXT NOT NULL REFERENCES programs(code),
    kind TEXT NOT NULL CHECK (kind IN ('banner', 'text')),
    title TEXT NOT NULL,
    link_code TEXT NOT NULL REFERENCES links(code),
    body TEXT NOT NULL DEFAULT '',
    alt TEXT NOT NULL DEFAULT '',
    image_url TEXT,
    image BYTEA,
    content_type TEXT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX resources_by_program ON resources (program_code);

-- The merchant's settings that live in the database (changed in the admin page).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
