//! The `grok` step's YAML mapping. Until the grok step lands (branch `grok`), a `grok` step is
//! reported as unsupported.

use super::ConfigError;
use super::de::Ctx;
use super::plan::EcsMode;
use super::yaml::Node;
use crate::cleaner::Step;

/// Builds a `grok` step from its YAML body.
pub fn grok_step(body: &Node, path: &str, ctx: &Ctx<'_>, _ecs: EcsMode) -> Option<Box<dyn Step>> {
    ctx.push(ConfigError::Unsupported {
        at: ctx.at(body),
        path: path.to_string(),
        message: "the grok step is not available in this build yet".into(),
    });
    None
}
