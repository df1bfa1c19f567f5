//! The randomness of a fault run: one seed (fixed, or `SLOTSTREAM_FAULT_SEED`), printed so a
//! failure can be replayed, and the number of kills per role (`SLOTSTREAM_FAULT_KILLS`).

/// The seed CI uses when none is given.
const DEFAULT_SEED: u64 = 0x5107_fa17_0000_0014;
/// Kills per role when `SLOTSTREAM_FAULT_KILLS` is not set.
const DEFAULT_KILLS: usize = 20;

/// The run's seed, printed with how to replay it.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("SLOTSTREAM_FAULT_SEED")
        .ok()
        .map(|text| parse(&text))
        .unwrap_or(DEFAULT_SEED);
    eprintln!("{test}: fault seed {seed} (replay with SLOTSTREAM_FAULT_SEED={seed})");
    seed
}

/// Kills per role.
pub fn kills() -> usize {
    std::env::var("SLOTSTREAM_FAULT_KILLS")
        .ok()
        .map(|text| {
            text.trim()
                .parse()
                .unwrap_or_else(|_| panic!("SLOTSTREAM_FAULT_KILLS={text:?} is not a count"))
        })
        .unwrap_or(DEFAULT_KILLS)
}

fn parse(text: &str) -> u64 {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("SLOTSTREAM_FAULT_SEED={text:?} is not a number"))
}

/// SplitMix64 over the seed.
pub struct Chance(u64);

impl Chance {
    pub fn new(seed: u64) -> Chance {
        Chance(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration of `low..high` milliseconds.
    pub fn ms(&mut self, low: u64, high: u64) -> std::time::Duration {
        std::time::Duration::from_millis(low + self.next_u64() % (high - low).max(1))
    }
}
