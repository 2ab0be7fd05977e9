//! The public sign-up page's applications: closed until the merchant opens it, an email the only
//! requirement, checked fields, a hidden field that catches bots, a limit per visitor; the
//! merchant approves (the partner and their personal link) or declines.

use crate::corrections::{ok_json, post, refusal};
use crate::helpers::*;
use serde_json::{json, Value};

async fn open(app: &TestApp) {
    let r = app
        .client
        .patch(app.url("/v1/admin/settings"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"applications_open": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn apply(app: &TestApp, body: Value) -> reqwest::Response {
    app.client.post(app.url("/v1/partner-applications")).json(&body).send().await.unwrap()
}

async fn pending(app: &TestApp) -> Vec<Value> {
    app.get_json("/v1/admin/partner-applications", ADMIN_KEY).await["applications"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_application_needs_only_an_email_and_approving_it_adds_the_partner_with_their_personal_link() {
    let app = spawn_seeded_app().await;
    let (status, code, _) = refusal(apply(&app, json!({"email":"sam@creator.example"})).await).await;
    assert_eq!((status, code.as_str()), (403, "applications_closed"), "closed until the merchant opens it");
    open(&app).await;
    assert_eq!(ok_json(apply(&app, json!({"email":"Sam@Creator.example"})).await, 201).await["status"], "received");
    let full = json!({"email":"lee@blog.example","name":"Lee","website":"blog.example/reviews","notes":"I review courses.\nTwice a week."});
    ok_json(apply(&app, full).await, 201).await;
    let list = pending(&app).await;
    assert_eq!(list.len(), 2);
    let lee = list.iter().find(|a| a["email"] == "lee@blog.example").unwrap();
    assert_eq!((lee["website"].as_str(), lee["status"].as_str()), (Some("https://blog.example/reviews"), Some("pending")));
    let sam = list.iter().find(|a| a["email"] == "sam@creator.example").unwrap();

    let id = sam["id"].as_i64().unwrap();
    let approved = ok_json(
        post(&app, &format!("/v1/admin/partner-applications/{id}/approve"), json!({"code":"sam","programs":["standard"]})).await,
        201,
    )
    .await;
    assert_eq!((approved["partner"]["code"].as_str(), approved["partner"]["email"].as_str()), (Some("sam"), Some("sam@creator.example")));
    assert_eq!(approved["partner"]["name"], "sam", "no name given: the code");
    assert_eq!(approved["application"]["status"], "approved");
    let token = approved["token"].as_str().unwrap();
    assert!(approved["url"].as_str().unwrap().ends_with(&format!("/partner/#token={token}")));
    assert_eq!(app.get_json("/v1/me", token).await["partner"], "sam", "the personal link works");
    assert!(click_from(app.follow("/go/offer?aff=sam").await.headers()).is_some(), "sam's links credit");
    let (status, code, _) =
        refusal(post(&app, &format!("/v1/admin/partner-applications/{id}/approve"), json!({"code":"sam2"})).await).await;
    assert_eq!((status, code.as_str()), (409, "already_decided"));

    let lee_id = lee["id"].as_i64().unwrap();
    for (body, status, field) in [
        (json!({"code":"jane"}), 409, Some("code")),
        (json!({"code":"l e e"}), 400, Some("code")),
        (json!({"code":"lee","programs":["ghost"]}), 404, Some("programs")),
        (json!({"code":"lee","parent":"ghost"}), 404, Some("parent")),
    ] {
        let got = refusal(post(&app, &format!("/v1/admin/partner-applications/{lee_id}/approve"), body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (status, field), "{body}");
    }
    let declined =
        ok_json(post(&app, &format!("/v1/admin/partner-applications/{lee_id}/decline"), json!({"reason":"not a fit"})).await, 200).await;
    assert_eq!((declined["status"].as_str(), declined["decision_note"].as_str()), (Some("declined"), Some("not a fit")));
    assert!(pending(&app).await.is_empty() || pending(&app).await.iter().all(|a| a["status"] != "pending"));
    let all = app.get_json("/v1/admin/partner-applications?status=all", ADMIN_KEY).await;
    assert_eq!(all["applications"].as_array().unwrap().len(), 2);
    assert_eq!(refusal(post(&app, "/v1/admin/partner-applications/999/approve", json!({"code":"x"})).await).await.0, 404);
}

#[tokio::test]
async fn bad_applications_are_refused_by_field_and_bots_and_repeats_store_nothing() {
    let app = spawn_app().await;
    open(&app).await;
    for (body, field) in [
        (json!({"email":"not-an-email"}), Some("email")),
        (json!({"email":"a@example.com","website":"javascript:alert(1)"}), Some("website")),
        (json!({"email":"a@example.com","name":"x".repeat(201)}), Some("name")),
        (json!({"email":"a@example.com","notes":"x".repeat(2001)}), Some("notes")),
        (json!({"name":"no email"}), None),
    ] {
        let (status, _, f) = refusal(apply(&app, body.clone()).await).await;
        assert_eq!((status, f.as_deref()), (400, field), "{body}");
    }
    // A bot fills the field people never see: it is told it worked, and nothing is kept.
    ok_json(apply(&app, json!({"email":"bot@spam.example","homepage":"http://spam.example"})).await, 201).await;
    assert!(pending(&app).await.is_empty());
    ok_json(apply(&app, json!({"email":"twice@example.com"})).await, 201).await;
    let (status, _, field) = refusal(apply(&app, json!({"email":"twice@example.com"})).await).await;
    assert_eq!((status, field.as_deref()), (409, Some("email")));
    assert_eq!(pending(&app).await.len(), 1);
}

#[tokio::test]
async fn one_visitor_may_apply_a_few_times_an_hour() {
    let app = spawn_app().await;
    open(&app).await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        statuses.push(apply(&app, json!({"email": format!("v{n}@example.com")})).await.status().as_u16());
    }
    assert_eq!(statuses, [[201; 10].as_slice(), &[429, 429]].concat());
    assert_eq!(pending(&app).await.len(), 10);
}

#[tokio::test]
async fn deciding_on_applications_needs_the_admin_key() {
    let app = spawn_app().await;
    for path in ["/v1/admin/partner-applications/1/approve", "/v1/admin/partner-applications/1/decline"] {
        assert_eq!(app.client.post(app.url(path)).json(&json!({"code":"x"})).send().await.unwrap().status(), 401);
    }
    assert_eq!(app.client.get(app.url("/v1/admin/partner-applications")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_cli_opens_the_page_and_approves_an_application() {
    let app = spawn_seeded_app().await;
    let run = |args: &[&str]| {
        let out = run_cli(&app.database_url, args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(run(&["applications", "open"])["applications_open"], true);
    ok_json(apply(&app, json!({"email":"cli@example.com","name":"Cli"})).await, 201).await;
    let id = run(&["applications", "list"])[0]["id"].as_i64().unwrap().to_string();
    let approved =
        run(&["applications", "approve", &id, "--code", "cli", "--program", "standard", "--public-url", "https://track.example.com"]);
    assert!(approved["url"].as_str().unwrap().starts_with("https://track.example.com/partner/#token=rtpt_"));
    assert_eq!(run(&["partner", "list"]).as_array().unwrap().len(), 3);
}
