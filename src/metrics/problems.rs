//! The last warnings and errors the process logged, for the status page: a `tracing` layer
//! beside the log's own that keeps the newest [`KEPT`] of them (time, level, text).

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// How many are kept.
pub const KEPT: usize = 20;

/// One warning or error.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// Unix milliseconds.
    pub at_ms: u128,
    pub level: &'static str,
    /// The message, then its fields as `name=value`.
    pub text: String,
}

static RECENT: Mutex<VecDeque<Problem>> = Mutex::new(VecDeque::new());

/// The problems kept, oldest first.
pub fn recent() -> Vec<Problem> {
    let recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    recent.iter().cloned().collect()
}

/// The layer that keeps them.
pub struct Problems;

impl<S: Subscriber> Layer<S> for Problems {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        // More severe levels compare lower.
        if level > Level::WARN {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let problem = Problem {
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            level: if level == Level::ERROR {
                "ERROR"
            } else {
                "WARN"
            },
            text: text.finish(),
        };
        let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(problem);
    }
}

/// An event's message and fields as one line.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        format!("{}{}", self.message, self.fields)
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
