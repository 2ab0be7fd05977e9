//! The outbox with leads: an outbox written before leads existed keeps its entries when it is
//! opened by this version, and a tool's redelivered opt-in is one entry.

use reftrack_connector::outbox::{Kind, Outbox};
use reftrack_protocol::{Email, ServerLead};

fn lead(key: &str) -> ServerLead {
    ServerLead {
        email: Email::parse("jill@example.com").unwrap(),
        name: Some("Jill".into()),
        click_id: None,
        partner: None,
        sub_id: None,
        occurred_at: None,
        source: Some("zoom".into()),
        lead_id: Some(key.into()),
    }
}

#[tokio::test]
async fn an_outbox_from_before_leads_keeps_its_entries_when_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    // The outbox as the previous version left it: only the first migration, one pending order.
    let first = dir.path().join("migrations");
    std::fs::create_dir(&first).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_outbox.sql"), first.join("0001_outbox.sql")).unwrap();
    {
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(first.as_path()).await.unwrap().run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO outbox (msg_id, kind, body, next_attempt_at_ms, created_at_ms) VALUES ('order:shop:1', 'order', '{}', 5, 5)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let outbox = Outbox::open(path.to_str().unwrap()).await.unwrap();
    let entries = outbox.list(None, None).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].msg_id.as_str(), entries[0].kind, entries[0].state.as_str()), ("order:shop:1", Kind::Order, "pending"));
    assert_eq!(outbox.accept_leads(&[lead("zoom:r1")], 10).await.unwrap(), 1);
    assert_eq!(outbox.list(None, None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_redelivered_lead_is_one_entry_posted_to_the_leads_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path().join("outbox.db").to_str().unwrap()).await.unwrap();
    assert_eq!(outbox.accept_leads(&[lead("kit:1"), lead("kit:2")], 10).await.unwrap(), 2);
    assert_eq!(outbox.accept_leads(&[lead("kit:2"), lead("kit:3")], 20).await.unwrap(), 1);
    let due = outbox.due(100, 10, &[]).await.unwrap();
    let ids: Vec<&str> = due.iter().map(|e| e.msg_id.as_str()).collect();
    assert_eq!(ids, ["lead:kit:1", "lead:kit:2", "lead:kit:3"]);
    assert!(due.iter().all(|e| e.kind == Kind::Lead && e.kind.path() == "/v1/leads"));
    let body: ServerLead = serde_json::from_str(&due[0].body).unwrap();
    assert_eq!(body, lead("kit:1"));
}
