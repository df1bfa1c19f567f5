//! What a test does about a server binary it needs but cannot find: in CI (`CI=true`) the test
//! fails, elsewhere it is skipped with a note saying why.

use std::path::Path;

/// Whether this run is CI, where nothing may be skipped: `CI=true`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
}

/// Reports that `binary` is not in `searched`, with the command that installs it: panics in CI,
/// prints a note otherwise (the caller then returns, skipping its test).
pub fn report(binary: &str, searched: &Path, install: &str) {
    let message = format!(
        "{binary} is not installed in {} (install it with `{install}`)",
        searched.display()
    );
    if in_ci() {
        panic!("{message}; CI=true, so a missing server fails the test");
    }
    eprintln!("note: skipped: {message}");
}
