//! Pure business rules: attribution, commission and its split, ledger balances, fraud signals,
//! bot detection, click IDs. No I/O here.

pub mod attribution;
pub mod bots;
pub mod click_id;
pub mod commission;
pub mod fraud;
pub mod ledger;
pub mod period;
pub mod split;
