//! Chat threads that hold a verdict, so replies in a thread find their investigation.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// Where a verdict was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRef {
    /// `slack`, `discord`, …
    pub platform: String,
    pub channel: String,
    pub thread_id: String,
}

impl Store {
    /// Remembers that `thread` holds `investigation_id` (a re-run may point it elsewhere).
    pub async fn link_thread(
        &self,
        thread: &ThreadRef,
        investigation_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_threads (platform, channel, thread_id, investigation_id, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (platform, channel, thread_id) DO UPDATE SET investigation_id = excluded.investigation_id",
        )
        .bind(&thread.platform)
        .bind(&thread.channel)
        .bind(&thread.thread_id)
        .bind(investigation_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The investigation a thread holds, if it holds one.
    pub async fn investigation_for_thread(
        &self,
        thread: &ThreadRef,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT investigation_id FROM chat_threads WHERE platform = $1 AND channel = $2 AND thread_id = $3")
            .bind(&thread.platform)
            .bind(&thread.channel)
            .bind(&thread.thread_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("investigation_id")).transpose()?)
    }
}
