-- Outgoing events: each written in the same transaction as the change that caused it, with one
-- delivery per endpoint (a merchant's webhook or a partner's postback) subscribed to it then, so
-- an event is never lost nor sent for a change that was rolled back.
CREATE TABLE event_endpoints (
    id BIGSERIAL PRIMARY KEY,
    -- 'webhook' (the merchant's, signed) or 'postback' (a partner's URL template).
    kind TEXT NOT NULL,
    partner_code TEXT,
    url TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'POST',
    -- The subscribed types as ',a,b,' so one LIKE finds the endpoints of a type.
    events TEXT NOT NULL,
    secret TEXT,
    created_at_ms BIGINT NOT NULL,
    -- Since when every attempt failed (NULL: the last one succeeded).
    failing_since_ms BIGINT,
    disabled_at_ms BIGINT,
    disabled_reason TEXT,
    deleted_at_ms BIGINT
);
CREATE INDEX event_endpoints_partner ON event_endpoints (partner_code);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    partner_code TEXT,
    created_at_ms BIGINT NOT NULL,
    -- The exact body sent and signed.
    payload TEXT NOT NULL,
    -- A partner's postback values (JSON), never the buyer's email.
    macros TEXT
);

CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events(id),
    endpoint_id BIGINT NOT NULL REFERENCES event_endpoints(id),
    -- 'pending', 'delivered' or 'failed' (every attempt of the schedule failed).
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    -- Which server holds it, until when: taken by a conditional UPDATE, so one server sends it.
    lease_owner TEXT,
    lease_until_ms BIGINT,
    last_attempt_at_ms BIGINT,
    last_status BIGINT,
    last_error TEXT,
    delivered_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at_ms);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
