-- Secrets the servers share: the key of visitors' daily IP hashes.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A browser opt-in binds a contact only for a few contacts per click.
CREATE INDEX contacts_by_click ON contacts (click_id);

-- A conversion claimed by two different clicks credits nobody.
ALTER TABLE conversions ADD COLUMN conflicting BOOLEAN NOT NULL DEFAULT FALSE;

-- A fraud signal counts once per distinct source (a visitor's IP hash, an order, a body), so a
-- third party repeating a request cannot pin more signals on a partner.
ALTER TABLE fraud_events ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX fraud_once_per_source ON fraud_events (reason, COALESCE(partner_code, ''), COALESCE(order_id, ''), source_key);
