//! Browser evidence — the snippet's lead and conversion events and the no-JS conversion pixel —
//! handed to the batch writer, so a beacon never waits on a disk flush. A conversion is
//! unverified until a signed order with the same id confirms it; under a program that pays on the
//! pixel alone it earns at once.

use super::Intake;
use crate::domain::pixel::pixel_credit;
use crate::metrics::Metrics;
use crate::store::{BatchWrite, DbError, NewConversion, NewLead};
use reftrack_protocol::names::DEFAULT_WINDOW_DAYS;
use reftrack_protocol::{ClickId, Conversion, Lead};

impl Intake {
    /// An opt-in seen in the browser; `cookie_click` is the click of the request's own cookie.
    pub async fn browser_lead(&self, lead: Lead, cookie_click: Option<ClickId>) {
        let write = BatchWrite::Lead(NewLead {
            click_id: lead.click_id.or(cookie_click),
            partner: None,
            sub_id: None,
            email: lead.email,
            page: lead.page,
            source: "browser".into(),
            at_ms: self.clock.now_ms(),
            window_ms: i64::from(DEFAULT_WINDOW_DAYS) * 86_400_000,
        });
        self.writer.write(write).await;
        Metrics::bump(&self.metrics.events);
    }

    /// A purchase seen on a confirmation page (a beacon or the pixel).
    pub async fn browser_conversion(&self, c: Conversion, cookie_click: Option<ClickId>) -> Result<(), DbError> {
        let at_ms = self.clock.now_ms();
        let click_id = c.click_id.or(cookie_click);
        let mut credit = None;
        if let Some(id) = &click_id {
            if let Some(click) = self.recorded_click(id.as_str()).await? {
                let program = match &click.program {
                    Some(code) => self.store.program(code.as_str()).await?.map(|p| p.fact(&[])),
                    None => None,
                };
                credit = pixel_credit(&click.touch(), program.as_ref(), c.amount_minor, at_ms).map(Box::new);
            }
        }
        let write = BatchWrite::Conversion(NewConversion {
            order_id: c.order_id,
            amount_minor: c.amount_minor,
            currency: c.currency,
            click_id,
            at_ms,
            pixel_credit: credit,
        });
        self.writer.write(write).await;
        Metrics::bump(&self.metrics.events);
        Ok(())
    }
}
