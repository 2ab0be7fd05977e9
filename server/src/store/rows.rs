//! Reading columns into the records' types, the same way for both engines.

use super::Dialect;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::fmt::Display;
use std::str::FromStr;

fn decode_error(column: &str, e: impl Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.to_owned(), source: e.to_string().into() }
}

/// A column parsed into a protocol type (a code or id stored as text).
pub(super) fn parsed<T>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error>
where
    T: FromStr,
    T::Err: Display,
{
    let raw: String = row.try_get(column)?;
    raw.parse().map_err(|e| decode_error(column, e))
}

/// A nullable column parsed into a protocol type.
pub(super) fn parsed_opt<T>(row: &AnyRow, column: &str) -> Result<Option<T>, sqlx::Error>
where
    T: FromStr,
    T::Err: Display,
{
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|r| r.parse().map_err(|e| decode_error(column, e))).transpose()
}

/// A boolean column: PostgreSQL's `BOOLEAN`, SQLite's integer.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// Each row's first column, parsed.
pub(super) fn first_column<T>(rows: &[AnyRow]) -> Result<Vec<T>, sqlx::Error>
where
    T: FromStr,
    T::Err: Display,
{
    rows.iter()
        .map(|r| {
            let raw: String = r.try_get(0)?;
            raw.parse().map_err(|e| decode_error("0", e))
        })
        .collect()
}

/// Most rows of `columns` values one multi-row statement may bind: SQLite takes at most 32,766
/// parameters (PostgreSQL 65,535).
pub(super) const fn rows_per_statement(columns: usize) -> usize {
    32_766 / columns
}

/// Writes the `n`th (from 1) parameter of a statement whose parameters are all written here:
/// `$n` on PostgreSQL; SQLite's bare `?`, bound in order, because SQLite looks each named
/// parameter up by walking the list of names, so binding a multi-row statement of `$n`s costs
/// time in the square of its parameters (15 % of the order writer's SQLite thread at 300
/// parameters, `perf record`), and parsing one as much again.
pub(super) fn push_param(out: &mut String, dialect: Dialect, n: usize) {
    match dialect {
        Dialect::Sqlite => out.push('?'),
        Dialect::Postgres => {
            out.push('$');
            out.push_str(&n.to_string());
        }
    }
}

/// `($1, $2, …), (…)` (SQLite: `(?, ?, …), (…)`) for `rows` rows of `columns` values, numbered
/// from the first; the statement must have no other parameter. (sqlx's query builder writes `?`
/// for the `Any` driver, which PostgreSQL refuses.)
pub(super) fn placeholders(dialect: Dialect, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 6);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            push_param(&mut out, dialect, row * columns + column + 1);
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Dialect;

    #[test]
    fn placeholders_are_numbered_row_by_row() {
        assert_eq!(super::placeholders(Dialect::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::placeholders(Dialect::Postgres, 1, 1), "($1)");
        assert_eq!(super::placeholders(Dialect::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }
}
