//! The cleaner (Logstash's filter stage): a list of steps run on each event.
//!
//! Steps are pure functions over events: no I/O, no clocks other than what an event carries
//! (except `date` reading the default timezone), so they are trivially unit-testable. The
//! pipeline runs them in worker tasks that form a consumer group on the pipeline's topic.

pub mod chain;
pub mod condition;
pub mod date;
pub mod error;
pub mod field;
pub mod grok;
pub mod json;
pub mod kv;
pub mod mutate;
pub mod regex_step;

pub use chain::{Cleaner, Processed};

use crate::event::Event;

/// What a step decided about an event.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Go on with the next step.
    Continue,
    /// Drop the event (deliberately, e.g. the `drop` step); it is counted, not delivered.
    Drop,
    /// Send the event to the dead-letter topic with this reason.
    DeadLetter(String),
}

/// One cleaning step.
pub trait Step: Send + Sync {
    /// The step's name as it appears in dead letters and metrics (`grok`, `date`, …).
    fn name(&self) -> &str;
    /// Applies the step to `event` in place.
    fn apply(&self, event: &mut Event) -> StepOutcome;
}

/// What a step does with an event it cannot process (`on_failure:` in YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Tag the event (e.g. `_grokparsefailure`) and go on. The default.
    #[default]
    Tag,
    /// Drop the event (counted in metrics).
    Drop,
    /// Send the event to the dead-letter topic.
    DeadLetter,
}
