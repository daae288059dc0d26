//! The parser never panics: random bytes and random mutations of valid text
//! give `Ok` or a located `Err`, and anything accepted prints and parses back
//! to itself and passes the verifier.

mod common;

use common::{random_module, Rng};
use proptest::prelude::*;
use psionic_ir::text::{parse_func, parse_module, print_module};

/// Fragments that steer mutations toward the interesting corners of the grammar.
const SNIPPETS: &[&str] = &[
    "%",
    "@",
    "\"",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    "(",
    ")",
    "-",
    "->",
    ":",
    ",",
    "=",
    "x",
    "?",
    "?x",
    "dense<",
    "tensor<",
    "0x",
    "0x1",
    "\"0xFF\"",
    "99999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "-1",
    "0",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "\\u{",
    "\\u{110000}",
    "//",
    "\n",
    " ",
    "tensor.add",
    "tensor.split",
    "%0",
    "%1",
    "%99",
    "i64",
    "c64",
    "bf16",
    "f16",
    "bool",
    "true",
    "[]",
    "[[",
    "]]",
    "return",
    "func @g() -> () {",
    "module attributes {a = 1} {",
    "attributes",
    "é",
    "\u{0}",
];

fn mutate(r: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + r.below(4) {
        let n = chars.len();
        let at = if n == 0 { 0 } else { r.below(n + 1) };
        match r.below(6) {
            0 if n > 0 => {
                let end = (at + 1 + r.below(8)).min(n);
                chars.drain(at.min(n)..end.max(at.min(n)));
            }
            1 | 2 => {
                let s = r.pick(SNIPPETS);
                for (k, c) in s.chars().enumerate() {
                    chars.insert(at + k, c);
                }
            }
            3 if n > 0 => {
                // Change one digit: sizes, axes and literal values go out of range.
                let digits: Vec<usize> = (0..n).filter(|&i| chars[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let i = r.pick(&digits);
                    chars[i] = r.pick(&['0', '1', '2', '5', '9']);
                }
            }
            4 if n > 0 => {
                // Duplicate a span (a line, an attribute, an operand list).
                let end = (at + 1 + r.below(40)).min(n);
                let span: Vec<char> = chars[at.min(n)..end.max(at.min(n))].to_vec();
                let to = r.below(chars.len() + 1);
                for (k, c) in span.into_iter().enumerate() {
                    chars.insert(to + k, c);
                }
            }
            _ => {
                let c = char::from_u32(r.below(0x80) as u32).unwrap_or('?');
                chars.insert(at, c);
            }
        }
    }
    chars.into_iter().collect()
}

/// Whatever the parser does with `text`, it must not panic; what it accepts
/// must be stable under print/parse and verify.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    match parse_module(text) {
        Ok(m) => {
            let printed = print_module(&m);
            let again = parse_module(&printed)
                .map_err(|e| TestCaseError::fail(format!("reparse failed: {e}\n{printed}")))?;
            prop_assert_eq!(&again, &m.compact());
            psionic_ir::verify::verify_module(&m)
                .map_err(|e| TestCaseError::fail(format!("accepted text fails verify: {e}")))?;
        }
        Err(e) => {
            prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
            prop_assert!(e.to_string().contains(": error: "));
        }
    }
    let _ = parse_func(text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_text(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_snippet_soup_never_panics(picks in proptest::collection::vec(0usize..SNIPPETS.len(), 0..40)) {
        let text: String = picks.iter().map(|&i| SNIPPETS[i]).collect::<Vec<_>>().join(" ");
        check_text(&text)?;
    }

    #[test]
    fn mutated_valid_text_never_panics(seed in any::<u64>()) {
        let mut r = Rng::new(seed);
        let m = random_module(&mut r, 8);
        let text = print_module(&m);
        for _ in 0..8 {
            check_text(&mutate(&mut r, &text))?;
        }
    }
}

/// A longer run for local hunting: `cargo test -p psionic-ir --test text_fuzz -- --ignored`.
#[test]
#[ignore]
fn long_mutation_run() {
    for seed in 0..40_000u64 {
        let mut r = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let m = random_module(&mut r, 8);
        let text = print_module(&m);
        for _ in 0..8 {
            let t = mutate(&mut r, &text);
            if let Err(e) = check_text(&t) {
                panic!("seed {seed}: {e}\n{t}");
            }
        }
    }
}
