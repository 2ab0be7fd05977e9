//! Pure business rules: attribution, commission, bot detection, click IDs. No I/O here.

pub mod attribution;
pub mod bots;
pub mod click_id;
pub mod commission;
pub mod period;
