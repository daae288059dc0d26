//! `char_lm [--steps N] [--batch N] [--eager]`: trains the character-level
//! transformer (port of `examples/mlx/char_lm.py`) and prints the loss
//! every 50 steps, steps per second, a greedy sample and a JSON summary.

use psionic_examples::char_lm::{greedy_sample, run, B, STEPS};
use psionic_examples::common::{summary_json, Flags};

fn main() {
    let flags = match Flags::parse(std::env::args().skip(1), STEPS, B) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("char_lm: {e}");
            std::process::exit(2);
        }
    };
    let (r, model, corpus) = match run(&flags, flags.print_every.unwrap_or(50)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("char_lm: {e}");
            std::process::exit(1);
        }
    };
    let last = *r.losses.last().unwrap_or(&f32::NAN);
    let mode = if flags.eager { "eager" } else { "compiled" };
    println!(
        "first step ({mode}, includes compilation) {:.3} s",
        r.first_step_s
    );
    println!("final loss {last:.4}  {:.1} steps/s", r.steps_per_s);
    // A greedy continuation of the corpus' first line.
    let prompt: Vec<i32> = corpus.data[..10].to_vec();
    match greedy_sample(&model, &r.state, &corpus, &prompt, 80) {
        Ok(s) => {
            let p: String = prompt
                .iter()
                .map(|&t| corpus.vocab[t as usize] as char)
                .collect();
            println!("sample: {:?}", format!("{p}{s}"));
        }
        Err(e) => eprintln!("char_lm: sampling failed: {e}"),
    }
    println!(
        "{}",
        summary_json(
            "char_lm",
            &[
                ("final_loss", last as f64),
                ("steps_per_s", r.steps_per_s),
                ("first_step_s", r.first_step_s),
            ],
        )
    );
}
