//! The intake use cases: gather the facts from storage, let the domain decide, store atomically.

use crate::domain::attribution::{self, Credit, Facts, Touch};
use crate::domain::commission::{self, Rate, Terms};
use crate::domain::period::to_ms;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::startup::AppState;
use crate::store::{Click, DbError, LedgerEntry, NewLead, NewOrder, OrderForRefund, Partner, RefundPlan, StoredAnswer, StoredTouch};
use reftrack_protocol::names::DEFAULT_WINDOW_DAYS;
use reftrack_protocol::{CanonicalOrder, ClickId, Email, LinkCode, PartnerCode, Refund, ServerLead, SubId};
use serde_json::json;
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// The answer to an order we already have: the same body gets the same answer, another body 409.
fn replay(existing: StoredAnswer, body_hash: &str, what: &str) -> Result<String, ApiError> {
    if existing.body_hash == body_hash {
        Ok(existing.response_json)
    } else {
        Err(ApiError::conflict("id_conflict", format!("this {what} id was already recorded with a different body; ids must not be reused")))
    }
}

/// Partners loaded once per request.
struct Partners<'a> {
    state: &'a AppState,
    cache: HashMap<String, Option<Partner>>,
}

impl Partners<'_> {
    async fn get(&mut self, code: &str) -> Result<Option<Partner>, DbError> {
        if let Some(p) = self.cache.get(code) {
            return Ok(p.clone());
        }
        let p = self.state.store.partner(code).await?;
        self.cache.insert(code.to_owned(), p.clone());
        Ok(p)
    }

    async fn touch(&mut self, t: StoredTouch) -> Result<Option<Touch>, DbError> {
        let Some(p) = self.get(&t.partner).await? else { return Ok(None) };
        Ok(Some(Touch {
            partner: PartnerCode::parse(&p.code).map_err(|e| DbError::Other(e.into()))?,
            partner_email: Email::parse(&p.email).ok(),
            click_id: t.click_id.and_then(|c| ClickId::parse(&c).ok()),
            link: t.link.and_then(|l| LinkCode::parse(&l).ok()),
            sub_id: t.sub_id.and_then(|s| SubId::parse(&s).ok()),
            program: t.program.or_else(|| p.programs.first().cloned()),
            at_ms: t.at_ms,
            expires_at_ms: t.expires_at_ms,
        }))
    }
}

/// A recorded click, whatever its age. A click made moments ago may still be in the writer's
/// queue, so a miss waits for the queue once before answering "unknown".
pub async fn recorded_click(state: &AppState, id: &str) -> Result<Option<Click>, DbError> {
    if let Some(click) = state.store.click(id).await? {
        return Ok(Some(click));
    }
    state.writer.flush().await;
    state.store.click(id).await
}

