//! The back office: what the merchant and partners manage and read — programs, partners, links
//! and keys (`admin`, and `edits` to change them), what a program pays on a sample order
//! (`preview`), applications from the sign-up page (`applications`), orders and hand-made credits
//! (`orders`), voids, early approvals and adjustments (`corrections`), promotional resources
//! (`resources`), figures and balances (`report`), payout runs (`payouts`), the Partner Center's
//! chart (`chart`), the merchant's webhooks and the partners' postbacks (`webhooks`). Called by the admin and partner routes and by the CLI alike.

pub mod admin;
pub mod applications;
pub mod chart;
pub mod corrections;
pub mod csv_text;
pub mod edits;
pub mod keys;
pub mod orders;
pub mod payouts;
pub mod preview;
pub mod report;
pub mod resources;
pub mod webhooks;
