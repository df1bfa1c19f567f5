//! The source's command table: case-insensitive lookup by name (and subcommand), the flags the
//! routing needs, and where each command's keys are.

use super::legacy::Rule;
use super::parse;
use super::spec::KeySpec;
use super::KeysError;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Longest name looked up through a stack buffer; no real command name comes close.
const STACK_NAME: usize = 64;

/// Names (lower case) to entries. Names are short and trusted (they come from the source's
/// own table), so a plain FNV-1a hash beats the default DoS-resistant one here.
pub(crate) type NameMap<T> = HashMap<Box<[u8]>, T, BuildHasherDefault<Fnv>>;

/// What the source told us about its commands, loaded once per connection to the source.
#[derive(Debug, Clone)]
pub struct CommandTable {
    commands: NameMap<CommandInfo>,
}

/// One command (or subcommand) of the table.
#[derive(Debug, Clone)]
pub struct CommandInfo {
    /// Lower-case name; a subcommand is `container|sub`, as Redis 7.0+ spells it.
    pub name: String,
    /// Argument count including the name: `n` exactly, `-n` at least `n`.
    pub arity: i64,
    /// The flags as the table lists them, lower case (`write`, `denyoom`, `movablekeys`, …).
    pub flags: Vec<String>,
    /// Flagged `write`. On 7.0+ a container such as `XGROUP` has no flags of its own: look at
    /// the subcommand ([`CommandTable::info_for`]).
    pub is_write: bool,
    /// Flagged `readonly`.
    pub is_readonly: bool,
    /// Flagged `movablekeys`: key positions depend on the arguments.
    pub movable_keys: bool,
    /// Flagged `may_replicate` (scripts and functions on 6.2+).
    pub may_replicate: bool,
    /// Never has key arguments (`FLUSHALL`, `SELECT`, `PUBLISH`, `FUNCTION|LOAD`, …). False for
    /// a 7.0+ container, whose subcommands decide.
    pub no_keys: bool,
    pub(crate) keys: KeySource,
    pub(crate) subcommands: NameMap<CommandInfo>,
}

/// Where one command's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// The command has no keys.
    None,
    /// Key specs (7.0+), or first/last/step turned into one spec (older servers).
    Specs(Box<[KeySpec]>),
    /// An explicit rule for a movable-keys command.
    Rule(Rule),
    /// Movable keys that nothing describes; the reason, for the error.
    Unsupported(&'static str),
}

impl CommandTable {
    /// Loads with `COMMAND` over a plain blocking connection. One round trip is enough on
    /// every version: 7.0+ puts key specs and subcommands in the same reply.
    pub fn load(conn: &mut redis::Connection) -> Result<Self, KeysError> {
        let reply: redis::Value = redis::cmd("COMMAND").query(conn)?;
        Self::from_command_reply(&reply)
    }

    /// Builds a table from a `COMMAND` (or `COMMAND INFO …`) reply already read.
    pub fn from_command_reply(reply: &redis::Value) -> Result<Self, KeysError> {
        let entries = parse::list(reply)
            .ok_or_else(|| KeysError::bad_table("COMMAND", "the reply is not an array"))?;
        let mut commands = NameMap::default();
        for entry in entries {
            if let Some(info) = parse::entry(entry)? {
                commands.insert(info.name.as_bytes().into(), info);
            }
        }
        if commands.is_empty() {
            return Err(KeysError::bad_table(
                "COMMAND",
                "the reply lists no commands",
            ));
        }
        Ok(CommandTable { commands })
    }

    /// The key arguments of one replicated command (`args[0]` is the command name, any case),
    /// as indices into `args`, in order and each once.
    pub fn key_indices(&self, args: &[Vec<u8>]) -> Result<Vec<usize>, KeysError> {
        let info = self.resolve(args)?;
        let mut out = Vec::new();
        info.keys.collect(&info.name, args, &mut out)?;
        Ok(out)
    }

    /// The entry for a name (any case); `container|sub` names a 7.0+ subcommand.
    pub fn info(&self, name: &[u8]) -> Option<&CommandInfo> {
        match name.iter().position(|&b| b == b'|') {
            Some(bar) => {
                let (container, sub) = (name.get(..bar)?, name.get(bar + 1..)?);
                lookup(&self.commands, container)?.subcommand(sub)
            }
            None => lookup(&self.commands, name),
        }
    }