/// Credits (or not) a verified canonical order and stores it with its ledger entries.
pub async fn credit_order(state: &AppState, order: CanonicalOrder, body_hash: String) -> Result<String, ApiError> {
    let order_id = order.order_id.to_string();
    if let Some(existing) = state.store.order_answer(&order_id).await? {
        return replay(existing, &body_hash, "order");
    }
    let occurred_at_ms = to_ms(order.occurred_at);
    let mut partners = Partners { state, cache: HashMap::new() };
    let mut facts = Facts { occurred_at_ms, customer_email: order.customer.email.clone(), ..Facts::default() };

    // The order's own click; failing that, the click the confirmation page's pixel saw.
    let mut click_id = order.attribution.click_id.as_ref().map(|c| c.to_string());
    if click_id.is_none() {
        click_id = state.store.conversion_for_order(&order_id).await?.and_then(|c| c.click_id);
    }
    if let Some(id) = &click_id {
        if let Some(c) = recorded_click(state, id).await? {
            facts.clicks.extend(partners.touch(c.into()).await?);
        }
    }
    if let Some(email) = &order.customer.email {
        if let Some(lead) = state.store.contact_lead(email.as_str()).await? {
            facts.lead = partners.touch(lead).await?;
        }
    }
    if let Some(named) = &order.attribution.partner {
        let named = StoredTouch {
            partner: named.to_string(),
            click_id: None,
            link: None,
            sub_id: order.attribution.sub_id.as_ref().map(|s| s.to_string()),
            program: None,
            at_ms: occurred_at_ms,
            expires_at_ms: occurred_at_ms,
        };
        facts.named_partner = partners.touch(named).await?;
    }

    let credit = attribution::attribute(&facts, state.settings.attribution);
    let (status, credited_by, reason) = match &credit {
        Credit::Click(_) => ("attributed", Some("click"), None),
        Credit::Lead(_) => ("attributed", Some("lead"), None),
        Credit::Named(_) => ("attributed", Some("named"), None),
        Credit::Unattributed(r) => ("unattributed", None, Some(format!("{r:?}"))),
    };
    let touch = credit.touch();
    let commission_minor = match touch {
        Some(t) => match &t.program {
            Some(program) => commission::commission(&order, &terms(state, program).await?),
            None => 0,
        },
        None => 0,
    };
    let partner = touch.map(|t| t.partner.to_string());
    let link = touch.and_then(|t| t.link.as_ref().map(|l| l.to_string()));
    let sub_id = touch.and_then(|t| t.sub_id.as_ref().map(|s| s.to_string()));
    let response_json = json!({
        "order_id": order_id,
        "status": status,
        "partner": partner,
        "commission_minor": commission_minor,
        "currency": order.currency,
        "credited_by": credited_by,
        "reason": reason.map(|r| snake(&r)),
    })
    .to_string();
    let ledger = match &partner {
        Some(p) if commission_minor != 0 => {
            vec![LedgerEntry {
                partner: p.clone(),
                kind: "earned",
                amount_minor: commission_minor,
                link: link.clone(),
                sub_id: sub_id.clone(),
            }]
        }
        _ => vec![],
    };
    // A buyer credited through a click becomes that partner's contact, if nobody brought them first.
    let new_contact = match (&order.customer.email, &credit) {
        (Some(email), Credit::Click(t)) => Some((
            email.to_string(),
            StoredTouch {
                partner: t.partner.to_string(),
                click_id: t.click_id.as_ref().map(|c| c.to_string()),
                link: link.clone(),
                sub_id: sub_id.clone(),
                program: t.program.clone(),
                at_ms: t.at_ms,
                expires_at_ms: t.expires_at_ms,
            },
        )),
        _ => None,
    };
    let new_order = NewOrder {
        body_hash: body_hash.clone(),
        occurred_at_ms,
        received_at_ms: crate::now_ms(),
        click_id: touch.and_then(|t| t.click_id.as_ref().map(|c| c.to_string())),
        partner,
        link,
        sub_id,
        status,
        commission_minor,
        response_json: response_json.clone(),
        ledger,
        new_contact,
        order,
    };
    match state.store.insert_order(&new_order).await {
        Ok(()) => {
            Metrics::bump(&state.metrics.orders);
            Ok(response_json)
        }
        // Another request stored the same order first: answer as a replay.
        Err(DbError::Conflict(_)) => match state.store.order_answer(&order_id).await? {
            Some(existing) => replay(existing, &body_hash, "order"),
            None => Err(ApiError::Internal(anyhow::anyhow!("order {order_id} conflicted but cannot be read"))),
        },
        Err(e) => Err(e.into()),
    }
}

