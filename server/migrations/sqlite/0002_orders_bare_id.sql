-- The order id without its "source:" prefix, so a conversion the confirmation page reported as
-- "cs_1" is reconciled with the signed order "stripe:cs_1" whichever arrives first.
ALTER TABLE orders ADD COLUMN bare_id TEXT;
UPDATE orders SET bare_id = CASE WHEN instr(order_id, ':') > 0 THEN substr(order_id, instr(order_id, ':') + 1) ELSE order_id END;
CREATE INDEX orders_by_bare_id ON orders (bare_id);
