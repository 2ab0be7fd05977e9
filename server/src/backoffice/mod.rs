//! The back office: what the merchant and partners manage and read — programs, partners, links
//! and keys (`admin`), figures and balances (`report`), payout runs (`payouts`), the Partner
//! Center's chart (`chart`). Called by the admin and partner routes and by the CLI alike.

pub mod admin;
pub mod chart;
pub mod csv_text;
pub mod keys;
pub mod payouts;
pub mod report;
