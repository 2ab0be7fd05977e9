//! A signed order: read every fact that can credit it, let [`plan_order`] decide, store the order
//! with its ledger entries in one transaction, answer. Idempotent on the order id.

use super::{replay, Intake, IntakeError};
use crate::domain::fraud::{Reason, Signal};
use crate::domain::pixel::plausible_for;
use crate::domain::plan::{plan_order, OrderFacts, OrderPlan, TouchFact};
use crate::metrics::Metrics;
use crate::store::{DbError, OrderAnswer, Reading};
use crate::writer::OrderToStore;
use reftrack_protocol::{CanonicalOrder, PartnerCode};
use serde::Serialize;

/// The answer to a signed order, stored with it and returned byte for byte to every replay.
#[derive(Debug, Serialize)]
struct Answer<'a> {
    order_id: &'a str,
    status: &'static str,
    partner: Option<&'a str>,
    program: Option<&'a str>,
    commission_minor: i64,
    currency: &'a str,
    credited_by: Option<&'static str>,
    reason: Option<&'static str>,
    renewal: Option<u32>,
    shares: Vec<ShareAnswer<'a>>,
}

#[derive(Debug, Serialize)]
struct ShareAnswer<'a> {
    partner: &'a str,
    role: &'static str,
    amount_minor: i64,
}

fn answer(order: &CanonicalOrder, plan: &OrderPlan) -> String {
    let answer = Answer {
        order_id: order.order_id.as_str(),
        status: if plan.touch().is_some() { "attributed" } else { "unattributed" },
        partner: plan.touch().map(|t| t.partner.as_str()),
        program: plan.program.as_ref().map(|p| p.as_str()),
        commission_minor: plan.commission_minor(),
        currency: order.currency.as_str(),
        credited_by: plan.credit.by(),
        reason: plan.reason().map(|r| r.as_str()),
        renewal: plan.renewal,
        shares: plan
            .shares
            .iter()
            .map(|s| ShareAnswer { partner: s.partner.as_str(), role: s.role.as_str(), amount_minor: s.amount_minor })
            .collect(),
    };
    serde_json::to_string(&answer).expect("answers serialise")
}

impl Intake {
    /// Credits (or not) a verified canonical order and stores it with its ledger entries.
    pub async fn credit_order(&self, order: CanonicalOrder, body_hash: String) -> Result<String, IntakeError> {
        let order_id = order.order_id.as_str();
        let mut reads = self.store.reading().await?;
        if let Some(existing) = reads.order_answer(order_id).await? {
            drop(reads);
            return self.replay_order(existing, &body_hash, &order).await;
        }
        let facts = self.order_facts(reads, &order).await?;
        let plan = plan_order(&order, &facts, self.attribution);
        let response_json = answer(&order, &plan);
        // The writer keeps its own copy while it waits in the group; ours answers a lost race.
        let to_store = OrderToStore {
            order: order.clone(),
            plan,
            body_hash: body_hash.clone(),
            received_at_ms: self.clock.now_ms(),
            response_json: response_json.clone(),
        };
        match self.orders.store(to_store).await {
            Ok(()) => {
                Metrics::bump(&self.metrics.orders);
                Ok(response_json)
            }
            // Another request stored the same order first: answer as a replay.
            Err(DbError::Conflict(_)) => match self.store.order_answer(order_id).await? {
                Some(existing) => self.replay_order(existing, &body_hash, &order).await,
                None => Err(IntakeError::Storage(DbError::Other(anyhow::anyhow!("order {order_id} conflicted but cannot be read")))),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Everything storage knows that can credit the order, each fact read once: its click (or
    /// its pixel's), the contact's lead partner, the subscription's payments, every partner these
    /// name with their parents and grandparents, the links' programs, and every program any of
    /// them may earn under, with its product overrides.
    ///
    /// The order's own facts are read on one connection (`reads`), given back before the
    /// catalog's: those the catalog's memory lacks take connections of their own, and a request
    /// holding one while waiting for another could wait forever once every request does.
    async fn order_facts(&self, mut reads: Reading<'_>, order: &CanonicalOrder) -> Result<OrderFacts, DbError> {
        let mut facts = OrderFacts::default();
        let click_id = match &order.attribution.click_id {
            Some(id) => Some(id.clone()),
            // Without a click of its own, the pixel's — when it is plausible for this order.
            None => reads.conversion_claim(order.order_id.as_str()).await?.and_then(|claim| plausible_for(order, &claim)),
        };
        if let Some(id) = &click_id {
            facts.click = self.recorded_click_in(&mut reads, id.as_str()).await?.map(|c| c.touch());
        }
        if let Some(email) = &order.customer.email {
            facts.lead = reads.contact_lead(email).await?;
        }
        if let (true, Some(subscription)) = (order.renewal, &order.subscription_id) {
            facts.payments = reads.subscription_payments(subscription).await?;
        }
        let catalog = reads.catalog().await?;
        drop(reads);
        // Owners of the order's products earn whoever referred the buyer.
        facts.owners = catalog.owners_of(&order.items).await?;
        // The touches' partners (and the owners), then their parents and grandparents.
        let wanted: Vec<PartnerCode> = facts.touch_partners(order).cloned().collect();
        catalog.partners_and_parents(wanted, &mut facts.partners).await?;
        let touches: Vec<&TouchFact> =
            facts.click.iter().chain(&facts.lead).chain(facts.payments.iter().filter_map(|p| p.credited.as_ref())).collect();
        let links: Vec<_> = touches.iter().filter_map(|t| t.link.clone()).collect();
        let mut programs: Vec<_> = touches.iter().filter_map(|t| t.program.clone()).collect();
        programs.extend(facts.owners.iter().map(|o| o.program.clone()));
        programs.extend(facts.partners.values().flat_map(|p| p.programs.iter().cloned()));
        for link in links {
            if let std::collections::hash_map::Entry::Vacant(slot) = facts.link_programs.entry(link) {
                let limited = catalog.link_programs(slot.key()).await?;
                programs.extend(limited.iter().cloned());
                slot.insert(limited);
            }
        }
        catalog.programs(programs, &mut facts.programs).await?;
        Ok(facts)
    }

    /// A replayed order id: a retry gets its first answer; another body is a conflict and counts as
    /// a duplicate order id against the partner the first order credited.
    async fn replay_order(&self, existing: OrderAnswer, body_hash: &str, order: &CanonicalOrder) -> Result<String, IntakeError> {
        if existing.answer.body_hash != body_hash {
            let signal = Signal {
                reason: Reason::DuplicateOrderId,
                partner: existing.partner.clone(),
                link: None,
                order_id: Some(order.order_id.to_string()),
                at_ms: self.clock.now_ms(),
                // Each different body counts once; a repeated one is a retry.
                source_key: body_hash.to_owned(),
            };
            self.store.record_fraud(&signal).await?;
        }
        replay(existing.answer, body_hash, "order")
    }
}
