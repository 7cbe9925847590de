//! The step chain: the compiled `cleaner.steps` of a pipeline.

use super::condition::Condition;
use super::{Step, StepOutcome};
use crate::event::Event;
use std::fmt;

/// What became of an event after the whole chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// Deliver it to the sink.
    Keep,
    /// A step dropped it deliberately (counted, not delivered).
    Dropped {
        /// The step that dropped it.
        step: String,
    },
    /// Send it to the dead-letter topic.
    DeadLetter {
        /// The step that refused it.
        step: String,
        /// Why.
        reason: String,
    },
}

struct Link {
    name: String,
    condition: Option<Condition>,
    step: Box<dyn Step>,
}

/// An ordered list of steps, each with an optional condition. `Send + Sync`: share one behind
/// an `Arc` between worker tasks.
#[derive(Default)]
pub struct Cleaner {
    links: Vec<Link>,
}

impl fmt::Debug for Cleaner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.links.iter().map(|l| &l.name))
            .finish()
    }
}

impl Cleaner {
    /// An empty chain (keeps every event unchanged).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `step`, named `name` in dead letters and metrics, run only on events for which
    /// `condition` holds (always when `None`).
    pub fn push(
        &mut self,
        name: impl Into<String>,
        condition: Option<Condition>,
        step: Box<dyn Step>,
    ) {
        self.links.push(Link {
            name: name.into(),
            condition,
            step,
        });
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// True if there are no steps.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The steps' names, in order.
    pub fn step_names(&self) -> impl Iterator<Item = &str> {
        self.links.iter().map(|l| l.name.as_str())
    }

    /// Runs every step on `event` in order, stopping at the first that drops or dead-letters
    /// it. The event is modified in place (a dead-lettered event carries the changes of the
    /// steps before the failing one).
    pub fn process(&self, event: &mut Event) -> Processed {
        for link in &self.links {
            if let Some(c) = &link.condition
                && !c.eval(event)
            {
                continue;
            }
            match link.step.apply(event) {
                StepOutcome::Continue => {}
                StepOutcome::Drop => {
                    return Processed::Dropped {
                        step: link.name.clone(),
                    };
                }
                StepOutcome::DeadLetter(reason) => {
                    return Processed::DeadLetter {
                        step: link.name.clone(),
                        reason,
                    };
                }
            }
        }
        Processed::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaner::field::FieldPath;
    use crate::value;

    struct SetX;
    impl Step for SetX {
        fn name(&self) -> &str {
            "set_x"
        }
        fn apply(&self, e: &mut Event) -> StepOutcome {
            e.insert("x", value!(1));
            StepOutcome::Continue
        }
    }
    struct Fixed(StepOutcome);
    impl Step for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn apply(&self, _: &mut Event) -> StepOutcome {
            self.0.clone()
        }
    }

    #[test]
    fn runs_in_order_and_stops_at_drop_or_dead_letter() {
        let mut c = Cleaner::new();
        c.push("a", None, Box::new(SetX));
        c.push(
            "b",
            Some(Condition::Exists(FieldPath::new("y"))),
            Box::new(Fixed(StepOutcome::Drop)),
        );
        c.push(
            "c",
            None,
            Box::new(Fixed(StepOutcome::DeadLetter("bad".into()))),
        );
        c.push("d", None, Box::new(Fixed(StepOutcome::Drop)));
        let mut e = Event::from_message("m");
        assert_eq!(
            c.process(&mut e),
            Processed::DeadLetter {
                step: "c".into(),
                reason: "bad".into()
            }
        );
        assert_eq!(e.fields["x"], value!(1));
        let mut e = Event::from_message("m");
        e.insert("y", value!(true));
        assert_eq!(c.process(&mut e), Processed::Dropped { step: "b".into() });
        assert_eq!(c.step_names().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(Cleaner::new().process(&mut e), Processed::Keep);
    }
}
