//! The rollups the reports read are kept in the same transaction as the rows they count: after a
//! random mix of clicks, opt-ins, orders, refunds, replays, pixel conversions, payouts, moved orders, voids,
//! early approvals and adjustments, the
//! rollups kept along the way equal the rollups rebuilt from the raw rows.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::{Connection, Row};

/// Every rollup row, as text, sorted.
async fn snapshot(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite:") { format!("{url}?mode=ro") } else { url.to_owned() };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let mut rows = Vec::new();
    for (table, columns) in [
        (
            "rollup_daily",
            "partner_code, day, link_code, sub_id, hits, opt_ins, orders, unverified, revenue_minor, commission_minor, clawback_minor",
        ),
        ("rollup_products", "partner_code, day, sku, currency, name, quantity, revenue_minor"),
        (
            "rollup_balances",
            "partner_code, currency, earned_minor, clawed_back_minor, reversed_minor, adjusted_minor, paid_minor, balance_minor",
        ),
    ] {
        // Rows that add up to nothing are the same as no row.
        for r in sqlx::query(&format!("SELECT {columns} FROM {table}")).fetch_all(&mut conn).await.unwrap() {
            let values: Vec<String> = (0..r.len())
                .map(|i| r.try_get::<String, _>(i).or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string())).unwrap())
                .collect();
            let numbers_all_zero = match table {
                "rollup_daily" => values.iter().skip(4).all(|v| v == "0"),
                "rollup_products" => values.iter().skip(5).all(|v| v == "0"),
                _ => false,
            };
            if !numbers_all_zero {
                rows.push(format!("{table}: {}", values.join(" | ")));
            }
        }
    }
    rows.sort();
    rows
}

/// A small deterministic generator, so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

