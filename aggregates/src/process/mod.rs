//! Processes: programs running on a machine. Spawning and killing them are the license's
//! decisions (`license::processes`, where `process.created` and `process.deleted` are stored,
//! because `maxProcesses` counts across machines); the Process aggregate holds a process's
//! heartbeat lifecycle. A process beats from its start, and pings are observations; only the
//! transitions are events here: a death and a resurrection.

use crate::event_sink::EventSink;
use crate::{DomainError, NoServices, Timestamp};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Commands on a process's heartbeat. The API decides from the heartbeat's status which one a
/// ping is; the aggregate keeps a death to once per life.
#[derive(Debug, Clone)]
pub enum ProcessCommand {
    /// A ping that revives a dead process (the policy's resurrection strategy allowed it).
    Resurrect { at: Timestamp },
    /// The process's deadline passed without a ping (decided by a worker).
    Die { at: Timestamp },
}

/// What happened to a process's heartbeat, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProcessEvent {
    #[serde(rename = "process.heartbeat.resurrected")]
    Resurrected { at: Timestamp },
    #[serde(rename = "process.heartbeat.dead")]
    Died { at: Timestamp },
}

impl DomainEvent for ProcessEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Resurrected { .. } => "process.heartbeat.resurrected",
            Self::Died { .. } => "process.heartbeat.dead",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

/// A process's heartbeat lifecycle.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Process {
    /// Dead, and not revived since.
    pub dead: bool,
}

impl Process {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "process";
}

impl Aggregate for Process {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = ProcessCommand;
    type Event = ProcessEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ProcessCommand::Resurrect { at } => Some(ProcessEvent::Resurrected { at }),
            ProcessCommand::Die { at } => (!self.dead).then_some(ProcessEvent::Died { at }),
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.dead = matches!(event, ProcessEvent::Died { .. });
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
    fn a_process_dies_once_per_life() {
        TestFramework::<Process>::with(NoServices)
            .given_no_previous_events()
            .when(ProcessCommand::Die { at: at() })
            .then_expect_events(vec![ProcessEvent::Died { at: at() }]);
        TestFramework::<Process>::with(NoServices)
            .given(vec![ProcessEvent::Died { at: at() }])
            .when(ProcessCommand::Die { at: at() })
            .then_expect_events(vec![]);
        TestFramework::<Process>::with(NoServices)
            .given(vec![
                ProcessEvent::Died { at: at() },
                ProcessEvent::Resurrected { at: at() },
            ])
            .when(ProcessCommand::Die { at: at() })
            .then_expect_events(vec![ProcessEvent::Died { at: at() }]);
    }
}
