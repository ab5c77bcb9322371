//! Configuration objects: typed documents with unique names and references.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchboard_model::{ConfigSpec, ObjectKind};

use crate::audit::{insert_audit, Actor};
use crate::{from_ms, now_ms, Store, StoreError};

/// A stored object: the spec plus what the store adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    pub id: String,
    /// Starts at 1, grows by one on every update.
    pub version: i64,
    /// Created by Switchboard itself; cannot be deleted.
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub spec: T,
}

/// An outgoing reference of an object being written: which field, which target id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub field: String,
    pub to_id: String,
}

/// An object that references another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub kind: ObjectKind,
    pub id: String,
    pub name: String,
    pub field: String,
}

/// Names compare case-insensitively: "Sales" and "sales" are one queue.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

const COLUMNS: &str = "id, version, builtin, created_at, updated_at, body";

fn decode<T: ConfigSpec>(row: &AnyRow) -> Result<Record<T>, StoreError> {
    let id: String = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    let spec = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("{} {id}: {e}", T::KIND)))?;
    Ok(Record {
        version: row.try_get("version")?,
        builtin: row.try_get::<i64, _>("builtin")? != 0,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        id,
        spec,
    })
}

fn to_json<T: ConfigSpec>(spec: &T) -> Result<String, StoreError> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The object as the audit log keeps it: secrets hidden, as the API shows it.
fn to_value<T: ConfigSpec>(record: &Record<T>) -> Value {
    let mut spec = record.spec.clone();
    spec.hide_secrets();
    serde_json::to_value(&spec).unwrap_or(Value::Null)
}

/// Turns the database's refusal into the conflict a person can act on.
fn explain<T: ConfigSpec>(err: sqlx::Error, spec: &T) -> StoreError {
    match StoreError::violation(&err) {
        Some(sqlx::error::ErrorKind::UniqueViolation) => StoreError::conflict(
            "name",
            format!(
                "a {} named '{}' already exists",
                T::KIND.label(),
                spec.name()
            ),
        ),
        Some(_) => StoreError::conflict(
            "references",
            "an object this one refers to was deleted meanwhile; try again",
        ),
        None => StoreError::Database(err),
    }
}

