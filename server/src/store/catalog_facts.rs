//! The catalog as crediting reads it — partners with their parents, links' programs, programs
//! with their product terms, products' owners — kept in memory while the catalog's version stays
//! the same.
//!
//! Every change to those tables moves `catalog_version` in its own transaction (triggers, so no
//! way of writing them can forget). A reader first reads the version — one query — and takes
//! what the memory holds for it; what is missing it reads from the tables and keeps under that
//! version. A fact read after the version is at least as new as the version (each query sees
//! every commit made before it started), so the memory never holds a fact older than its
//! version; the first reader to see another version starts the memory over. On PostgreSQL every
//! server keeps its own memory and reads the shared version, so an edit on one is seen by all.

use super::rows::parsed;
use super::{DbError, Reading, Store};
use crate::domain::plan::{OwnerFact, PartnerFact, ProgramFact};
use reftrack_protocol::{LineItem, LinkCode, PartnerCode, ProgramCode};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Facts kept before the memory starts over (a catalog larger than this is read again in parts).
const MAX_FACTS: usize = 20_000;

/// Generations of partners crediting reads: the partner, the parent, the grandparent.
const GENERATIONS: usize = 3;

/// The facts read at one catalog version, shared by every clone of the store.
#[derive(Debug, Default, Clone)]
pub(super) struct CatalogMemory(Arc<Mutex<Kept>>);

#[derive(Debug, Default)]
struct Kept {
    version: i64,
    partners: HashMap<PartnerCode, Option<PartnerFact>>,
    links: HashMap<LinkCode, Vec<ProgramCode>>,
    programs: HashMap<ProgramCode, Option<ProgramFact>>,
    owners: Option<Vec<OwnerFact>>,
}

impl Kept {
    fn len(&self) -> usize {
        self.partners.len() + self.links.len() + self.programs.len() + self.owners.as_ref().map_or(0, Vec::len)
    }
}

impl CatalogMemory {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        // A panic while holding the lock cannot leave a half-written fact: each is one insert.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the memory holds at `version`, if it is still at that version.
    fn get<T>(&self, version: i64, pick: impl FnOnce(&Kept) -> Option<T>) -> Option<T> {
        let kept = self.lock();
        if kept.version == version {
            pick(&kept)
        } else {
            None
        }
    }

    /// Keeps a fact read at `version`: the memory starts over at another version, and when full.
    fn keep(&self, version: i64, put: impl FnOnce(&mut Kept)) {
        let mut kept = self.lock();
        if kept.version != version || kept.len() >= MAX_FACTS {
            *kept = Kept { version, ..Kept::default() };
        }
        put(&mut kept);
    }
}

/// The catalog at the version read when it was made ([`Store::catalog`]).
pub struct CatalogReader<'a> {
    store: &'a Store,
    version: i64,
}

const VERSION: &str = "SELECT version FROM catalog_version WHERE id = 1";

impl Store {
    /// The catalog as it is now, for crediting: one query for its version.
    pub async fn catalog(&self) -> Result<CatalogReader<'_>, DbError> {
        let version: i64 = sqlx::query_scalar(VERSION).fetch_one(&self.pool).await?;
        Ok(CatalogReader { store: self, version })
    }
}

impl<'s> Reading<'s> {
    /// The catalog as it is now, for crediting: one query for its version, on this connection.
    pub async fn catalog(&mut self) -> Result<CatalogReader<'s>, DbError> {
        let version: i64 = sqlx::query_scalar(VERSION).fetch_one(&mut *self.conn).await?;
        Ok(CatalogReader { store: self.store, version })
    }
}

impl CatalogReader<'_> {
    fn memory(&self) -> &CatalogMemory {
        &self.store.catalog
    }

    /// What crediting needs of a partner; `None` for a code nobody has.
    pub async fn partner(&self, code: &PartnerCode) -> Result<Option<PartnerFact>, DbError> {
        if let Some(found) = self.memory().get(self.version, |k| k.partners.get(code).cloned()) {
            return Ok(found);
        }
        let fact = self.store.partner(code.as_str()).await?.map(|p| p.fact());
        self.memory().keep(self.version, |k| {
            k.partners.insert(code.clone(), fact.clone());
        });
        Ok(fact)
    }

    /// The partners `wanted` names, then their parents and grandparents, each read once.
    pub async fn partners_and_parents(
        &self,
        mut wanted: Vec<PartnerCode>,
        into: &mut HashMap<PartnerCode, PartnerFact>,
    ) -> Result<(), DbError> {
        for _generation in 0..GENERATIONS {
            let mut parents = Vec::new();
            for code in wanted.drain(..) {
                if into.contains_key(&code) {
                    continue;
                }
                if let Some(p) = self.partner(&code).await? {
                    parents.extend(p.parent.clone());
                    into.insert(code, p);
                }
            }
            wanted = parents;
        }
        Ok(())
    }

    /// The programs a link is limited to (empty: open to every program, or no such link).
    pub async fn link_programs(&self, code: &LinkCode) -> Result<Vec<ProgramCode>, DbError> {
        if let Some(found) = self.memory().get(self.version, |k| k.links.get(code).cloned()) {
            return Ok(found);
        }
        let programs = self.store.link(code.as_str()).await?.map(|l| l.programs).unwrap_or_default();
        self.memory().keep(self.version, |k| {
            k.links.insert(code.clone(), programs.clone());
        });
        Ok(programs)
    }

    /// What crediting needs of a program, its product terms included; `None` for no such program.
    pub async fn program(&self, code: &ProgramCode) -> Result<Option<ProgramFact>, DbError> {
        if let Some(found) = self.memory().get(self.version, |k| k.programs.get(code).cloned()) {
            return Ok(found);
        }
        let fact = match self.store.program(code.as_str()).await? {
            Some(program) => Some(program.fact(&self.store.product_overrides(code.as_str()).await?)),
            None => None,
        };
        self.memory().keep(self.version, |k| {
            k.programs.insert(code.clone(), fact.clone());
        });
        Ok(fact)
    }

    /// Each program `codes` names that exists, read once, added to `into`.
    pub async fn programs(
        &self,
        codes: impl IntoIterator<Item = ProgramCode>,
        into: &mut HashMap<ProgramCode, ProgramFact>,
    ) -> Result<(), DbError> {
        for code in codes {
            if into.contains_key(&code) {
                continue;
            }
            if let Some(fact) = self.program(&code).await? {
                into.insert(code, fact);
            }
        }
        Ok(())
    }

    /// The owners product terms name for any of `items`' products, in any program.
    pub async fn owners_of(&self, items: &[LineItem]) -> Result<Vec<OwnerFact>, DbError> {
        let all = match self.memory().get(self.version, |k| k.owners.clone()) {
            Some(all) => all,
            None => {
                let all = self.store.owner_facts().await?;
                self.memory().keep(self.version, |k| k.owners = Some(all.clone()));
                all
            }
        };
        Ok(all.into_iter().filter(|o| items.iter().any(|i| i.sku == o.sku)).collect())
    }
}

