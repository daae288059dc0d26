//! A proptest-based fuzzer of the `.mlxfn` reader: random bytes, random
//! bytes behind a valid header, and random mutations and truncations of
//! every conformance file. The reader must never panic; every refusal is one
//! line. Inputs worth keeping live in `tests/fuzz_corpus/mlxfn/` and are
//! replayed on every run.

mod mlxfn_support;

use mlxfn_support::*;
use proptest::prelude::*;
use psionic_mlx::mlxfn;
use std::sync::OnceLock;

/// Reads, and when that works writes and reads again: nothing may panic.
fn exercise(bytes: &[u8]) -> Result<(), String> {
    match mlxfn::read(bytes) {
        Ok(m) => {
            if let Ok(b) = mlxfn::write(&m) {
                mlxfn::read(&b).map_err(|e| format!("our own output is refused: {e}"))?;
            }
            Ok(())
        }
        Err(e) => {
            let s = e.to_string();
            if s.contains('\n') || s.is_empty() {
                return Err(format!("error is not one line: {s:?}"));
            }
            Ok(())
        }
    }
}

fn corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        all_case_dirs()
            .iter()
            .map(|d| std::fs::read(d.join("fn.mlxfn")).unwrap())
            .collect()
    })
}

fn header() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&6u64.to_le_bytes());
    h.extend_from_slice(b"0.32.4");
    h.extend_from_slice(&1i32.to_le_bytes());
    h.push(0);
    h.extend_from_slice(&0u64.to_le_bytes());
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(exercise(&bytes), Ok(()));
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..400)
    ) {
        let mut b = header();
        b.extend_from_slice(&body);
        prop_assert_eq!(exercise(&b), Ok(()));
    }

    #[test]
    fn mutated_conformance_files_never_panic(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut b = which.get(corpus()).clone();
        for (at, v) in &edits {
            let i = at.index(b.len());
            b[i] = *v;
        }
        if let Some(c) = cut {
            b.truncate(c.index(b.len() + 1));
        }
        prop_assert_eq!(exercise(&b), Ok(()));
    }

    /// Small values written over 4- or 8-byte fields reach deeper checks
    /// (counts, ids, dtype codes) than random bytes do.
    #[test]
    fn small_integers_over_fields_never_panic(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        wide in any::<bool>(),
        v in prop_oneof![0i64..20, Just(-1i64), Just(i64::from(i32::MAX)), Just(i64::MAX)],
    ) {
        let mut b = which.get(corpus()).clone();
        let w = if wide { 8 } else { 4 };
        if b.len() > w {
            let i = at.index(b.len() - w);
            b[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        prop_assert_eq!(exercise(&b), Ok(()));
    }
}

/// Every kept input is refused cleanly (they are all malformed).
#[test]
fn corpus_inputs_are_refused_cleanly() {
    let dir = manifest_dir().join("tests/fuzz_corpus/mlxfn");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let err = mlxfn::read(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", p.display()));
        let s = err.to_string();
        assert!(
            !s.contains('\n') && s.starts_with("byte "),
            "{}: {s}",
            p.display()
        );
        n += 1;
    }
    assert!(n >= 8, "corpus has only {n} inputs");
}
