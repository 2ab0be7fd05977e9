//! Browser evidence — the snippet's lead and conversion events and the no-JS conversion pixel —
//! handed to the batch writer and answered once committed. Anyone can forge it, so it is bounded:
//! a conversion is unverified until a signed order with the same id confirms it (and earns on its
//! own only under a pixel-paying program, for a live click, up to a cap); a browser opt-in makes
//! its partner the contact's lead partner only when the request's own cookie corroborates its
//! click; fraud signals it raises count once per visitor.

use super::{Intake, IntakeError};
use crate::domain::pixel::pixel_credit;
use crate::metrics::Metrics;
use crate::store::{BatchWrite, NewConversion, NewLead};
use reftrack_protocol::names::DEFAULT_WINDOW_DAYS;
use reftrack_protocol::{ClickId, Conversion, Lead};

impl Intake {
    /// An opt-in seen in the browser. `cookie_click` is the click of the request's own cookie: it
    /// fills a missing click, and corroborates a given one.
    pub async fn browser_lead(&self, lead: Lead, cookie_click: Option<ClickId>) -> Result<(), IntakeError> {
        let corroborated = match (&lead.click_id, &cookie_click) {
            (Some(claimed), Some(cookie)) => claimed == cookie,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let write = BatchWrite::Lead(NewLead {
            click_id: lead.click_id.or(cookie_click),
            partner: None,
            sub_id: None,
            email: lead.email,
            page: lead.page,
            source: "browser".into(),
            at_ms: self.clock.now_ms(),
            window_ms: i64::from(DEFAULT_WINDOW_DAYS) * 86_400_000,
            binds_contact: corroborated,
        });
        self.writer.write(write).await?;
        Metrics::bump(&self.metrics.events);
        Ok(())
    }

    /// A purchase seen on a confirmation page (a beacon or the pixel), from the visitor at `ip`.
    pub async fn browser_conversion(&self, c: Conversion, cookie_click: Option<ClickId>, ip: &str) -> Result<(), IntakeError> {
        let at_ms = self.clock.now_ms();
        let click_id = c.click_id.or(cookie_click);
        let mut credit = None;
        if let Some(id) = &click_id {
            if let Some(click) = self.recorded_click(id.as_str()).await? {
                let program = match &click.program {
                    Some(code) => self.store.program(code.as_str()).await?.map(|p| p.fact(&[])),
                    None => None,
                };
                credit = pixel_credit(&click.touch(), program.as_ref(), c.amount_minor, at_ms, self.pixel_max_minor).map(Box::new);
            }
        }
        let write = BatchWrite::Conversion(NewConversion {
            order_id: c.order_id,
            amount_minor: c.amount_minor,
            currency: c.currency,
            click_id,
            at_ms,
            pixel_credit: credit,
            source_key: self.visitor_hash(ip),
        });
        self.writer.write(write).await?;
        Metrics::bump(&self.metrics.events);
        Ok(())
    }
}
