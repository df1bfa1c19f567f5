//! What `--include-key`/`--exclude-key` and the database filters keep of a replicated command.

use super::Router;
use crate::error::CaptureError;
use slotstream_schemas::filter::Decision;
use slotstream_schemas::name::Name;

impl Router {
    /// What the filter keeps of one command run in `db` (`None`: nothing); a command it
    /// cannot cut exactly stops the capture, or is left out with a warning when asked.
    pub(super) fn keep(
        &self,
        name: &Name,
        db: u32,
        args: Vec<Vec<u8>>,
    ) -> Result<Option<Vec<Vec<u8>>>, CaptureError> {
        if self.filter.keeps_all() {
            return Ok(Some(args));
        }
        let decision = self
            .filter
            .replicated(name.as_bytes(), db, args, |args| self.key_indices(args))?;
        match decision {
            Decision::Keep(args) => Ok(Some(args)),
            Decision::Drop => Ok(None),
            Decision::Refuse(why) if self.filter.leave_out_refused => {
                tracing::warn!(source = %self.addr, db, "left out (--on-unsupported skip-with-warning): {why}");
                Ok(None)
            }
            Decision::Refuse(why) => Err(CaptureError::Filtered {
                addr: self.addr.clone(),
                what: format!(
                    "{why}; or pass --on-unsupported skip-with-warning to leave such commands out"
                ),
            }),
        }
    }
}
