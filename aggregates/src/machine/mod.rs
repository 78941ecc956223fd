//! Machines: devices a license is activated on. Activation and deactivation are the license's
//! decisions (`license::machines`, where `machine.created` and `machine.deleted` are stored);
//! the Machine aggregate holds a machine's heartbeat lifecycle. Pings are observations (they
//! move the machine's deadline and are logged); only the transitions are events here: the first
//! ping of a life, a death, a resurrection and a reset.

pub mod heartbeat;

use crate::event_sink::EventSink;
use crate::license::MachineAttributes;
use crate::{DomainError, NoServices, Timestamp};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Commands on a machine: its own attributes and its heartbeat. The API decides from the
/// machine's heartbeat status which one a ping is; the aggregate keeps each transition to once
/// per life.
#[derive(Debug, Clone)]
pub enum MachineCommand {
    /// Changes the machine's own attributes (snake_case `changes` over its current ones;
    /// `activated` are those it was activated with, which the license's stream holds).
    Update {
        activated: MachineAttributes,
        changes: serde_json::Map<String, serde_json::Value>,
        at: Timestamp,
    },
    /// A ping: starts the heartbeat when it has not started in this life (else changes nothing).
    Ping { at: Timestamp },
    /// A ping that revives a dead machine (the policy's resurrection strategy allowed it).
    Resurrect { at: Timestamp },
    /// The heartbeat stops being monitored until the next ping.
    Reset { at: Timestamp },
    /// The machine's deadline passed without a ping (decided by a worker).
    Die { at: Timestamp },
}

/// What happened to a machine's heartbeat, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MachineEvent {
    #[serde(rename = "machine.updated")]
    Updated {
        attributes: MachineAttributes,
        at: Timestamp,
    },
    #[serde(rename = "machine.heartbeat.ping")]
    HeartbeatStarted { at: Timestamp },
    #[serde(rename = "machine.heartbeat.resurrected")]
    Resurrected { at: Timestamp },
    #[serde(rename = "machine.heartbeat.reset")]
    HeartbeatReset { at: Timestamp },
    #[serde(rename = "machine.heartbeat.dead")]
    Died { at: Timestamp },
}

impl DomainEvent for MachineEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Updated { .. } => "machine.updated",
            Self::HeartbeatStarted { .. } => "machine.heartbeat.ping",
            Self::Resurrected { .. } => "machine.heartbeat.resurrected",
            Self::HeartbeatReset { .. } => "machine.heartbeat.reset",
            Self::Died { .. } => "machine.heartbeat.dead",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

/// A machine's own attributes (once changed) and heartbeat lifecycle.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Its attributes since its first update (before that, those it was activated with).
    pub attributes: Option<MachineAttributes>,
    /// The heartbeat started in this life (a ping since creation or the last reset).
    pub started: bool,
    /// Dead, and not revived since.
    pub dead: bool,
}

impl Machine {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "machine";
}

impl Aggregate for Machine {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = MachineCommand;
    type Event = MachineEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            MachineCommand::Update { activated, changes, at } => {
                let current = self.attributes.clone().unwrap_or(activated);
                let attributes = current.merged(&changes)?;
                attributes.validate()?;
                Some(MachineEvent::Updated { attributes, at })
            }
            MachineCommand::Ping { .. } if self.dead => {
                return Err(DomainError::unprocessable(
                    "MACHINE_HEARTBEAT_DEAD",
                    "is dead",
                    crate::Subject::Data,
                ))
            }
            MachineCommand::Ping { at } => (!self.started).then_some(MachineEvent::HeartbeatStarted { at }),
            MachineCommand::Resurrect { at } => Some(MachineEvent::Resurrected { at }),
            MachineCommand::Reset { at } => Some(MachineEvent::HeartbeatReset { at }),
            MachineCommand::Die { at } => (!self.dead).then_some(MachineEvent::Died { at }),
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            MachineEvent::HeartbeatStarted { .. } | MachineEvent::Resurrected { .. } => {
                self.started = true;
                self.dead = false;
            }
            MachineEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            MachineEvent::HeartbeatReset { .. } => {
                self.started = false;
                self.dead = false;
            }
            MachineEvent::Died { .. } => self.dead = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn at() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn only_the_first_ping_of_a_life_is_an_event() {
        TestFramework::<Machine>::with(NoServices)
            .given_no_previous_events()
            .when(MachineCommand::Ping { at: at() })
            .then_expect_events(vec![MachineEvent::HeartbeatStarted { at: at() }]);
        TestFramework::<Machine>::with(NoServices)
            .given(vec![MachineEvent::HeartbeatStarted { at: at() }])
            .when(MachineCommand::Ping { at: at() })
            .then_expect_events(vec![]);
        TestFramework::<Machine>::with(NoServices)
            .given(vec![
                MachineEvent::HeartbeatStarted { at: at() },
                MachineEvent::HeartbeatReset { at: at() },
            ])
            .when(MachineCommand::Ping { at: at() })
            .then_expect_events(vec![MachineEvent::HeartbeatStarted { at: at() }]);
    }

    #[test]
    fn a_machine_dies_once_per_life_and_a_dead_one_is_pinged_only_back_to_life() {
        TestFramework::<Machine>::with(NoServices)
            .given(vec![MachineEvent::Died { at: at() }])
            .when(MachineCommand::Die { at: at() })
            .then_expect_events(vec![]);
        TestFramework::<Machine>::with(NoServices)
            .given(vec![MachineEvent::Died { at: at() }])
            .when(MachineCommand::Ping { at: at() })
            .then_expect_error_message("MACHINE_HEARTBEAT_DEAD: is dead");
        TestFramework::<Machine>::with(NoServices)
            .given(vec![
                MachineEvent::Died { at: at() },
                MachineEvent::Resurrected { at: at() },
            ])
            .when(MachineCommand::Die { at: at() })
            .then_expect_events(vec![MachineEvent::Died { at: at() }]);
    }
}
