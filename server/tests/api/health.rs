use crate::helpers::*;

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = spawn_app().await;
    let r = app.follow("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    app.follow("/nowhere").await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("# TYPE reftrack_requests_total counter"));
    assert!(metrics.contains("reftrack_rejects_total{reason=\"not_found\"} 1"), "{metrics}");
}

#[tokio::test]
async fn metrics_are_only_for_the_bearer_of_the_metrics_token() {
    let app = spawn_app().await;
    let r = app.follow("/metrics").await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (401, "missing_metrics_token".to_owned()));
    let r = app.client.get(app.url("/metrics")).bearer_auth("guess").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let off = spawn_app_with(&[("REFTRACK_METRICS_TOKEN", "")]).await;
    let r = off.follow("/metrics").await;
    assert_eq!((r.status().as_u16(), error_code(r).await), (404, "metrics_off".to_owned()), "no token configured: metrics are off");
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = spawn_app().await;
    let r = app.follow("/v2/whatever").await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
}

#[tokio::test]
async fn the_snippet_is_a_clear_503_until_built_then_served_with_the_right_headers() {
    let app = spawn_app().await;
    let r = app.follow("/reftrack.js").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "snippet_not_built");
    assert!(body["message"].as_str().unwrap().contains("cargo xtask snippet"));
    let dist = app.dir.path().join("www/dist");
    std::fs::write(dist.join("reftrack.js"), "/* loader */").unwrap();
    std::fs::write(dist.join("reftrack_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let js = app.follow("/reftrack.js").await;
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(js.headers()["access-control-allow-origin"], "*");
    assert!(js.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let wasm = app.follow("/reftrack_bg.wasm").await;
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
}
