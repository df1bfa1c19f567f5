//! Commands across hash slots, for a cluster destination: a cluster runs a command, and a
//! transaction, on the keys of one slot only, so a `MULTI` block or a command whose keys span
//! slots (`RENAME a b`, `SMOVE`, `LMOVE`, `SUNIONSTORE`…) is applied by its effect, as a
//! sequence of [`Step`]s that each write one slot. Pure: the steps are planned here and run by
//! `partition::cross_slot`.
//!
//! Each step is one transaction in its slot, with a mark of its own (so a step is applied once
//! even when the process dies between two of them); steps run in the order of the commands,
//! and a step that reads (a `DUMP`, an `LINDEX`) reads what the steps before it left. Readers
//! of the destination may see one slot's step before another's: only the whole block is not
//! atomic, each step is.

use slotstream_schemas::name::Name;
use slotstream_schemas::slot::key_slot;

/// One transaction in one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Commands as the source ran them (keys of this slot only).
    Run {
        slot: u16,
        commands: Vec<Vec<Vec<u8>>>,
    },
    /// `dst` takes `src`'s value and expiry (the first half of a `RENAME` or a `COPY`; `src`
    /// is read with `DUMP` and `PEXPIRETIME` just before).
    CopyValue {
        slot: u16,
        src: Vec<u8>,
        dst: Vec<u8>,
    },
    /// The element at one end of `src` pushed onto one end of `dst` (the first half of an
    /// `LMOVE`; the element is read with `LINDEX` just before).
    PushEnd {
        slot: u16,
        src: Vec<u8>,
        from_left: bool,
        dst: Vec<u8>,
        to_left: bool,
    },
    /// A command that writes one key from others (`SUNIONSTORE`, `BITOP`…), run in its
    /// destination key's slot with the inputs of other slots (argument indices `foreign`)
    /// copied there first under temporary keys, and deleted after.
    StoreFrom {
        slot: u16,
        command: Vec<Vec<u8>>,
        foreign: Vec<usize>,
    },
}

impl Step {
    /// The slot this step writes.
    pub fn slot(&self) -> u16 {
        match self {
            Step::Run { slot, .. }
            | Step::CopyValue { slot, .. }
            | Step::PushEnd { slot, .. }
            | Step::StoreFrom { slot, .. } => *slot,
        }
    }
}

/// A replicated command and the indices of its key arguments.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub args: Vec<Vec<u8>>,
    pub keys: Vec<usize>,
}

/// A command this module cannot apply by effect across slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotByEffect {
    /// The command's name.
    pub command: String,
    pub why: &'static str,
}

/// Commands that write their first key from the keys after it.
const STORES: &[&[u8]] = &[
    b"SINTERSTORE",
    b"SUNIONSTORE",
    b"SDIFFSTORE",
    b"ZUNIONSTORE",
    b"ZINTERSTORE",
    b"ZDIFFSTORE",
    b"ZRANGESTORE",
    b"BITOP",
    b"PFMERGE",
    b"GEOSEARCHSTORE",
];

/// The steps that apply `commands` (in order; `SELECT`s already taken out) on a cluster.
pub fn plan(commands: Vec<Keyed>) -> Result<Vec<Step>, NotByEffect> {
    let mut steps: Vec<Step> = Vec::new();
    for command in commands {
        for step in plan_one(command)? {
            push(&mut steps, step);
        }
    }
    Ok(steps)
}

/// Adds a step, joining it to the one before when both only run commands in the same slot.
fn push(steps: &mut Vec<Step>, step: Step) {
    if let (
        Some(Step::Run {
            slot: last,
            commands: before,
        }),
        Step::Run { slot, commands },
    ) = (steps.last_mut(), &step)
    {
        if *last == *slot {
            before.extend(commands.iter().cloned());
            return;
        }
    }
    steps.push(step);
}

