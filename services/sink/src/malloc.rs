//! The glibc malloc settings the sink runs with. glibc reads them only when
//! a process starts (and setting them from inside takes `mallopt`, i.e.
//! unsafe code), so the binary starts itself once more, in place, with them
//! added to `GLIBC_TUNABLES`.
//!
//! Why (docs/history.md, "Memory: the two modes, and the malloc
//! settings"): glibc raises its mmap threshold to the size of the largest
//! block freed so far (a block's posts, the JSON lines it writes:
//! megabytes), after which such blocks come from the heap, and whether the
//! heap can give them back depends on what was allocated next to them. The
//! sink's peak RSS then came in two modes ~3 MiB apart from run to run, and
//! ~5 MiB above what a fixed threshold gives, which hands big blocks back
//! to the system when they are freed. Two arenas bound the heaps of the
//! store writer's, tokio's and librdkafka's threads.

/// The tunables the sink adds (glibc's names; see `info libc Tunables`).
pub const TUNABLES: &str = "glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2";

/// The environment variable glibc reads its tunables from.
const KEY: &str = "GLIBC_TUNABLES";

/// Set on the restarted process, so it never restarts again.
const MARK: &str = "WEIBOSTREAM_SINK_MALLOC_TUNED";

/// Restarts the sink with [`TUNABLES`], unless it was restarted already or
/// `GLIBC_TUNABLES` names a `glibc.malloc.` tunable (the operator's choice
/// wins). Returns when it did not restart; with the error when it tried.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn restart_tuned() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;

    if std::env::var_os(MARK).is_some() {
        return None;
    }
    let current = std::env::var_os(KEY).unwrap_or_default();
    if current.to_string_lossy().contains("glibc.malloc.") {
        return None;
    }
    let mut tunables = current;
    if !tunables.is_empty() {
        tunables.push(":");
    }
    tunables.push(TUNABLES);
    // Its own path, not /proc/self/exe, so the process keeps its name (`ps`,
    // `pkill sink`); if the file was replaced since, this fails and the
    // sink runs with glibc's defaults.
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return Some(error),
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    Some(command.args(args).env(KEY, tunables).env(MARK, "1").exec())
}

/// Other platforms keep their allocator's defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn restart_tuned() -> Option<std::io::Error> {
    None
}
