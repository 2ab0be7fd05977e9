//! The README's main command: `reftrack demo` seeds a program, partners and a link, serves the
//! demo pages, and the journey clicked through in a browser updates the partner's stats. Each step
//! is saved as a screenshot under `target/demo-screenshots/` to be looked at.

use reftrack_e2e::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_walks_a_visitor_from_janes_link_to_her_commission() {
    require_snippet();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(binaries().join("reftrack"));
    cmd.arg("--database")
        .arg(format!("sqlite://{}", dir.path().join("demo.db").display()))
        .arg("demo")
        .args(["--listen", "127.0.0.1:0"])
        .env("REFTRACK_WWW_DIR", root().join("www"))
        .env("RUST_LOG", "warn");
    let (demo, base) = spawn_until(cmd, "reftrack listening on ").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats_url = loop {
        let found =
            demo.output.lock().unwrap().iter().find_map(|l| l.trim().strip_prefix("Jane's partner center:").map(|u| u.trim().to_owned()));
        if let Some(url) = found {
            break url;
        }
        assert!(Instant::now() < deadline, "the demo printed no stats URL");
        std::thread::sleep(Duration::from_millis(50));
    };
    let shots = root().join("target/demo-screenshots");
    let b = Browser::start(false).await.unwrap();

    b.open(&format!("{base}/demo/")).await.unwrap();
    b.screenshot(&shots.join("1-start.png")).await.unwrap();
    b.eval("document.getElementById('start').click()").await.unwrap();
    let landed = b.wait_for("return location.pathname.endsWith('/demo/landing.html') && document.getElementById('referral').textContent.indexOf('jane') >= 0").await;
    if landed.is_err() {
        b.screenshot(&shots.join("2-landing-failed.png")).await.unwrap();
        panic!("{landed:?} at {:?}", b.eval("return [location.href, document.body.innerText, window.__errors]").await);
    }
    b.screenshot(&shots.join("2-landing.png")).await.unwrap();

    b.eval("document.getElementById('webinar').click()").await.unwrap();
    b.wait_for("return location.pathname.endsWith('/webinar.html') && document.getElementById('affiliate').value === 'jane'")
        .await
        .unwrap();
    b.eval("document.getElementById('email').value = 'visitor@example.com'").await.unwrap();
    b.screenshot(&shots.join("3-webinar.png")).await.unwrap();
    b.eval("document.getElementById('go').click()").await.unwrap();
    b.wait_for("return !document.getElementById('done').hidden").await.unwrap();

    b.open(&format!("{base}/demo/checkout.html")).await.unwrap();
    b.wait_for("return document.getElementById('click').value.length > 0").await.unwrap();
    b.eval("document.getElementById('email').value = 'visitor@example.com'").await.unwrap();
    b.screenshot(&shots.join("4-checkout.png")).await.unwrap();
    b.eval("document.getElementById('paybtn').click()").await.unwrap();
    b.wait_for(
        "return location.pathname.endsWith('/thanks.html') && document.getElementById('pixel').textContent.indexOf('reported') >= 0",
    )
    .await
    .unwrap();
    b.screenshot(&shots.join("5-thanks.png")).await.unwrap();

    b.client.goto(&stats_url).await.unwrap();
    let want = [
        ("hits", "1"),
        ("opt_ins", "1"),
        ("orders", "1"),
        ("unverified_conversions", "0"),
        ("revenue_minor", "$99.00"),
        ("commission_minor", "$29.70"),
    ];
    let script = want
        .iter()
        .map(|(id, v)| format!("(document.querySelector('#fig-{id} .value') || {{}}).textContent === '{v}'"))
        .collect::<Vec<_>>()
        .join(" && ");
    let shown = b.wait_for(&format!("return {script}")).await;
    b.screenshot(&shots.join("6-partner-center.png")).await.unwrap();
    shown.unwrap_or_else(|e| panic!("{e}; see target/demo-screenshots/6-partner-center.png"));
    let by_sub = b.eval("return document.getElementById('by-sub').textContent").await.unwrap();
    assert!(by_sub.as_str().unwrap().contains("newsletter"), "{by_sub}");
    b.close().await.unwrap();
    drop(demo);
}
