//! Both engines' migrations describe one schema: after migrating a fresh SQLite file and a fresh
//! PostgreSQL database, the same tables have the same columns, and both have applied the same
//! numbered migrations.

use sqlx::{Connection, Row};
use std::collections::BTreeMap;

type Schema = BTreeMap<String, Vec<String>>;

async fn sqlite_schema(url: &str) -> (Schema, Vec<i64>) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY name")).fetch_all(&mut conn).await.unwrap();
        schema.insert(table, rows.iter().map(|r| r.get::<String, _>(0)).collect());
    }
    let versions =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(&mut conn).await.unwrap();
    (schema, versions)
}

async fn postgres_schema(url: &str) -> (Schema, Vec<i64>) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY table_name, column_name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for r in rows {
        schema.entry(r.get(0)).or_default().push(r.get(1));
    }
    let versions =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(&mut conn).await.unwrap();
    (schema, versions)
}

#[tokio::test]
async fn sqlite_and_postgresql_migrations_produce_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = reftrack_testkit::Backend::Sqlite.new_database(dir.path()).await;
    let postgres = reftrack_testkit::Backend::Postgres.new_database(dir.path()).await;
    for url in [&sqlite, &postgres] {
        reftrack_server::store::Store::connect(url).await.unwrap();
    }
    let (lite, lite_versions) = sqlite_schema(&sqlite).await;
    let (pg, pg_versions) = postgres_schema(&postgres).await;
    assert!(lite.contains_key("orders") && lite.contains_key("ledger"), "{lite:?}");
    assert_eq!(lite, pg, "the two migration sets have drifted");
    assert_eq!(lite_versions, pg_versions, "both engines are at the same migration numbers");
}

#[tokio::test]
async fn a_postgresql_database_migrated_under_the_old_numbering_is_renumbered_not_migrated_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = reftrack_testkit::Backend::Postgres.new_database(dir.path()).await;
    reftrack_server::store::Store::connect(&url).await.unwrap();
    // Rewind the record to what a server of the old numbering left: 0001, then the programs
    // migration recorded as version 2, and nothing after it.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let fresh: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version").fetch_all(&mut conn).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version IN (2, 4)").execute(&mut conn).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET version = 2 WHERE version = 3").execute(&mut conn).await.unwrap();
    sqlx::query("ALTER TABLE refunds DROP COLUMN kind, DROP COLUMN refunded_total_minor").execute(&mut conn).await.unwrap();
    sqlx::query("DROP TABLE notices").execute(&mut conn).await.unwrap();
    reftrack_server::store::Store::connect(&url).await.expect("the old database opens and is brought up to date");
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version").fetch_all(&mut conn).await.unwrap();
    assert_eq!(versions, fresh, "every migration recorded once, under its number now");
    assert_eq!(versions[..4], [1, 2, 3, 4]);
}
