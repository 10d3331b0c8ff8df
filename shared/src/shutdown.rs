//! The shutdown token every service's `run` takes, and the one place that
//! turns OS signals into it (binaries only: libraries never read signals).

use tokio_util::sync::CancellationToken;

/// Exit code used when a second signal forces an immediate exit.
pub const FORCED_EXIT_CODE: i32 = 130;

/// Returns a token cancelled on the first SIGINT or SIGTERM. A second signal
/// exits the process at once with code 130, for an operator who will not wait.
pub fn on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutdown requested; finishing the open batch (signal again to exit at once)"
        );
        cancel.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal: exiting now without draining");
        std::process::exit(FORCED_EXIT_CODE);
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
