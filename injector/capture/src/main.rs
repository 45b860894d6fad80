//! `capture`: parse the command line, run, exit with a code that says how
//! it went (istio-validation's 126 when the validation fails).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match capture::cli::parse(std::env::args_os()) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    capture::log::init(args.log_level, args.log_as_json);
    match capture::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("capture: {:#}", anyhow::Error::from(e));
            ExitCode::from(code)
        }
    }
}
