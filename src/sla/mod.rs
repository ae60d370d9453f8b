//! Service levels: policies with targets per priority, business hours with holidays, and the
//! clocks/timers that apply them to issues (the time arithmetic is `domain::time`).

pub mod engine;
pub mod panel;
pub mod timers;
