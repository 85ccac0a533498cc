//! Named operators and their roles.

use super::{Result, Tx, exec, on};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct OperatorRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl Tx {
    pub async fn operator_by_name(&mut self, name: &str) -> Result<Option<OperatorRow>> {
        let sql = "SELECT id, name, role, created_at, created_by FROM operators WHERE name = $1";
        Ok(on!(self, c => sqlx::query_as::<_, OperatorRow>(sql).bind(name).fetch_optional(c))?)
    }

    pub async fn operators(&mut self) -> Result<Vec<OperatorRow>> {
        let sql = "SELECT id, name, role, created_at, created_by FROM operators ORDER BY name";
        Ok(on!(self, c => sqlx::query_as::<_, OperatorRow>(sql).fetch_all(c))?)
    }

    pub async fn count_operators(&mut self) -> Result<i64> {
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM operators").fetch_one(c))?)
    }

    pub async fn insert_operator(&mut self, name: &str, role: &str, now: DateTime<Utc>, by: &str) -> Result<i64> {
        let sql = "INSERT INTO operators (name, role, created_at, created_by) VALUES ($1, $2, $3, $4) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(name).bind(role).bind(now).bind(by).fetch_one(c))?)
    }

    pub async fn count_operators_with_role(&mut self, role: &str) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM operators WHERE role = $1";
        Ok(on!(self, c => sqlx::query_scalar::<_, i64>(sql).bind(role).fetch_one(c))?)
    }

    pub async fn set_operator_role(&mut self, id: i64, role: &str) -> Result<bool> {
        let sql = "UPDATE operators SET role = $2 WHERE id = $1";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).bind(role).execute(c))? == 1)
    }

    /// Deletes an operator row; its tokens must be gone first (the
    /// foreign key says so). Events keep its name: they hold it as text.
    pub async fn delete_operator(&mut self, id: i64) -> Result<bool> {
        let sql = "DELETE FROM operators WHERE id = $1";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).execute(c))? == 1)
    }
}
