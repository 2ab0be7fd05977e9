use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_signed_server_lead_counts_as_an_opt_in_for_the_partner() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", Some("webinar")).await;
    let body = json!({"email":"Visitor@Example.com","click_id":click}).to_string();
    let r = app.signed_post("/v1/leads", body.as_bytes(), "msg_lead_1", now()).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["partner"], "jane");
    assert_eq!(answer["email"], "visitor@example.com");
    let stats = app.stats("jane").await;
    assert_eq!(stats["opt_ins"], 1);
    assert_eq!(stats["by_link"][0]["link"], "offer");
}

#[tokio::test]
async fn a_lead_naming_only_a_partner_counts_and_makes_them_the_lead_partner() {
    let app = spawn_seeded_app().await;
    let body = json!({"email":"fan@example.com","partner":"john"}).to_string();
    assert_eq!(app.signed_post("/v1/leads", body.as_bytes(), "msg_lead_2", now()).await.status(), 200);
    assert_eq!(app.stats("john").await["opt_ins"], 1);
    let answer: Value = app.post_order(&order("api:l1", None, "fan@example.com")).await.json().await.unwrap();
    assert_eq!((answer["partner"].as_str(), answer["credited_by"].as_str()), (Some("john"), Some("lead")));
}

#[tokio::test]
async fn a_replayed_lead_message_counts_once() {
    let app = spawn_seeded_app().await;
    let body = json!({"email":"a@example.com","partner":"jane"}).to_string();
    let ts = now();
    let first = app.signed_post("/v1/leads", body.as_bytes(), "msg_same", ts).await.text().await.unwrap();
    let second = app.signed_post("/v1/leads", body.as_bytes(), "msg_same", ts).await.text().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.stats("jane").await["opt_ins"], 1);
    assert!(app.metrics().await.contains("reftrack_leads_total 1"));
}

#[tokio::test]
async fn leads_with_unknown_partners_bad_emails_or_bad_signatures_are_refused() {
    let app = spawn_seeded_app().await;
    let r = app.signed_post("/v1/leads", json!({"email":"a@example.com","partner":"ghost"}).to_string().as_bytes(), "m1", now()).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (404, "unknown_partner".into()));
    let r = app.signed_post("/v1/leads", br#"{"email":"not-an-email","partner":"jane"}"#, "m2", now()).await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (400, "malformed_json".into()));
    let r = app.client.post(app.url("/v1/leads")).body(r#"{"email":"a@example.com","partner":"jane"}"#).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.stats("jane").await["opt_ins"], 0);
}

#[tokio::test]
async fn a_tool_lead_without_a_click_is_credited_by_email_to_the_browser_opt_in_and_counted_once() {
    let app = spawn_seeded_app().await;
    let click = app.click("jane", Some("webinar")).await;
    // The visitor opts in on the merchant's page with the click (its beacon carries the click's cookie)…
    let beacon = json!({"type":"lead","email":"fan@example.com","click_id":click,"page":"/webinar"}).to_string();
    let r = app.client.post(app.url("/v1/events")).header("cookie", format!("rt_click={click}")).body(beacon).send().await.unwrap();
    assert_eq!(r.status(), 202);
    // …and the webinar tool, which cannot carry the click, reports the same registration.
    let body = json!({"email":"fan@example.com","source":"webinarjam","lead_id":"webinarjam:r1"}).to_string();
    let answer: Value = app.signed_post("/v1/leads", body.as_bytes(), "msg_wj_1", now()).await.json().await.unwrap();
    assert_eq!((answer["partner"].as_str(), answer["source"].as_str()), (Some("jane"), Some("webinarjam")), "{answer}");
    let stats = app.stats("jane").await;
    assert_eq!(stats["opt_ins"], 1, "one person, one opt-in, however it arrived: {stats}");
    // A redelivery under another message id is the same opt-in.
    let again = app.signed_post("/v1/leads", body.as_bytes(), "msg_wj_2", now()).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.text().await.unwrap(), serde_json::to_string(&answer).unwrap());
}

#[tokio::test]
async fn a_lead_with_a_click_we_never_recorded_still_counts_as_an_opt_in() {
    let app = spawn_seeded_app().await;
    let body =
        json!({"email":"typo@example.com","click_id":"AAAAAAAAAAAAAAAAAAAAAA","source":"typeform","lead_id":"typeform:t1"}).to_string();
    let r = app.signed_post("/v1/leads", body.as_bytes(), "msg_tf", now()).await;
    assert_eq!(r.status(), 200, "the opt-in is kept, without a partner");
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["partner"], Value::Null);
    // An empty click field, as tools post for unfilled hidden fields, is no click at all.
    let empty = json!({"email":"blank@example.com","click_id":"","partner":"jane"}).to_string();
    assert_eq!(app.signed_post("/v1/leads", empty.as_bytes(), "msg_blank", now()).await.status(), 200);
    assert_eq!(app.stats("jane").await["opt_ins"], 1);
}