fn plan_one(command: Keyed) -> Result<Vec<Step>, NotByEffect> {
    let Keyed { args, keys } = command;
    let name = Name::of_command(&args);
    let not = |why| NotByEffect {
        command: String::from_utf8_lossy(name.as_bytes()).into_owned(),
        why,
    };
    let Some(&first) = keys.first() else {
        return Err(not("it names no key, inside a block whose keys span slots"));
    };
    let slot_of = |index: usize| key_slot(&args[index]);
    if keys.iter().all(|&i| slot_of(i) == slot_of(first)) {
        return Ok(vec![run(slot_of(first), args)]);
    }
    let arg = |index: usize| {
        args.get(index)
            .cloned()
            .ok_or_else(|| not("too few arguments"))
    };
    let steps = match name.as_bytes() {
        b"MSET" | b"MSETNX" => split(&args, &keys, b"MSET", true),
        b"DEL" | b"UNLINK" | b"TOUCH" => split(&args, &keys, name.as_bytes(), false),
        b"SMOVE" => vec![
            run(slot_of(2), vec![b"SADD".to_vec(), arg(2)?, arg(3)?]),
            run(slot_of(1), vec![b"SREM".to_vec(), arg(1)?, arg(3)?]),
        ],
        b"RENAME" | b"RENAMENX" => vec![
            Step::CopyValue {
                slot: slot_of(2),
                src: arg(1)?,
                dst: arg(2)?,
            },
            run(slot_of(1), vec![b"DEL".to_vec(), arg(1)?]),
        ],
        b"COPY" if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"DB")) => {
            return Err(not(
                "a COPY into another database cannot be applied on a cluster",
            ))
        }
        b"COPY" => vec![Step::CopyValue {
            slot: slot_of(2),
            src: arg(1)?,
            dst: arg(2)?,
        }],
        b"RPOPLPUSH" | b"BRPOPLPUSH" => moved_element(&args, false, true)?,
        b"LMOVE" | b"BLMOVE" => {
            let side = |index: usize| -> Result<bool, NotByEffect> {
                match Name::of(&arg(index)?).as_bytes() {
                    b"LEFT" => Ok(true),
                    b"RIGHT" => Ok(false),
                    _ => Err(not("a side other than LEFT or RIGHT")),
                }
            };
            moved_element(&args, side(3)?, side(4)?)?
        }
        stores if STORES.contains(&stores) => vec![store_from(args, &keys, first)],
        b"GEORADIUS" | b"GEORADIUSBYMEMBER" => {
            // The key written is the one after STORE or STOREDIST: the last key.
            let last = *keys.last().unwrap_or(&first);
            vec![store_from(args, &keys, last)]
        }
        b"SORT"
            if args
                .iter()
                .any(|a| matches!(Name::of(a).as_bytes(), b"BY" | b"GET")) =>
        {
            return Err(not(
                "its BY or GET patterns read keys it does not name, in slots no transaction \
                 can reach",
            ))
        }
        b"SORT" => {
            // `SORT key … STORE dst`: the key written is the last one.
            let last = *keys.last().unwrap_or(&first);
            vec![store_from(args, &keys, last)]
        }
        _ => return Err(not("no effect of it across slots is known to slotstream")),
    };
    Ok(steps)
}

fn run(slot: u16, command: Vec<Vec<u8>>) -> Step {
    Step::Run {
        slot,
        commands: vec![command],
    }
}

/// `name` with the keys of each slot (and each key's value, when `pairs`), one command per
/// slot, in the order their first keys come.
fn split(args: &[Vec<u8>], keys: &[usize], name: &[u8], pairs: bool) -> Vec<Step> {
    let mut parts: Vec<(u16, Vec<Vec<u8>>)> = Vec::new();
    for &index in keys {
        let slot = key_slot(&args[index]);
        let at = match parts.iter().position(|(s, _)| *s == slot) {
            Some(at) => at,
            None => {
                parts.push((slot, vec![name.to_vec()]));
                parts.len() - 1
            }
        };
        parts[at].1.push(args[index].clone());
        if pairs {
            if let Some(value) = args.get(index + 1) {
                parts[at].1.push(value.clone());
            }
        }
    }
    parts
        .into_iter()
        .map(|(slot, command)| run(slot, command))
        .collect()
}

/// `LMOVE src dst` as its two halves: push onto `dst`, then pop from `src`.
fn moved_element(
    args: &[Vec<u8>],
    from_left: bool,
    to_left: bool,
) -> Result<Vec<Step>, NotByEffect> {
    let (Some(src), Some(dst)) = (args.get(1), args.get(2)) else {
        return Err(NotByEffect {
            command: String::from_utf8_lossy(&args[0]).into_owned(),
            why: "too few arguments",
        });
    };
    let pop: &[u8] = if from_left { b"LPOP" } else { b"RPOP" };
    Ok(vec![
        Step::PushEnd {
            slot: key_slot(dst),
            src: src.clone(),
            from_left,
            dst: dst.clone(),
            to_left,
        },
        run(key_slot(src), vec![pop.to_vec(), src.clone()]),
    ])
}

fn store_from(args: Vec<Vec<u8>>, keys: &[usize], written: usize) -> Step {
    let slot = key_slot(&args[written]);
    let foreign = keys
        .iter()
        .copied()
        .filter(|&i| key_slot(&args[i]) != slot)
        .collect();
    Step::StoreFrom {
        slot,
        command: args,
        foreign,
    }
}