fn snake(debug: &str) -> String {
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The commission terms of a program.
async fn terms(state: &AppState, program: &str) -> Result<Terms, ApiError> {
    let Some(p) = state.store.program(program).await? else {
        return Ok(Terms { default: Rate::Bps(0), products: HashMap::new() });
    };
    let default = match p.flat_minor {
        Some(flat) => Rate::Flat(flat),
        None => Rate::Bps(p.rate_bps),
    };
    let products = state
        .store
        .product_overrides(program)
        .await?
        .into_iter()
        .filter_map(|o| {
            let rate = match (o.flat_minor, o.rate_bps) {
                (Some(flat), _) => Rate::Flat(flat),
                (None, Some(bps)) => Rate::Bps(bps),
                (None, None) => return None,
            };
            Some((o.sku, rate))
        })
        .collect();
    Ok(Terms { default, products })
}

/// The commission a browser conversion earns on its own, when its click's program pays on the
/// pixel alone (`pixel_commission`); `None` otherwise: then only a signed order earns.
pub fn pixel_credit(click: &Click, program: Option<&crate::store::Program>, amount_minor: i64) -> Option<LedgerEntry> {
    let program = program.filter(|p| p.pixel_commission)?;
    let amount = program.flat_minor.unwrap_or_else(|| commission::apply_bps(amount_minor, program.rate_bps));
    Some(LedgerEntry {
        partner: click.partner.clone(),
        kind: "earned",
        amount_minor: amount,
        link: Some(click.link.clone()),
        sub_id: click.sub_id.clone(),
    })
}

/// Fills in the pixel credit of the conversions in a batch, just before the batch writer commits
/// it, so browsers never wait on these reads. Clicks in the same batch are found there.
pub async fn resolve_pixel_credits(store: &dyn crate::store::Store, writes: &mut [crate::store::BatchWrite]) -> Result<(), DbError> {
    use crate::store::BatchWrite;
    let batch_clicks: HashMap<String, Click> =
        writes.iter().filter_map(|w| if let BatchWrite::Click(c) = w { Some((c.id.clone(), c.clone())) } else { None }).collect();
    for write in writes.iter_mut() {
        let BatchWrite::Conversion(c) = write else { continue };
        let Some(id) = c.click_id.as_deref() else { continue };
        let click = match batch_clicks.get(id) {
            Some(click) => Some(click.clone()),
            None => store.click(id).await?,
        };
        let Some(click) = click else { continue };
        let program = match click.program.as_deref() {
            Some(code) => store.program(code).await?,
            None => None,
        };
        c.pixel_credit = pixel_credit(&click, program.as_ref(), c.amount_minor);
    }
    Ok(())
}

/// The clawbacks a refund causes, per partner who earned on the order.
pub fn plan_refund(refund: &Refund, order: &OrderForRefund) -> RefundPlan {
    let mut ledger = Vec::new();
    let mut total = 0;
    for e in &order.earnings {
        let claw = commission::clawback(e.earned_minor, order.total_minor, order.refunded_minor, refund.amount_minor, e.clawed_minor);
        if claw > 0 {
            total += claw;
            ledger.push(LedgerEntry {
                partner: e.partner.clone(),
                kind: "clawback",
                amount_minor: -claw,
                link: e.link.clone(),
                sub_id: e.sub_id.clone(),
            });
        }
    }
    let response_json = json!({
        "refund_id": refund.refund_id,
        "order_id": refund.order_id,
        "status": "recorded",
        "clawback_minor": total,
        "currency": order.currency,
    })
    .to_string();
    RefundPlan { ledger, response_json }
}

/// Records a refund once per refund id.
pub async fn record_refund(state: &AppState, refund: Refund, body_hash: String) -> Result<String, ApiError> {
    let plan = |order: &OrderForRefund| plan_refund(&refund, order);
    match state.store.record_refund(&refund, &body_hash, &plan).await {
        Ok(recorded) => {
            if recorded.fresh {
                Metrics::bump(&state.metrics.refunds);
            }
            replay(recorded.answer, &body_hash, "refund")
        }
        Err(DbError::NotFound(_)) => Err(ApiError::not_found("unknown_order", format!("no order {} to refund", refund.order_id))),
        Err(e) => Err(e.into()),
    }
}

/// Records a server-side opt-in once per message id.
pub async fn record_lead(state: &AppState, msg_id: &str, lead: ServerLead, body_hash: String) -> Result<String, ApiError> {
    let now = crate::now_ms();
    let mut partner = None;
    if let Some(id) = &lead.click_id {
        partner = recorded_click(state, id.as_str()).await?.map(|c| c.partner);
        if partner.is_none() && lead.partner.is_none() {
            return Err(ApiError::not_found("unknown_click", format!("no click {id}")));
        }
    }
    let mut window_ms = i64::from(DEFAULT_WINDOW_DAYS) * DAY_MS;
    if partner.is_none() {
        if let Some(code) = &lead.partner {
            let p = state
                .store
                .partner(code.as_str())
                .await?
                .ok_or_else(|| ApiError::not_found("unknown_partner", format!("no partner {code}")))?;
            if let Some(program) = p.programs.first() {
                if let Some(program) = state.store.program(program).await? {
                    window_ms = program.window_days * DAY_MS;
                }
            }
            partner = Some(p.code);
        }
    }
    let new = NewLead {
        click_id: lead.click_id.as_ref().map(|c| c.to_string()),
        partner: partner.clone(),
        sub_id: lead.sub_id.as_ref().map(|s| s.to_string()),
        email: Some(lead.email.to_string()),
        page: String::new(),
        source: "api",
        at_ms: lead.occurred_at.map_or(now, to_ms),
        window_ms,
    };
    let answer = StoredAnswer {
        body_hash: body_hash.clone(),
        response_json: json!({ "status": "recorded", "email": lead.email, "partner": partner }).to_string(),
    };
    let recorded = state.store.record_signed_lead(msg_id, &new, &answer).await?;
    if recorded.fresh {
        Metrics::bump(&state.metrics.leads);
    }
    replay(recorded.answer, &body_hash, "lead message")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Program;

    fn click() -> Click {
        Click {
            id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            link: "offer".into(),
            partner: "jane".into(),
            sub_id: Some("yt".into()),
            program: Some("pixel".into()),
            at_ms: 0,
            expires_at_ms: 1,
            ip_hash: None,
            user_agent: None,
        }
    }

    fn program(pixel_commission: bool, flat_minor: Option<i64>) -> Program {
        Program { code: "pixel".into(), name: String::new(), rate_bps: 3000, flat_minor, window_days: 30, pixel_commission }
    }

    #[test]
    fn only_a_pixel_commission_program_earns_on_a_conversion_alone() {
        let credit = pixel_credit(&click(), Some(&program(true, None)), 10_000).unwrap();
        assert_eq!((credit.partner.as_str(), credit.amount_minor, credit.sub_id.as_deref()), ("jane", 3000, Some("yt")));
        assert_eq!(pixel_credit(&click(), Some(&program(true, Some(500))), 10_000).unwrap().amount_minor, 500);
        assert!(pixel_credit(&click(), Some(&program(false, None)), 10_000).is_none());
        assert!(pixel_credit(&click(), None, 10_000).is_none());
    }
}
