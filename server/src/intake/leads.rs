//! A signed server-side opt-in (a webinar or form tool through the connector, the merchant's CRM):
//! it counts as an opt-in for the partner of its click, of the partner it names, or — when it
//! carries neither (or a click we never recorded), as tools that cannot pass a click do — of the
//! click the same email was seen with before, inside that click's window. Idempotent on the tool's lead id (else the message id).

use super::{replay, Intake, IntakeError};
use crate::metrics::Metrics;
use crate::store::{NewLead, StoredAnswer};
use reftrack_protocol::names::DEFAULT_WINDOW_DAYS;
use reftrack_protocol::ServerLead;

const DAY_MS: i64 = 86_400_000;

impl Intake {
    /// Records the opt-in once per key.
    pub async fn record_lead(&self, msg_id: &str, lead: ServerLead, body_hash: String) -> Result<String, IntakeError> {
        let now = self.clock.now_ms();
        let at_ms = lead.occurred_at.map_or(now, crate::domain::period::to_ms);
        let mut click_id = None;
        let mut partner = None;
        // A click we never recorded (typed into a tool, or stale) costs the click, not the opt-in.
        if let Some(id) = &lead.click_id {
            if let Some(c) = self.recorded_click(id.as_str()).await? {
                partner = Some(c.partner);
                click_id = Some(c.id);
            }
        }
        let mut window_ms = i64::from(DEFAULT_WINDOW_DAYS) * DAY_MS;
        if partner.is_none() {
            if let Some(code) = &lead.partner {
                let p = self.store.partner(code.as_str()).await?.ok_or_else(|| IntakeError::UnknownPartner(code.to_string()))?;
                if let Some(program) = p.programs.first() {
                    if let Some(program) = self.store.program(program.as_str()).await? {
                        window_ms = program.window_days * DAY_MS;
                    }
                }
                partner = Some(p.code);
            }
        }
        if partner.is_none() {
            // No click and no partner: the email may have been seen with a click already.
            if let Some(contact) = self.recorded_contact(&lead.email).await?.filter(|c| c.at_ms <= at_ms && at_ms <= c.expires_at_ms) {
                click_id = contact.click_id.clone();
                partner = Some(contact.partner);
            }
        }
        let new = NewLead {
            click_id,
            partner: partner.clone(),
            sub_id: lead.sub_id.clone(),
            email: Some(lead.email.clone()),
            page: String::new(),
            source: lead.source.clone().unwrap_or_else(|| "api".into()),
            at_ms,
            window_ms,
            // Signed: the merchant's own systems vouch for it.
            binds_contact: true,
        };
        let response_json =
            serde_json::json!({ "status": "recorded", "email": lead.email, "partner": partner, "source": new.source }).to_string();
        let answer = StoredAnswer { body_hash: body_hash.clone(), response_json };
        let key = lead.lead_id.as_deref().unwrap_or(msg_id);
        let recorded = self.store.record_signed_lead(key, &new, &answer).await?;
        if recorded.fresh {
            Metrics::bump(&self.metrics.leads);
        }
        replay(recorded.answer, &body_hash, "lead message")
    }
}