#[tokio::test]
async fn rollups_kept_along_the_way_equal_rollups_rebuilt_from_the_raw_rows() {
    let app = spawn_app_with(&[("REFTRACK_CLICK_FLOOD_LIMIT", "0")]).await;
    app.seed().await;
    let mut dice = Dice(0x5eed_1234_abcd_0001);
    let mut clicks: Vec<String> = Vec::new();
    let mut orders: Vec<(String, i64)> = Vec::new();
    // Moves, voids, early approvals and adjustments that were booked.
    let mut corrections = [0; 4];
    for step in 0..160 {
        match dice.roll(9) {
            0 | 1 => {
                let partner = ["jane", "john"][dice.roll(2) as usize];
                let sid = ["yt", "news"].get(dice.roll(3) as usize).copied();
                clicks.push(app.click(partner, sid).await);
            }
            2 if !clicks.is_empty() => {
                let click = clicks[dice.roll(clicks.len() as u64) as usize].clone();
                let lead = json!({"type":"lead","email":format!("fan{}@example.com", dice.roll(6)),"click_id":click,"page":"/"});
                app.client
                    .post(app.url("/v1/events"))
                    .header("cookie", format!("rt_click={click}"))
                    .body(lead.to_string())
                    .send()
                    .await
                    .unwrap();
            }
            3 => {
                let id = format!("api:o{step}");
                let click = (!clicks.is_empty() && dice.roll(4) > 0).then(|| clicks[dice.roll(clicks.len() as u64) as usize].clone());
                let mut o = order(&id, click.as_deref(), &format!("fan{}@example.com", dice.roll(8)));
                let price = 1000 + dice.roll(9000) as i64;
                o["items"][0]["unit_price_minor"] = json!(price);
                o["total_minor"] = json!(price);
                let r = app.post_order(&o).await;
                assert_eq!(r.status(), 200);
                if dice.roll(3) == 0 {
                    assert_eq!(app.post_order(&o).await.status(), 200, "a replay");
                }
                orders.push((id, price));
            }
            4 if !orders.is_empty() => {
                let (id, total) = orders[dice.roll(orders.len() as u64) as usize].clone();
                let refund = match dice.roll(3) {
                    0 => json!({"order_id":id,"refund_id":format!("r{step}"),"amount_minor":total / 3,"occurred_at":rfc3339(now())}),
                    1 => {
                        json!({"order_id":id,"refund_id":format!("t{step}"),"refunded_total_minor":total / 2,"occurred_at":rfc3339(now())})
                    }
                    _ => {
                        json!({"order_id":id,"refund_id":format!("d{step}"),"amount_minor":total / 4,"kind":"dispute","occurred_at":rfc3339(now())})
                    }
                };
                let status = app.post_refund(&refund).await.status();
                assert!(status == 200 || status == 422, "{status}");
            }
            5 if !clicks.is_empty() => {
                let click = clicks[dice.roll(clicks.len() as u64) as usize].clone();
                let id = format!("px{step}");
                app.follow(&format!("/v1/pixel.gif?order_id={id}&amount_minor=9900&currency=USD&click_id={click}")).await;
                if dice.roll(2) == 0 {
                    let answer: Value =
                        app.post_order(&order(&format!("shop:{id}"), None, "pixel@example.com")).await.json().await.unwrap();
                    assert_eq!(answer["order_id"], format!("shop:{id}"));
                }
            }
            6 => {
                let r = app.admin_post("/v1/admin/payouts", json!({"min_balance_minor": 0})).await;
                assert_eq!(r.status(), 201);
            }
            7 if !orders.is_empty() => {
                let (id, _) = orders[dice.roll(orders.len() as u64) as usize].clone();
                let partner = ["jane", "john"][dice.roll(2) as usize];
                let body = json!({"partner": partner, "reason": "moved by hand"});
                let r = app.admin_post(&format!("/v1/admin/orders/{id}/credit"), body).await;
                let status = r.status();
                let answer: Value = r.json().await.unwrap();
                assert!(status == 200 || answer["field"] == "partner", "{status} {answer}");
                corrections[0] += i32::from(status == 200);
            }
            8 => {
                let partner = ["jane", "john"][dice.roll(2) as usize];
                let entries = app.get_json(&format!("/v1/partners/{partner}/ledger"), ADMIN_KEY).await["entries"].clone();
                let earned: Vec<i64> =
                    entries.as_array().unwrap().iter().filter(|e| e["kind"] == "earned").filter_map(|e| e["id"].as_i64()).collect();
                match (dice.roll(3), earned.is_empty()) {
                    (0, false) => {
                        let id = earned[dice.roll(earned.len() as u64) as usize];
                        let r = app.admin_post(&format!("/v1/admin/ledger/{id}/void"), json!({"reason":"void"})).await;
                        let status = r.status();
                        assert!(status == 201 || status == 409, "{status} {}", r.text().await.unwrap());
                        corrections[1] += i32::from(status == 201);
                    }
                    (1, false) => {
                        let id = earned[dice.roll(earned.len() as u64) as usize];
                        let r = app.admin_post(&format!("/v1/admin/ledger/{id}/approve"), json!({"reason":"early"})).await;
                        let status = r.status();
                        assert!(status == 201 || status == 409, "{status} {}", r.text().await.unwrap());
                        corrections[2] += i32::from(status == 201);
                    }
                    _ => {
                        let amount = dice.roll(3000) as i64 - 1000;
                        let body = json!({"amount_minor": amount, "currency": "USD", "reason": "bonus"});
                        let r = app.admin_post(&format!("/v1/admin/partners/{partner}/adjustments"), body).await;
                        let status = r.status();
                        assert!(status == 201 || amount == 0, "{status} {}", r.text().await.unwrap());
                        corrections[3] += i32::from(status == 201);
                    }
                }
            }
            _ => {}
        }
    }
    assert!(corrections.iter().all(|&n| n > 0), "every kind of correction was booked: {corrections:?}");
    app.stats("jane").await; // Everything queued is committed.
    let kept = snapshot(&app.database_url).await;
    assert!(kept.iter().any(|r| r.starts_with("rollup_daily")), "the mix produced figures");
    let rebuilt = run_cli(&app.database_url, &["rollups", "rebuild"]);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    let again = snapshot(&app.database_url).await;
    let only_kept: Vec<&String> = kept.iter().filter(|r| !again.contains(r)).collect();
    let only_rebuilt: Vec<&String> = again.iter().filter(|r| !kept.contains(r)).collect();
    assert!(
        only_kept.is_empty() && only_rebuilt.is_empty(),
        "kept but not rebuilt: {only_kept:#?}\nrebuilt but not kept: {only_rebuilt:#?}"
    );
}
