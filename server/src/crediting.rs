//! The intake use cases: gather the facts from storage, let the domain decide, store atomically.

use crate::domain::attribution::{self, Credit, Facts, NoCredit, Touch};
use crate::domain::commission::{self, Rate, Terms};
use crate::domain::fraud::Reason;
use crate::domain::ledger::Kind;
use crate::domain::period::to_ms;
use crate::domain::split::{self, ProgramTerms, Role};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::startup::AppState;
use crate::store::{
    Click, DbError, FraudEvent, LedgerEntry, NewLead, NewOrder, OrderForRefund, Partner, ProductOverride, Program, RefundPlan,
    StoredAnswer, StoredTouch, SubscriptionOrder,
};
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
        return replay_order(state, existing, &body_hash, &order_id).await;
    }
    let occurred_at_ms = to_ms(order.occurred_at);
    let mut partners = Partners { state, cache: HashMap::new() };
    let (facts, renewal) = gather_facts(state, &mut partners, &order, &order_id).await?;
    let credit = attribution::attribute(&facts, state.settings.attribution);
    let (status, credited_by, reason) = match &credit {
        Credit::Click(_) => ("attributed", Some("click"), None),
        Credit::Lead(_) => ("attributed", Some("lead"), None),
        Credit::Named(_) => ("attributed", Some("named"), None),
        Credit::Subscription(_) => ("attributed", Some("subscription"), None),
        Credit::Unattributed(r) => ("unattributed", None, Some(snake(&format!("{r:?}")))),
    };
    let touch = credit.touch();
    let Planned { sale_program, shares, programs } = plan_shares(state, &mut partners, &order, &facts, &credit, renewal).await?;
    let partner = touch.map(|t| t.partner.to_string());
    let commission_minor = shares.iter().filter(|s| s.role == Role::Sale).map(|s| s.amount_minor).sum::<i64>();
    let link = touch.and_then(|t| t.link.as_ref().map(|l| l.to_string()));
    let sub_id = touch.and_then(|t| t.sub_id.as_ref().map(|s| s.to_string()));
    let response_json = json!({
        "order_id": order_id,
        "status": status,
        "partner": partner,
        "program": sale_program.as_ref().map(|p| &p.code),
        "commission_minor": commission_minor,
        "currency": order.currency,
        "credited_by": credited_by,
        "reason": reason,
        "renewal": renewal,
        "shares": shares.iter().map(|s| json!({ "partner": s.partner, "role": s.role.as_str(), "amount_minor": s.amount_minor })).collect::<Vec<_>>(),
    })
    .to_string();
    let ledger = shares
        .iter()
        .map(|s| {
            // Tier and lead shares are reported under the order's link only for the sale partner.
            let own = s.role == Role::Sale;
            LedgerEntry {
                partner: s.partner.clone(),
                kind: Kind::Earned,
                role: s.role,
                program: Some(s.program.clone()),
                amount_minor: s.amount_minor,
                link: link.clone().filter(|_| own),
                sub_id: sub_id.clone().filter(|_| own),
                available_at_ms: occurred_at_ms.saturating_add(programs.hold_days(&s.program) * DAY_MS),
            }
        })
        .collect();
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
    let fraud = match &credit {
        Credit::Unattributed(NoCredit::SelfReferral) => Some(FraudEvent {
            reason: Reason::SelfReferral.as_str(),
            partner: self_referrer(&facts).map(|t| t.partner.to_string()),
            link: self_referrer(&facts).and_then(|t| t.link.as_ref().map(|l| l.to_string())),
            order_id: Some(order_id.clone()),
            at_ms: occurred_at_ms,
        }),
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
        program: sale_program.map(|p| p.code),
        reason,
        fraud,
        order,
    };
    match state.store.insert_order(&new_order).await {
        Ok(()) => {
            Metrics::bump(&state.metrics.orders);
            Ok(response_json)
        }
        // Another request stored the same order first: answer as a replay.
        Err(DbError::Conflict(_)) => match state.store.order_answer(&order_id).await? {
            Some(existing) => replay_order(state, existing, &body_hash, &order_id).await,
            None => Err(ApiError::Internal(anyhow::anyhow!("order {order_id} conflicted but cannot be read"))),
        },
        Err(e) => Err(e.into()),
    }
}

