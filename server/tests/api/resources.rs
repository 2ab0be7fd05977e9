//! Promotional resources: uploaded banners (images only, bounded, SVG refused), linked banners and
//! copy per program; partners get them with their own tracking link inside; the uploaded images
//! are served as inert images.

use crate::corrections::{ok_json, post, refusal};
use crate::helpers::*;
use base64::Engine;
use serde_json::{json, Value};

/// The smallest PNG: one transparent pixel.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn resource(app: &TestApp, body: Value) -> reqwest::Response {
    post(app, "/v1/admin/resources", body).await
}

#[tokio::test]
async fn banners_and_copy_reach_partners_with_their_own_link_inside() {
    let app = spawn_seeded_app().await;
    let banner = ok_json(
        resource(&app, json!({"program":"standard","kind":"banner","title":"Spring banner","link":"offer","alt":"The Course","image_base64": format!("data:image/png;base64,{}", b64(PNG))})).await,
        201,
    )
    .await;
    assert_eq!((banner["uploaded"].as_bool(), banner["content_type"].as_str()), (Some(true), Some("image/png")));
    ok_json(resource(&app, json!({"program":"standard","kind":"text","title":"Newsletter blurb","link":"offer","text":"The course that changed my year: {link}"})).await, 201).await;
    ok_json(
        resource(
            &app,
            json!({"program":"standard","kind":"banner","title":"Hosted","link":"offer","image_url":"https://cdn.merchant.test/b.webp"}),
        )
        .await,
        201,
    )
    .await;

    let jane = app.get_json("/v1/partners/jane/resources", ADMIN_KEY).await;
    let list = jane["resources"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    let url = format!("{}/go/offer?aff=jane", app.base);
    let id = banner["id"].as_i64().unwrap();
    assert_eq!(list[0]["url"], json!(url));
    assert_eq!(
        list[0]["html"],
        json!(format!("<a href=\"{url}\"><img src=\"{}/v1/resources/{id}/image\" alt=\"The Course\"></a>", app.base))
    );
    assert_eq!(list[1]["text"], json!(format!("The course that changed my year: {url}")));
    assert!(list[1]["html"].as_str().unwrap().contains(&format!("<a href=\"{url}\">{url}</a>")));
    assert_eq!(list[2]["image_src"], "https://cdn.merchant.test/b.webp");
    // A partner sees their own only: john's carry john's link; jane cannot read john's.
    let token: Value = post(&app, "/v1/admin/partners/jane/tokens", json!({})).await.json().await.unwrap();
    let token = token["token"].as_str().unwrap();
    assert_eq!(app.get_json("/v1/partners/jane/resources", token).await["resources"].as_array().unwrap().len(), 3);
    let r = app.client.get(app.url("/v1/partners/john/resources")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(app.get_json("/v1/partners/john/resources", ADMIN_KEY).await["resources"][0]["url"].as_str().unwrap().ends_with("aff=john"));

    // The image is public (partners' pages show it), and served as an image only.
    let image = app.client.get(app.url(&format!("/v1/resources/{id}/image"))).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.headers()["x-content-type-options"], "nosniff");
    assert!(image.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(&image.bytes().await.unwrap()[..], PNG);

    let all = app.get_json("/v1/admin/resources", ADMIN_KEY).await;
    assert_eq!(all["resources"].as_array().unwrap().len(), 3);
    let r = app.client.delete(app.url(&format!("/v1/admin/resources/{id}"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.client.get(app.url(&format!("/v1/resources/{id}/image"))).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn anything_but_a_small_image_is_refused_and_nothing_is_stored() {
    let app = spawn_seeded_app().await;
    let add_link = json!({"code":"janes","destination":"https://www.merchant.test/","partner":"jane"});
    assert_eq!(app.admin_post("/v1/admin/links", add_link).await.status(), 201);
    let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"></svg>";
    let mut big = PNG.to_vec();
    big.resize(300 * 1024, 0);
    let banner = |extra: Value| {
        let mut b = json!({"program":"standard","kind":"banner","title":"B","link":"offer"});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    for (body, status, field) in [
        (banner(json!({"image_base64": b64(svg)})), 400, Some("image")),
        (banner(json!({"image_base64": b64(b"<html><script>alert(1)</script>")})), 400, Some("image")),
        (banner(json!({"image_base64": "not base64!!"})), 400, Some("image")),
        (banner(json!({"image_url": "https://cdn.example/b.svg"})), 400, Some("image_url")),
        (banner(json!({"image_url": "javascript:alert(1)"})), 400, Some("image_url")),
        (banner(json!({})), 400, Some("image")),
        (banner(json!({"image_base64": b64(PNG), "image_url": "https://cdn.example/b.png"})), 400, Some("image")),
        (banner(json!({"image_base64": b64(PNG), "program": "ghost"})), 404, Some("program")),
        (banner(json!({"image_base64": b64(PNG), "link": "ghost"})), 404, Some("link")),
        (banner(json!({"image_base64": b64(PNG), "link": "janes"})), 400, Some("link")),
        (banner(json!({"image_base64": b64(PNG), "title": ""})), 400, Some("title")),
        (banner(json!({"image_base64": b64(PNG), "kind": "video"})), 400, Some("kind")),
        (json!({"program":"standard","kind":"text","title":"T","link":"offer","text":""}), 400, Some("text")),
    ] {
        let got = refusal(resource(&app, body.clone()).await).await;
        assert_eq!((got.0, got.2.as_deref()), (status, field), "{}", got.1);
    }
    // Over the size limit (256 KiB of image), refused by field; a body beyond the limit is a 413.
    let got = refusal(resource(&app, banner(json!({"image_base64": b64(&big[..260 * 1024])}))).await).await;
    assert_eq!((got.0, got.2.as_deref()), (400, Some("image")));
    let mut huge = PNG.to_vec();
    huge.resize(600 * 1024, 0);
    assert_eq!(resource(&app, banner(json!({"image_base64": b64(&huge)}))).await.status(), 413);
    assert!(app.get_json("/v1/admin/resources", ADMIN_KEY).await["resources"].as_array().unwrap().is_empty());
    assert_eq!(app.client.post(app.url("/v1/admin/resources")).json(&banner(json!({}))).send().await.unwrap().status(), 401);
}
