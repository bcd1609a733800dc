//! `ftrack-sandbox`: runs the sandbox server from the command line.

use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

const USAGE: &str = "usage: ftrack-sandbox [--demo | --synthetic N | --seed FILE] [--db PATH] [--bind ADDR] [--port PORT] [--print-env] [--quiet]";

/// Parses the arguments after the program name. The binary never records
/// request bodies: nothing outside the process could read them, and a
/// long-running server would grow without bound.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<(SandboxConfig, bool), String> {
    let mut config = SandboxConfig {
        seed: Seed::Empty,
        log: true,
        record_requests: false,
        ..SandboxConfig::demo()
    };
    let mut print_env = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--demo" => config.seed = Seed::Demo,
            "--synthetic" => {
                let n = value("--synthetic")?
                    .parse()
                    .map_err(|e| format!("--synthetic: {e}"))?;
                config.seed = Seed::Data(SeedData::synthetic(n));
            }
            "--seed" => config.seed = Seed::Data(SeedData::from_file(value("--seed")?)?),
            "--db" => config.db = Some(PathBuf::from(value("--db")?)),
            "--bind" => {
                config.bind = value("--bind")?
                    .parse::<IpAddr>()
                    .map_err(|e| format!("--bind: {e}"))?
            }
            "--port" => {
                config.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--print-env" => print_env = true,
            "--quiet" => config.log = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok((config, print_env))
}

fn main() {
    ftrack_sandbox::process::keep_freed_memory();
    let (config, print_env) = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let sandbox = match Sandbox::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ftrack-sandbox: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "FTRACK_SERVER={}", sandbox.url());
    if print_env {
        let _ = writeln!(out, "FTRACK_API_USER={}", sandbox.admin_user());
        let _ = writeln!(out, "FTRACK_API_KEY={}", sandbox.admin_key());
    }
    let _ = out.flush();
    drop(out);
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("ftrack-sandbox: shutting down");
    drop(sandbox);
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    #[test]
    fn the_binary_never_records_request_bodies() {
        for args in [vec![], vec!["--demo", "--quiet"], vec!["--db", "x.db"]] {
            let (config, _) = parse_args(args.iter().map(|a| a.to_string())).unwrap();
            assert!(!config.record_requests, "{args:?}");
        }
    }
}
