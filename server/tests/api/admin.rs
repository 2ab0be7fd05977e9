use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn admin_endpoints_need_the_admin_key() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/v1/admin/partners")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), error_code(r).await), (401, "missing_api_key".into()));
    let r = app.client.get(app.url("/v1/admin/partners")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.client.get(app.url("/v1/admin/partners")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn invalid_admin_input_is_refused_with_a_reason() {
    let app = spawn_seeded_app().await;
    let cases = [
        ("/v1/admin/programs", json!({"code":"p1","rate_bps":20000,"window_days":30}), 400),
        ("/v1/admin/programs", json!({"code":"p2","rate_bps":100,"window_days":500}), 400),
        ("/v1/admin/programs", json!({"code":"standard","rate_bps":100,"window_days":30}), 409),
        ("/v1/admin/partners", json!({"code":"x y","name":"X","email":"x@p.example"}), 400),
        ("/v1/admin/partners", json!({"code":"x","name":"X","email":"nope"}), 400),
        ("/v1/admin/partners", json!({"code":"x","name":"X","email":"x@p.example","parent":"ghost"}), 404),
        ("/v1/admin/partners", json!({"code":"x","name":"X","email":"x@p.example","programs":["ghost"]}), 404),
        ("/v1/admin/links", json!({"code":"l","destination":"javascript:alert(1)"}), 400),
        ("/v1/admin/links", json!({"code":"l","destination":"https://u:p@www.merchant.test/"}), 400),
        ("/v1/admin/links", json!({"code":"offer","destination":"https://www.merchant.test/"}), 409),
        ("/v1/admin/programs/standard/products", json!({"sku":"a","rate_bps":100,"flat_minor":5}), 400),
        ("/v1/admin/programs/ghost/products", json!({"sku":"a","rate_bps":100}), 404),
    ];
    for (path, body, status) in cases {
        let r = app.admin_post(path, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{path} {body}");
        error_code(r).await;
    }
}

#[tokio::test]
async fn partners_and_links_can_be_listed() {
    let app = spawn_seeded_app().await;
    let partners: Value = app.client.get(app.url("/v1/admin/partners")).bearer_auth(ADMIN_KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(partners.as_array().unwrap().len(), 2);
    assert_eq!(partners[0]["programs"], json!(["standard"]));
    let links: Value = app.client.get(app.url("/v1/admin/links")).bearer_auth(ADMIN_KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(links[0]["destination"], "https://www.merchant.test/offer?utm=x#buy");
}

#[tokio::test]
async fn the_cli_manages_programs_partners_links_and_keys_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = new_database(&dir).await;
    let ok = |args: &[&str]| {
        let out = run_cli(&url, args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    ok(&["program", "add", "--code", "std", "--rate-bps", "2500", "--window-days", "45"]);
    ok(&["program", "product", "--program", "std", "--sku", "ebook", "--flat-minor", "300"]);
    ok(&["partner", "add", "--code", "jane", "--name", "Jane", "--email", "Jane@Partners.example", "--program", "std"]);
    ok(&["partner", "add", "--code", "kid", "--name", "Kid", "--email", "kid@partners.example", "--parent", "jane"]);
    ok(&["link", "add", "--code", "home", "--destination", "https://www.merchant.test/", "--program", "std"]);
    let token = ok(&["keys", "partner", "--partner", "jane"]);
    let admin = ok(&["keys", "admin"]);
    let partners = ok(&["partner", "list"]);
    assert_eq!(partners[0]["email"], "jane@partners.example");
    let refused = run_cli(&url, &["link", "add", "--code", "bad", "--destination", "ftp://x"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("http(s)"));

    let app = spawn_app_at(dir, url.clone(), &[]).await;
    let click = click_from(app.follow("/go/home?aff=jane").await.headers()).unwrap();
    assert!(set_cookie(app.follow("/go/home?aff=jane").await.headers()).unwrap().contains("Max-Age=3888000"));
    let tok = token["token"].as_str().unwrap();
    let own = app.client.get(app.url("/v1/partners/jane/stats")).bearer_auth(tok).send().await.unwrap();
    assert_eq!(own.status(), 200);
    let by_admin_key = app.client.get(app.url("/v1/partners/jane/stats")).bearer_auth(admin["key"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(by_admin_key.status(), 200);
    assert!(!click.is_empty());
}
