//! What reftrack's test suites share: which database backend a suite runs on, and a real
//! PostgreSQL server started by the tests themselves.
//!
//! The backend comes from `REFTRACK_TEST_BACKEND` (`sqlite`, the default, or `postgres`), so one
//! suite runs unchanged on either: `cargo xtask test` runs the API suite once per backend.

pub mod postgres;

use std::path::Path;

/// The database engine a suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend named by `REFTRACK_TEST_BACKEND` (SQLite when unset).
    pub fn from_env() -> Self {
        match std::env::var("REFTRACK_TEST_BACKEND").as_deref() {
            Ok("postgres") | Ok("postgresql") | Ok("pg") => Backend::Postgres,
            Ok("sqlite") | Ok("") | Err(_) => Backend::Sqlite,
            Ok(other) => panic!("REFTRACK_TEST_BACKEND must be sqlite or postgres, not {other:?}"),
        }
    }

    /// A new, empty database of this backend: a file in `dir`, or a fresh PostgreSQL database.
    pub async fn new_database(self, dir: &Path) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", dir.join("reftrack.db").display()),
            Backend::Postgres => postgres::cluster().create_database().await,
        }
    }
}
