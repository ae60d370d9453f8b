//! Pure rules of FireLater: no I/O, no clock, no database. Everything here takes its inputs
//! (including `now` and time zones) as arguments so it can be tested exhaustively.

pub mod approvals;
pub mod catalog;
pub mod events;
pub mod fulfilment;
pub mod fuzzy;
pub mod ical;
pub mod identity;
pub mod issues;
pub mod notify;
pub mod requests;
pub mod sla;
pub mod time;
pub mod wording;
