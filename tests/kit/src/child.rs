//! Campaigns whose device is a child process: the test binary run again on one ignored test,
//! reporting each save it saw succeed as a line on its standard output.

use std::io::Write;
use std::process::Command;

/// The running test binary, set to run only the ignored test `name` (single-threaded, output
/// not captured). The caller adds its environment and pipes.
pub fn rerun_ignored(name: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("the test executable's path"));
    c.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"]);
    c
}

/// Writes `line` to standard output and flushes it, so the parent has read it if the process is
/// killed right after. The first call's line may share a line with the harness's
/// `test NAME ... `; start with a line the parent ignores.
pub fn report(line: &str) {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}").expect("write to the parent");
    o.flush().expect("flush to the parent");
}
