//! Keys of module types (JSON, Bloom, TimeSeries, ...): compared with the module's own reader
//! where one is known, else by their `DUMP` payloads.

use crate::compare::Outcome;
use crate::error::VerifyError;
use crate::side::Side;
use redis::aio::MultiplexedConnection;
use redis::Value;

/// Content readers for module types, by `TYPE` name: the command is sent as `COMMAND key` and
/// the replies compared as they are. Types not listed here are compared by their `DUMP` payload.
/// To support another module type, add a row.
const MODULE_READERS: &[(&str, &str)] = &[("ReJSON-RL", "JSON.GET")];

/// Compares a key of a module type: with its reader when one is known, else by `DUMP` payload.
pub async fn compare_module(
    sides: (&Side, &Side),
    conns: (&mut MultiplexedConnection, &mut MultiplexedConnection),
    key: &[u8],
    type_name: &str,
) -> Result<Outcome, VerifyError> {
    let (source, target) = sides;
    let (src_conn, tgt_conn) = conns;
    if let Some((_, command)) = MODULE_READERS.iter().find(|(name, _)| *name == type_name) {
        let read = |conn: &mut MultiplexedConnection| {
            let cmd = redis::cmd(command).arg(key).clone();
            let mut conn = conn.clone();
            async move { cmd.query_async::<Value>(&mut conn).await }
        };
        let (a, b) = tokio::join!(read(src_conn), read(tgt_conn));
        match (a, b) {
            (Ok(Value::Nil), _) | (_, Ok(Value::Nil)) => return Ok(Outcome::Vanished),
            (Ok(a), Ok(b)) if a == b => return Ok(Outcome::Same),
            (Ok(_), Ok(_)) => {
                return Ok(Outcome::Differs(format!(
                    "{type_name} value differs ({command})"
                )))
            }
            // The reader may be missing on one side (module not loaded): fall back to DUMP.
            _ => {}
        }
    }
    let dump = |conn: &mut MultiplexedConnection| {
        let cmd = redis::cmd("DUMP").arg(key).clone();
        let mut conn = conn.clone();
        async move { cmd.query_async::<Option<Vec<u8>>>(&mut conn).await }
    };
    let (a, b) = tokio::join!(dump(src_conn), dump(tgt_conn));
    let a = a.map_err(|err| source.explain(err))?;
    let b = b.map_err(|err| target.explain(err))?;
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(Outcome::Vanished);
    };
    // The last 10 bytes are the RDB version and a CRC64; the payload before them is the value.
    let body = |payload: &[u8]| payload[..payload.len().saturating_sub(10)].to_vec();
    Ok(if body(&a) == body(&b) {
        Outcome::Same
    } else {
        Outcome::Warning(format!(
            "{type_name}: DUMP payloads differ (module or RDB version?); compared the type only"
        ))
    })
}
