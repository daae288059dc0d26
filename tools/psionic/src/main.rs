//! `psionic`: the command-line driver. See `psionic help`.

use std::io::Write;

fn main() {
    // No panic should reach a user; if one does, it is one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = msg.replace('\n', " ");
        eprintln!("psionic: internal error: {msg}{at} (please report this)");
    }));
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = match psionic_cli::cli::run(&args, &mut out, &mut err) {
        Ok(()) => 0,
        Err(e) => {
            let _ = out.flush();
            let line = e.message.replace('\n', " ");
            let _ = writeln!(err, "psionic: error: {line}");
            e.code()
        }
    };
    let _ = out.flush();
    std::process::exit(code);
}