impl Store {
    /// Every product override that names an owner, in any program.
    async fn owner_facts(&self) -> Result<Vec<OwnerFact>, DbError> {
        let rows = sqlx::query(
            "SELECT program_code, sku, owner_code, owner_bps FROM program_products
             WHERE owner_code IS NOT NULL AND owner_bps IS NOT NULL ORDER BY program_code, sku",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(OwnerFact {
                    program: parsed(r, "program_code")?,
                    sku: r.try_get("sku")?,
                    partner: parsed(r, "owner_code")?,
                    bps: r.try_get("owner_bps")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Partner, Program, Store};
    use crate::domain::commission::Rate;
    use reftrack_protocol::{PartnerCode, ProgramCode};

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        let program: Program = serde_json::from_value(serde_json::json!({"code": "std", "rate_bps": 3000, "window_days": 30})).unwrap();
        store.add_program(&program, 0).await.unwrap();
        let partner: Partner =
            serde_json::from_value(serde_json::json!({"code": "jane", "name": "Jane", "email": "jane@example.com", "programs": ["std"]}))
                .unwrap();
        store.add_partner(&partner, 0).await.unwrap();
        (dir, store)
    }

    async fn rate(store: &Store) -> Rate {
        let code: ProgramCode = "std".parse().unwrap();
        store.catalog().await.unwrap().program(&code).await.unwrap().expect("the program").terms.sale.default
    }

    async fn execute(store: &Store, sql: &str) {
        sqlx::query(sql).execute(&store.pool).await.unwrap();
    }

    #[tokio::test]
    async fn any_write_to_the_catalog_tables_is_seen_by_the_next_reader_even_an_operators_own_sql() {
        let (_dir, store) = store().await;
        assert_eq!(rate(&store).await, Rate::Bps(3000));
        execute(&store, "UPDATE programs SET rate_bps = 4000 WHERE code = 'std'").await;
        assert_eq!(rate(&store).await, Rate::Bps(4000));
        execute(&store, "INSERT INTO program_products (program_code, sku, rate_bps) VALUES ('std', 'course', 5000)").await;
        let code: ProgramCode = "std".parse().unwrap();
        let fact = store.catalog().await.unwrap().program(&code).await.unwrap().unwrap();
        assert_eq!(fact.terms.sale.products.len(), 1, "a product's terms are the program's");

        let jane: PartnerCode = "jane".parse().unwrap();
        let programs = |store: &Store| {
            let store = store.clone();
            let jane = jane.clone();
            async move { store.catalog().await.unwrap().partner(&jane).await.unwrap().expect("jane").programs }
        };
        assert_eq!(programs(&store).await.len(), 1);
        execute(&store, "DELETE FROM partner_programs WHERE partner_code = 'jane'").await;
        assert!(programs(&store).await.is_empty(), "a partner's programs are the partner's");
        let unknown: PartnerCode = "john".parse().unwrap();
        assert!(store.catalog().await.unwrap().partner(&unknown).await.unwrap().is_none());
        execute(&store, "INSERT INTO partners (code, name, email, created_at_ms) VALUES ('john', 'John', 'john@example.com', 0)").await;
        assert!(store.catalog().await.unwrap().partner(&unknown).await.unwrap().is_some(), "an unknown partner is not kept unknown");
    }

    #[tokio::test]
    async fn a_reader_takes_the_kept_fact_while_the_version_stays_the_same() {
        let (_dir, store) = store().await;
        assert_eq!(rate(&store).await, Rate::Bps(3000));
        // Without the trigger an edit leaves the version where it was: the kept fact answers,
        // which shows a second reader does not read the table again.
        execute(&store, "DROP TRIGGER programs_update_moves_catalog").await;
        execute(&store, "UPDATE programs SET rate_bps = 4000 WHERE code = 'std'").await;
        assert_eq!(rate(&store).await, Rate::Bps(3000));
        execute(&store, "UPDATE catalog_version SET version = version + 1").await;
        assert_eq!(rate(&store).await, Rate::Bps(4000));
    }
}
