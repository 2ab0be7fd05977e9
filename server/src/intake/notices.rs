//! A signed notice: a money event the connector could not apply, kept for the merchant. Idempotent
//! on the notice id.

use super::{replay, Intake, IntakeError};
use reftrack_protocol::Notice;

impl Intake {
    /// Records a notice once per notice id.
    pub async fn record_notice(&self, notice: Notice, body_hash: String) -> Result<String, IntakeError> {
        let answer = serde_json::json!({ "notice_id": notice.notice_id, "status": "recorded" }).to_string();
        let recorded = self.store.record_notice(&notice, &body_hash, &answer, self.clock.now_ms()).await?;
        replay(recorded.answer, &body_hash, "notice")
    }
}