/// The indices of `keys` (as `COMMAND GETKEYS` names them, in order) among `args`.
pub fn key_indices(args: &[Vec<u8>], keys: &[Vec<u8>]) -> Option<Vec<usize>> {
    let mut indices = Vec::with_capacity(keys.len());
    let mut from = 1;
    for key in keys {
        let at = from + args.get(from..)?.iter().position(|a| a == key)?;
        indices.push(at);
        from = at + 1;
    }
    Some(indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(parts: &[&str], keys: &[usize]) -> Keyed {
        Keyed {
            args: parts.iter().map(|p| p.as_bytes().to_vec()).collect(),
            keys: keys.to_vec(),
        }
    }

    fn args(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn slot(key: &str) -> u16 {
        key_slot(key.as_bytes())
    }

    #[test]
    fn one_slot_commands_run_as_they_are_and_join_their_neighbours() {
        let steps = plan(vec![
            keyed(&["INCR", "{a}x"], &[1]),
            keyed(&["LPUSH", "{a}y", "1"], &[1]),
            keyed(&["INCR", "b"], &[1]),
        ])
        .unwrap();
        assert_eq!(
            steps,
            [
                Step::Run {
                    slot: slot("a"),
                    commands: vec![args(&["INCR", "{a}x"]), args(&["LPUSH", "{a}y", "1"])],
                },
                run(slot("b"), args(&["INCR", "b"])),
            ]
        );
    }

    #[test]
    fn moves_write_the_destination_first_then_take_from_the_source() {
        assert_eq!(
            plan(vec![keyed(&["RENAME", "a", "b"], &[1, 2])]).unwrap(),
            [
                Step::CopyValue {
                    slot: slot("b"),
                    src: b"a".to_vec(),
                    dst: b"b".to_vec(),
                },
                run(slot("a"), args(&["DEL", "a"])),
            ]
        );
        assert_eq!(
            plan(vec![keyed(&["SMOVE", "a", "b", "m"], &[1, 2])]).unwrap(),
            [
                run(slot("b"), args(&["SADD", "b", "m"])),
                run(slot("a"), args(&["SREM", "a", "m"])),
            ]
        );
        assert_eq!(
            plan(vec![keyed(&["LMOVE", "a", "b", "left", "RIGHT"], &[1, 2])]).unwrap(),
            [
                Step::PushEnd {
                    slot: slot("b"),
                    src: b"a".to_vec(),
                    from_left: true,
                    dst: b"b".to_vec(),
                    to_left: false,
                },
                run(slot("a"), args(&["LPOP", "a"])),
            ]
        );
    }

    #[test]
    fn multi_key_writes_split_by_slot_and_stores_copy_their_inputs() {
        assert_eq!(
            plan(vec![keyed(
                &["MSETNX", "a", "1", "b", "2", "{a}c", "3"],
                &[1, 3, 5]
            )])
            .unwrap(),
            [
                run(slot("a"), args(&["MSET", "a", "1", "{a}c", "3"])),
                run(slot("b"), args(&["MSET", "b", "2"])),
            ]
        );
        assert_eq!(
            plan(vec![keyed(&["SUNIONSTORE", "d", "{d}x", "a"], &[1, 2, 3])]).unwrap(),
            [Step::StoreFrom {
                slot: slot("d"),
                command: args(&["SUNIONSTORE", "d", "{d}x", "a"]),
                foreign: vec![3],
            }]
        );
    }

    #[test]
    fn what_has_no_known_effect_is_named() {
        let err = plan(vec![keyed(
            &["SORT", "a", "BY", "w_*", "STORE", "b"],
            &[1, 5],
        )])
        .unwrap_err();
        assert_eq!(err.command, "SORT");
        assert_eq!(
            plan(vec![keyed(&["SORT", "a", "DESC", "STORE", "b"], &[1, 4])]).unwrap(),
            [Step::StoreFrom {
                slot: slot("b"),
                command: args(&["SORT", "a", "DESC", "STORE", "b"]),
                foreign: vec![1],
            }]
        );
        let err = plan(vec![keyed(&["COPY", "a", "b", "DB", "2"], &[1, 2])]).unwrap_err();
        assert!(err.why.contains("another database"), "{err:?}");
        let err = plan(vec![keyed(&["FLUSHALL"], &[])]).unwrap_err();
        assert_eq!(err.command, "FLUSHALL");
    }

    #[test]
    fn finds_key_indices_in_order() {
        let command = args(&["ZUNIONSTORE", "d", "2", "d", "s", "WEIGHTS", "1", "2"]);
        let keys = args(&["d", "d", "s"]);
        assert_eq!(key_indices(&command, &keys), Some(vec![1, 3, 4]));
        assert_eq!(key_indices(&command, &args(&["nope"])), None);
    }
}
