//! Machines: devices a license is activated on. Activation and deactivation are the license's
//! decisions (`license::machines`); this module holds the rules of a machine's own lifecycle,
//! starting with its heartbeat status.

pub mod heartbeat;
