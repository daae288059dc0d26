//! `mlp_digits [--steps N] [--batch N] [--eager]`: trains the digits MLP
//! (port of `examples/mlx/mlp_digits.py`) and prints the loss every 100
//! steps, the test accuracy, steps per second and a JSON summary line.

use psionic_examples::common::{summary_json, Flags};
use psionic_examples::mlp_digits::{run, BATCH, STEPS};

fn main() {
    let flags = match Flags::parse(std::env::args().skip(1), STEPS, BATCH) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mlp_digits: {e}");
            std::process::exit(2);
        }
    };
    let (r, acc) = match run(&flags, flags.print_every.unwrap_or(100)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mlp_digits: {e}");
            std::process::exit(1);
        }
    };
    let last = *r.losses.last().unwrap_or(&f32::NAN);
    let mode = if flags.eager { "eager" } else { "compiled" };
    println!(
        "first step ({mode}, includes compilation) {:.3} s",
        r.first_step_s
    );
    println!(
        "final loss {last:.4}  test accuracy {acc:.3}  {:.0} steps/s",
        r.steps_per_s
    );
    println!(
        "{}",
        summary_json(
            "mlp_digits",
            &[
                ("final_loss", last as f64),
                ("test_accuracy", acc as f64),
                ("steps_per_s", r.steps_per_s),
                ("first_step_s", r.first_step_s),
            ],
        )
    );
}