    /// The entry that governs a whole command: its subcommand's when the table has
    /// subcommands for it (7.0+ `XGROUP CREATE`, `OBJECT ENCODING`, …).
    pub fn info_for(&self, args: &[Vec<u8>]) -> Option<&CommandInfo> {
        let info = lookup(&self.commands, args.first()?)?;
        // A container named alone (`XGROUP`) is its own entry, keyless like the server says.
        match args.get(1).filter(|_| !info.subcommands.is_empty()) {
            Some(sub) => info.subcommand(sub),
            None => Some(info),
        }
    }

    /// Number of top-level commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Always false for a loaded table (an empty reply is refused).
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Every top-level command, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &CommandInfo> {
        self.commands.values()
    }

    fn resolve(&self, args: &[Vec<u8>]) -> Result<&CommandInfo, KeysError> {
        if let Some(info) = self.info_for(args) {
            return Ok(info);
        }
        // Only errors get here: find which part of the name is unknown.
        let Some(name) = args.first() else {
            return Err(KeysError::malformed("(none)", "no arguments at all"));
        };
        let mut unknown = name_of(name);
        if lookup(&self.commands, name).is_some() {
            if let Some(sub) = args.get(1) {
                unknown = format!("{unknown} {}", name_of(sub));
            }
        }
        Err(KeysError::UnknownCommand(unknown))
    }
}

impl CommandInfo {
    /// Whether the table lists `flag` (lower case) for this command.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// A subcommand (any case), for containers on 7.0+.
    pub fn subcommand(&self, name: &[u8]) -> Option<&CommandInfo> {
        lookup(&self.subcommands, name)
    }

    /// The subcommands, in no particular order (none before 7.0).
    pub fn subcommands(&self) -> impl Iterator<Item = &CommandInfo> {
        self.subcommands.values()
    }

    pub(crate) fn new(
        name: String,
        arity: i64,
        flags: Vec<String>,
        keys: KeySource,
        subcommands: NameMap<CommandInfo>,
    ) -> Self {
        let has = |flag: &str| flags.iter().any(|f| f == flag);
        CommandInfo {
            is_write: has("write"),
            is_readonly: has("readonly"),
            movable_keys: has("movablekeys"),
            may_replicate: has("may_replicate"),
            no_keys: keys == KeySource::None && subcommands.is_empty(),
            name,
            arity,
            flags,
            keys,
            subcommands,
        }
    }
}

impl KeySource {
    fn collect(
        &self,
        command: &str,
        args: &[Vec<u8>],
        out: &mut Vec<usize>,
    ) -> Result<(), KeysError> {
        match self {
            KeySource::None => {}
            KeySource::Specs(specs) => {
                for spec in specs.iter() {
                    spec.collect(command, args, out)?;
                }
            }
            KeySource::Rule(rule) => rule.collect(command, args, out)?,
            KeySource::Unsupported(why) => {
                return Err(KeysError::Unsupported {
                    command: command.to_owned(),
                    why: (*why).to_owned(),
                })
            }
        }
        // Several specs can name the same argument (`RENAME k k` is two keys; a spec pair
        // may overlap) or come out of order (a destination listed after its sources).
        if !out.windows(2).all(|w| w[0] < w[1]) {
            out.sort_unstable();
            out.dedup();
        }
        Ok(())
    }
}

/// A name for an error message, cut short: an unknown "name" can be any argument.
fn name_of(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw.get(..STACK_NAME).unwrap_or(raw)).into_owned()
}

/// Looks `name` up in any case without allocating: lower-cased into a stack buffer.
fn lookup<'a, T>(map: &'a NameMap<T>, name: &[u8]) -> Option<&'a T> {
    let mut buf = [0u8; STACK_NAME];
    match buf.get_mut(..name.len()) {
        Some(lower) => {
            for (l, b) in lower.iter_mut().zip(name) {
                *l = b.to_ascii_lowercase();
            }
            map.get(&*lower)
        }
        // Longer than any command: a scan, still without allocating.
        None => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v),
    }
}

/// FNV-1a, 64 bits.
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