async fn write_refs(
    conn: &mut AnyConnection,
    from_id: &str,
    refs: &[Ref],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM object_refs WHERE from_id = $1")
        .bind(from_id)
        .execute(&mut *conn)
        .await?;
    for r in refs {
        sqlx::query(
            "INSERT INTO object_refs (from_id, field, to_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(from_id)
        .bind(&r.field)
        .bind(&r.to_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `lock` is appended to the SELECT: `FOR UPDATE` to hold the row until
/// the transaction ends (PostgreSQL), or empty.
async fn fetch<T: ConfigSpec>(
    conn: &mut AnyConnection,
    id_or_name: &str,
    lock: &str,
) -> Result<Option<Record<T>>, StoreError> {
    // An id wins over a name that happens to look like one.
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM objects WHERE kind = $1 AND (id = $2 OR name_key = $3) \
         ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1{lock}"
    ))
    .bind(T::KIND.as_str())
    .bind(id_or_name)
    .bind(name_key(id_or_name))
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

async fn referrers_of(conn: &mut AnyConnection, id: &str) -> Result<Vec<Referrer>, StoreError> {
    let rows = sqlx::query(
        "SELECT o.kind, o.id, o.name, r.field FROM object_refs r \
         JOIN objects o ON o.id = r.from_id WHERE r.to_id = $1 ORDER BY o.kind, o.name_key, r.field",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(Referrer {
                kind: ObjectKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown kind {kind}")))?,
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                field: row.try_get("field")?,
            })
        })
        .collect()
}

impl Store {
    /// Stores a new, already validated object with its resolved references,
    /// and audits it, in one transaction.
    pub async fn create<T: ConfigSpec>(
        &self,
        spec: T,
        refs: &[Ref],
        builtin: bool,
        actor: &Actor,
    ) -> Result<Record<T>, StoreError> {
        let mut tx = self.begin_write().await?;
        let record = insert(&mut tx, spec, refs, builtin).await?;
        insert_audit(
            &mut tx,
            actor,
            "create",
            T::KIND.as_str(),
            &record.id,
            record.spec.name(),
            None,
            Some(&to_value(&record)),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Creates a user and their password hash together: a user never exists
    /// without a way to sign in.
    pub async fn create_user(
        &self,
        spec: switchboard_model::User,
        refs: &[Ref],
        password_hash: &str,
        actor: &Actor,
    ) -> Result<Record<switchboard_model::User>, StoreError> {
        let mut tx = self.begin_write().await?;
        let record = insert(&mut tx, spec, refs, false).await?;
        crate::auth::upsert_password(&mut tx, &record.id, password_hash).await?;
        insert_audit(
            &mut tx,
            actor,
            "create",
            ObjectKind::User.as_str(),
            &record.id,
            &record.spec.username,
            None,
            Some(&to_value(&record)),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Replaces an object's spec and references. With `expected_version`, the
    /// update is refused if someone else changed the object first.
    pub async fn update<T: ConfigSpec>(
        &self,
        id: &str,
        spec: T,
        refs: &[Ref],
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<Record<T>, StoreError> {
        let mut tx = self.begin_write().await?;
        // The row stays locked (PostgreSQL) or the database write-locked
        // (SQLite) until commit, so concurrent updates queue rather than
        // overwrite each other.
        let before: Record<T> = fetch(&mut tx, id, self.row_lock())
            .await?
            .ok_or(StoreError::NotFound)?;
        if let Some(v) = expected_version.filter(|v| *v != before.version) {
            return Err(StoreError::conflict(
                "version",
                format!(
                    "the {} changed since version {v}; it is now version {}",
                    T::KIND.label(),
                    before.version
                ),
            ));
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE objects SET name = $1, name_key = $2, body = $3, version = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(spec.name())
        .bind(name_key(spec.name()))
        .bind(to_json(&spec)?)
        .bind(before.version + 1)
        .bind(now)
        .bind(&before.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| explain(e, &spec))?;
        write_refs(&mut tx, &before.id, refs)
            .await
            .map_err(|e| explain(e, &spec))?;
        let after = Record {
            id: before.id.clone(),
            version: before.version + 1,
            builtin: before.builtin,
            created_at: before.created_at,
            updated_at: from_ms(now),
            spec,
        };
        insert_audit(
            &mut tx,
            actor,
            "update",
            T::KIND.as_str(),
            &after.id,
            after.spec.name(),
            Some(&to_value(&before)),
            Some(&to_value(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes an object that nothing references. Refused, naming the
    /// referrers, while anything still does; built-in objects are never deleted.
    pub async fn delete<T: ConfigSpec>(
        &self,
        id_or_name: &str,
        actor: &Actor,
    ) -> Result<Record<T>, StoreError> {
        let mut tx = self.begin_write().await?;
        let record: Record<T> = fetch(&mut tx, id_or_name, self.row_lock())
            .await?
            .ok_or(StoreError::NotFound)?;
        if record.builtin {
            return Err(StoreError::conflict(
                "id",
                format!("'{}' is built in and cannot be deleted", record.spec.name()),
            ));
        }
        let referrers = referrers_of(&mut tx, &record.id).await?;
        if !referrers.is_empty() {
            let list: Vec<String> = referrers
                .iter()
                .map(|r| format!("{} '{}' ({})", r.kind.label(), r.name, r.field))
                .collect();
            return Err(StoreError::conflict(
                "id",
                format!(
                    "{} '{}' is still used by {}",
                    T::KIND.label(),
                    record.spec.name(),
                    list.join(", ")
                ),
            ));
        }
        sqlx::query("DELETE FROM objects WHERE id = $1")
            .bind(&record.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::violation(&e) {
                // Someone added a reference between our check and the delete.
                Some(_) => StoreError::conflict("id", "it became referenced meanwhile; try again"),
                None => StoreError::Database(e),
            })?;
        insert_audit(
            &mut tx,
            actor,
            "delete",
            T::KIND.as_str(),
            &record.id,
            record.spec.name(),
            Some(&to_value(&record)),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// One object by id or (case-insensitive) name.
    pub async fn get<T: ConfigSpec>(
        &self,
        id_or_name: &str,
    ) -> Result<Option<Record<T>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, id_or_name, "").await
    }

    /// Every object of a kind, by name.
    pub async fn list<T: ConfigSpec>(&self) -> Result<Vec<Record<T>>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM objects WHERE kind = $1 ORDER BY name_key"
        ))
        .bind(T::KIND.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// One page of a kind's objects by name: at most `limit` after the name
    /// key `after`, those whose name contains `search` (any case) if given.
    /// Also returns the cursor of the next page when there is one.
    pub async fn list_page<T: ConfigSpec>(
        &self,
        limit: usize,
        after: Option<&str>,
        search: Option<&str>,
    ) -> Result<(Vec<Record<T>>, Option<String>), StoreError> {
        // Clauses added only when given: PostgreSQL cannot type a NULL
        // parameter tested with IS NULL.
        let mut sql = format!("SELECT {COLUMNS}, name_key FROM objects WHERE kind = $1");
        let mut n = 1;
        if after.is_some() {
            n += 1;
            sql.push_str(&format!(" AND name_key > ${n}"));
        }
        if search.is_some() {
            n += 1;
            sql.push_str(&format!(" AND name_key LIKE ${n} ESCAPE '\\'"));
        }
        sql.push_str(&format!(" ORDER BY name_key LIMIT {}", limit + 1));
        let mut query = sqlx::query(&sql).bind(T::KIND.as_str());
        if let Some(after) = after {
            query = query.bind(after.to_string());
        }
        if let Some(search) = search {
            // The text itself, not a pattern: LIKE's wildcards are escaped.
            let escaped = name_key(search)
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            query = query.bind(format!("%{escaped}%"));
        }
        let rows = query.fetch_all(&self.pool).await?;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let next = if more {
            rows.last()
                .map(|r| r.try_get::<String, _>("name_key"))
                .transpose()?
        } else {
            None
        };
        Ok((rows.iter().map(decode).collect::<Result<_, _>>()?, next))
    }

    /// The id of the object of `kind` with this id or name.
    pub async fn resolve(
        &self,
        kind: ObjectKind,
        id_or_name: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM objects WHERE kind = $1 AND (id = $2 OR name_key = $3) \
             ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(id_or_name)
        .bind(name_key(id_or_name))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Objects that reference the object `id`.
    pub async fn referrers(&self, id: &str) -> Result<Vec<Referrer>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        referrers_of(&mut conn, id).await
    }

    /// How many objects of a kind exist.
    pub async fn count(&self, kind: ObjectKind) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM objects WHERE kind = $1")
            .bind(kind.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

async fn insert<T: ConfigSpec>(
    conn: &mut AnyConnection,
    spec: T,
    refs: &[Ref],
    builtin: bool,
) -> Result<Record<T>, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO objects (kind, name, name_key, version, created_at, updated_at, id, builtin, body) \
         VALUES ($1, $2, $3, 1, $4, $4, $5, $6, $7)",
    )
    .bind(T::KIND.as_str())
    .bind(spec.name())
    .bind(name_key(spec.name()))
    .bind(now)
    .bind(&id)
    .bind(i64::from(builtin))
    .bind(to_json(&spec)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| explain(e, &spec))?;
    write_refs(conn, &id, refs)
        .await
        .map_err(|e| explain(e, &spec))?;
    Ok(Record {
        id,
        version: 1,
        builtin,
        created_at: from_ms(now),
        updated_at: from_ms(now),
        spec,
    })
}

impl Store {
    /// Resolves every reference of `spec` (given by id or name) to an id, in
    /// place, and returns them as rows to store. A reference to nothing is a
    /// field error, all of them reported together.
    pub async fn resolve_refs<T: ConfigSpec>(
        &self,
        spec: &mut T,
    ) -> Result<Result<Vec<Ref>, Vec<switchboard_model::FieldError>>, StoreError> {
        let mut refs = Vec::new();
        let mut missing = Vec::new();
        for slot in spec.references_mut() {
            match self.resolve(slot.kind, slot.value).await? {
                Some(id) => {
                    *slot.value = id.clone();
                    refs.push(Ref {
                        field: slot.field,
                        to_id: id,
                    });
                }
                None => missing.push(switchboard_model::FieldError::new(
                    slot.field,
                    format!("no {} with id or name '{}'", slot.kind.label(), slot.value),
                )),
            }
        }
        Ok(if missing.is_empty() {
            Ok(refs)
        } else {
            Err(missing)
        })
    }
}