/// What storage knows about an order's possible partners: its click (or its pixel's), the
/// contact's lead partner, a partner it names, and for a renewal the subscription's partner and
/// which renewal this is (1 = the first after the first payment).
async fn gather_facts(
    state: &AppState,
    partners: &mut Partners<'_>,
    order: &CanonicalOrder,
    order_id: &str,
) -> Result<(Facts, Option<u32>), ApiError> {
    let occurred_at_ms = to_ms(order.occurred_at);
    let mut facts = Facts { occurred_at_ms, customer_email: order.customer.email.clone(), ..Facts::default() };

    // The order's own click; failing that, the click the confirmation page's pixel saw.
    let mut click_id = order.attribution.click_id.as_ref().map(|c| c.to_string());
    if click_id.is_none() {
        click_id = state.store.conversion_for_order(order_id).await?.and_then(|c| c.click_id);
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
    let mut renewal = None;
    if let (true, Some(subscription)) = (order.renewal, &order.subscription_id) {
        let earlier: Vec<SubscriptionOrder> = state
            .store
            .subscription_orders(subscription)
            .await?
            .into_iter()
            .filter(|o| (o.occurred_at_ms, o.order_id.as_str()) < (occurred_at_ms, order_id))
            .collect();
        renewal = Some(1 + earlier.iter().filter(|o| o.renewal).count() as u32);
        if let Some(first) = earlier.into_iter().find(|o| o.partner.is_some()) {
            let touch = StoredTouch {
                partner: first.partner.unwrap_or_default(),
                click_id: first.click_id,
                link: first.link,
                sub_id: first.sub_id,
                program: first.program,
                at_ms: first.occurred_at_ms,
                expires_at_ms: i64::MAX,
            };
            facts.subscription = partners.touch(touch).await?;
        }
    }

    Ok((facts, renewal))
}

/// What a credited order pays: the program chosen for the sale partner, and the shares.
struct Planned {
    sale_program: Option<ProgramTerms>,
    shares: Vec<split::Share>,
    /// The programs read on the way (their refund windows date the ledger entries).
    programs: ProgramBook,
}

/// Who earns what: the sale partner under the best-paying program open to them, their parents,
/// and the contact's lead partner under their own program.
async fn plan_shares(
    state: &AppState,
    partners: &mut Partners<'_>,
    order: &CanonicalOrder,
    facts: &Facts,
    credit: &Credit,
    renewal: Option<u32>,
) -> Result<Planned, ApiError> {
    let touch = credit.touch();
    let mut programs = ProgramBook::default();
    let sale_program = match (touch, credit) {
        (Some(t), Credit::Subscription(_)) if t.program.is_some() => programs.load(state, t.program.as_deref().unwrap_or_default()).await?,
        (Some(t), _) => {
            let mut candidates = Vec::new();
            for code in eligible_programs(state, partners, t).await? {
                candidates.extend(programs.load(state, &code).await?);
            }
            split::choose_program(order, &candidates).cloned()
        }
        (None, _) => None,
    };
    let mut ancestors = Vec::new();
    if let Some(t) = touch {
        let mut next = partners.get(t.partner.as_str()).await?.and_then(|p| p.parent);
        while let Some(code) = next.take().filter(|_| ancestors.len() < 2) {
            next = partners.get(&code).await?.and_then(|p| p.parent);
            ancestors.push(code);
        }
    }
    let lead = match (&facts.lead, credit) {
        (Some(l), Credit::Click(_) | Credit::Named(_) | Credit::Subscription(_)) if l.covers(facts.occurred_at_ms) => {
            let code = match &l.program {
                Some(p) => Some(p.clone()),
                None => partners.get(l.partner.as_str()).await?.and_then(|p| p.programs.first().cloned()),
            };
            match code {
                Some(code) => programs.load(state, &code).await?.map(|terms| (l.partner.to_string(), terms)),
                None => None,
            }
        }
        _ => None,
    };
    let mut buyer = None;
    if let Some(email) = &order.customer.email {
        for code in ancestors.iter().chain(lead.as_ref().map(|(p, _)| p)) {
            if partners.get(code).await?.is_some_and(|p| Email::parse(&p.email).is_ok_and(|e| e == *email)) {
                buyer = Some(code.clone());
            }
        }
    }
    let parties = split::Parties {
        sale: touch.zip(sale_program.as_ref()).map(|(t, p)| (t.partner.as_str(), p)),
        ancestors: ancestors.iter().map(String::as_str).collect(),
        lead: lead.as_ref().map(|(p, terms)| (p.as_str(), terms)),
        buyer: buyer.as_deref(),
        renewal,
    };
    let shares = split::shares(order, &parties);
    Ok(Planned { sale_program, shares, programs })
}

/// A replayed order id: a retry gets its first answer; another body is a 409 and counts as a
/// duplicate order id against the partner the first order credited.
async fn replay_order(state: &AppState, existing: StoredAnswer, body_hash: &str, order_id: &str) -> Result<String, ApiError> {
    if existing.body_hash != body_hash {
        let first: serde_json::Value = serde_json::from_str(&existing.response_json).unwrap_or_default();
        let event = FraudEvent {
            reason: Reason::DuplicateOrderId.as_str(),
            partner: first.get("partner").and_then(|p| p.as_str()).map(str::to_owned),
            link: None,
            order_id: Some(order_id.to_owned()),
            at_ms: crate::now_ms(),
        };
        state.store.record_fraud(&event).await?;
    }
    replay(existing, body_hash, "order")
}

/// The touch whose partner is the buyer, when self-referral is why an order earned nobody.
fn self_referrer(facts: &Facts) -> Option<&Touch> {
    let buyer = facts.customer_email.as_ref()?;
    facts
        .clicks
        .iter()
        .chain(&facts.lead)
        .chain(&facts.named_partner)
        .chain(&facts.subscription)
        .find(|t| t.partner_email.as_ref() == Some(buyer))
}

/// The programs a touch's partner may earn under on this order: the link's programs the partner
/// belongs to when the link is limited to programs, else all of the partner's programs; the
/// program recorded with the click when neither says anything.
async fn eligible_programs(state: &AppState, partners: &mut Partners<'_>, t: &Touch) -> Result<Vec<String>, DbError> {
    let own = partners.get(t.partner.as_str()).await?.map(|p| p.programs).unwrap_or_default();
    let limited = match &t.link {
        Some(l) => state.store.link(l.as_str()).await?.map(|l| l.programs).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut eligible: Vec<String> = if limited.is_empty() { own } else { limited.into_iter().filter(|p| own.contains(p)).collect() };
    if eligible.is_empty() {
        eligible.extend(t.program.clone());
    }
    Ok(eligible)
}

/// Programs read once per order, with their terms.
#[derive(Default)]
struct ProgramBook {
    loaded: HashMap<String, Option<(Program, ProgramTerms)>>,
}

impl ProgramBook {
    async fn load(&mut self, state: &AppState, code: &str) -> Result<Option<ProgramTerms>, ApiError> {
        if !self.loaded.contains_key(code) {
            let entry = match state.store.program(code).await? {
                Some(p) => {
                    let overrides = state.store.product_overrides(code).await?;
                    let terms = program_terms(&p, overrides);
                    Some((p, terms))
                }
                None => None,
            };
            self.loaded.insert(code.to_owned(), entry);
        }
        Ok(self.loaded[code].as_ref().map(|(_, t)| t.clone()))
    }

    fn hold_days(&self, code: &str) -> i64 {
        self.loaded.get(code).and_then(|e| e.as_ref()).map_or(30, |(p, _)| p.hold_days)
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

/// A stored program and its product overrides, as commission rules read them.
pub fn program_terms(p: &Program, overrides: Vec<ProductOverride>) -> ProgramTerms {
    let default = match p.flat_minor {
        Some(flat) => Rate::Flat(flat),
        None => Rate::Bps(p.rate_bps),
    };
    let products = overrides
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
    let lead = match (p.lead_flat_minor, p.lead_rate_bps) {
        (Some(flat), _) => Some(Rate::Flat(flat)),
        (None, Some(bps)) => Some(Rate::Bps(bps)),
        (None, None) => None,
    };
    ProgramTerms {
        code: p.code.clone(),
        sale: Terms { default, products },
        lead,
        tier_bps: [p.tier2_bps, p.tier3_bps],
        recurring: p.recurring.parse().unwrap_or_default(),
    }
}

/// The commission a browser conversion earns on its own, when its click's program pays on the
/// pixel alone (`pixel_commission`); `None` otherwise: then only a signed order earns.
pub fn pixel_credit(click: &Click, program: Option<&Program>, amount_minor: i64, at_ms: i64) -> Option<LedgerEntry> {
    let program = program.filter(|p| p.pixel_commission)?;
    let amount = program.flat_minor.unwrap_or_else(|| commission::apply_bps(amount_minor, program.rate_bps));
    Some(LedgerEntry {
        partner: click.partner.clone(),
        kind: Kind::Earned,
        role: Role::Sale,
        program: Some(program.code.clone()),
        amount_minor: amount,
        link: Some(click.link.clone()),
        sub_id: click.sub_id.clone(),
        available_at_ms: at_ms.saturating_add(program.hold_days * DAY_MS),
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
        c.pixel_credit = pixel_credit(&click, program.as_ref(), c.amount_minor, c.at_ms).map(Box::new);
    }
    Ok(())
}

/// The clawbacks a refund causes, per partner who earned on the order.
pub fn plan_refund(refund: &Refund, order: &OrderForRefund) -> RefundPlan {
    let mut ledger = Vec::new();
    let mut total = 0;
    for e in &order.earnings {
        let claw =
            commission::clawback(e.earned_minor, order.total_minor, order.refunded_minor, refund.amount_minor.unwrap_or(0), e.clawed_minor);
        if claw > 0 {
            total += claw;
            ledger.push(LedgerEntry {
                partner: e.partner.clone(),
                kind: Kind::Clawback,
                role: e.role,
                program: e.program.clone(),
                amount_minor: -claw,
                link: e.link.clone(),
                sub_id: e.sub_id.clone(),
                // A clawback shares its commission's state: pending with it, or payable at once if it was paid.
                available_at_ms: e.available_at_ms,
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
        Program {
            code: "pixel".into(),
            name: String::new(),
            rate_bps: 3000,
            flat_minor,
            window_days: 30,
            pixel_commission,
            lead_rate_bps: None,
            lead_flat_minor: None,
            tier2_bps: 0,
            tier3_bps: 0,
            recurring: "every".into(),
            hold_days: 30,
        }
    }

    #[test]
    fn only_a_pixel_commission_program_earns_on_a_conversion_alone() {
        let credit = pixel_credit(&click(), Some(&program(true, None)), 10_000, 0).unwrap();
        assert_eq!((credit.partner.as_str(), credit.amount_minor, credit.sub_id.as_deref()), ("jane", 3000, Some("yt")));
        assert_eq!(credit.available_at_ms, 30 * DAY_MS, "pending for the program's refund window");
        assert_eq!(pixel_credit(&click(), Some(&program(true, Some(500))), 10_000, 0).unwrap().amount_minor, 500);
        assert!(pixel_credit(&click(), Some(&program(false, None)), 10_000, 0).is_none());
        assert!(pixel_credit(&click(), None, 10_000, 0).is_none());
    }
}
