//! Short runs of both training examples (debug build, well under a
//! minute): the loss falls by a clear margin, the MLP's test accuracy is
//! far above chance, the compiled step agrees with the same step run
//! eagerly by the reference interpreter, and the final numbers are MLX's (the runs start from MLX's
//! initial weights; `examples/mlx/gen_reference.py` wrote the fixture).

use psionic_examples::common::{train, Batch, Flags, Run};
use psionic_examples::{char_lm, mlp_digits};
use psionic_mlx::transforms::Tree;
use psionic_mlx::{set_default_backend, Backend};

fn reference(example: &str, key: &str) -> f64 {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mlx_reference.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[example][key]
        .as_f64()
        .unwrap_or_else(|| panic!("fixture has no {example}.{key}"))
}

fn flags(example: &str) -> Flags {
    let steps = reference(example, "steps") as usize;
    let batch = match example {
        "char_lm" => reference(example, "batch") as usize,
        _ => mlp_digits::BATCH,
    };
    Flags {
        steps,
        batch,
        eager: false,
        print_every: None,
    }
}

/// Mean of the first and of the last `k` losses.
fn ends(losses: &[f32], k: usize) -> (f32, f32) {
    let head = losses[..k].iter().sum::<f32>() / k as f32;
    let tail = losses[losses.len() - k..].iter().sum::<f32>() / k as f32;
    (head, tail)
}

fn floats(a: &psionic_mlx::Array) -> Vec<f32> {
    a.to_vec::<f32>().unwrap()
}

/// Compiled and eager runs of the same steps agree: every loss within
/// `tol` (relative), every optimizer slot within `slot_tol` of the slot's
/// largest magnitude, every parameter within `param_atol`. The eager side
/// is the reference interpreter in f64, the compiled side f32 kernels;
/// the parameter tolerance allows for Adam's normalized update, which
/// turns the last bits of a gradient near `eps` into visible differences.
fn assert_agree(compiled: &Run, eager: &Run, tol: f32, slot_tol: f32, param_atol: f32) {
    assert_eq!(compiled.traces, 1, "the compiled step is traced once");
    for (k, (c, e)) in compiled.losses.iter().zip(&eager.losses).enumerate() {
        assert!(
            (c - e).abs() <= tol * e.abs(),
            "step {k}: compiled {c}, eager {e}"
        );
    }
    let (cp, ep) = (compiled.state.0.flatten(), eager.state.0.flatten());
    assert_eq!(cp.len(), ep.len());
    for ((k, c), (_, e)) in cp.iter().zip(&ep) {
        for (j, (a, b)) in floats(c).iter().zip(&floats(e)).enumerate() {
            assert!(
                (a - b).abs() <= param_atol + tol * b.abs(),
                "parameter {k}[{j}]: compiled {a}, eager {b}"
            );
        }
    }
    let (cs, es) = (compiled.state.1.leaves(), eager.state.1.leaves());
    assert_eq!(cs.len(), es.len());
    for (i, (c, e)) in cs.iter().zip(&es).enumerate() {
        assert_eq!(c.shape(), e.shape(), "optimizer state leaf {i}");
        if !c.dtype().is_float() {
            assert_eq!(
                c.to_vec::<u64>().unwrap(),
                e.to_vec::<u64>().unwrap(),
                "leaf {i}"
            );
            continue;
        }
        let (cv, ev) = (floats(c), floats(e));
        let scale = ev.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (j, (a, b)) in cv.iter().zip(&ev).enumerate() {
            assert!(
                (a - b).abs() <= slot_tol * scale,
                "optimizer state leaf {i}[{j}]: compiled {a}, eager {b} (scale {scale})"
            );
        }
    }
}

#[test]
fn mlp_digits_learns_and_matches_mlx() {
    let f = flags("mlp_digits");
    let (run, acc) = mlp_digits::run(&f, 0).unwrap();
    assert_eq!(run.losses.len(), f.steps);
    assert_eq!(run.traces, 1);
    let (head, tail) = ends(&run.losses, 3);
    // Ten classes: an untrained model sits near ln 10 = 2.30.
    assert!(head > 2.0, "first losses {head}");
    assert!(tail < 0.6 * head, "loss {head} -> {tail}: {:?}", run.losses);
    // Chance is 0.1; 30 steps of SGD get ~0.8.
    assert!(acc > 0.6, "test accuracy {acc}");
    // The same run in MLX, from the same initial weights.
    let want = reference("mlp_digits", "final_loss") as f32;
    let got = *run.losses.last().unwrap();
    assert!(
        (got - want).abs() < 1e-3 * want.max(1.0),
        "final loss {got}, MLX {want}"
    );
    let want_acc = reference("mlp_digits", "test_accuracy") as f32;
    assert!(
        (acc - want_acc).abs() < 0.01,
        "accuracy {acc}, MLX {want_acc}"
    );
}

#[test]
fn mlp_digits_compiled_step_equals_the_eager_step() {
    let d = mlp_digits::load_digits().unwrap();
    let bs = mlp_digits::batches(&d, 5, mlp_digits::BATCH).unwrap();
    // Eager steps run on the reference interpreter: an independent oracle
    // for the native code of the compiled step (only lazy `eval`s are
    // affected, so the other tests running meanwhile stay valid).
    set_default_backend(Backend::Interp);
    let run = |compiled: bool| {
        let (model, opt, state) = mlp_digits::setup().unwrap();
        train(&model, &opt, mlp_digits::loss_fn, state, &bs, compiled, 0).unwrap()
    };
    // SGD is linear in the gradient: parameters agree to float rounding.
    assert_agree(&run(true), &run(false), 1e-4, 1e-4, 1e-6);
}

#[test]
fn char_lm_learns_and_matches_mlx() {
    let f = flags("char_lm");
    let (run, model, corpus) = char_lm::run(&f, 0).unwrap();
    assert_eq!(run.traces, 1);
    let (head, tail) = ends(&run.losses, 3);
    // Uniform over the vocabulary is ln 92 = 4.52; the init is close to it.
    let uniform = (corpus.vocab.len() as f32).ln();
    assert!(
        (head - uniform).abs() < 0.3,
        "first losses {head}, ln V {uniform}"
    );
    assert!(tail < head - 0.6, "loss {head} -> {tail}: {:?}", run.losses);
    let want = reference("char_lm", "final_loss") as f32;
    let got = *run.losses.last().unwrap();
    assert!(
        (got - want).abs() < 2e-3 * want,
        "final loss {got}, MLX {want}"
    );
    // Greedy decoding runs on the trained parameters and stays in the vocabulary.
    let s = char_lm::greedy_sample(&model, &run.state, &corpus, &corpus.data[..8], 4).unwrap();
    assert_eq!(s.len(), 4);
    assert!(s.bytes().all(|c| corpus.vocab.contains(&c)));
}

#[test]
fn char_lm_compiled_step_equals_the_eager_step() {
    let corpus = char_lm::load_corpus().unwrap();
    let bs = char_lm::batches(&corpus.data, 3, 2).unwrap();
    set_default_backend(Backend::Interp);
    let run = |compiled: bool, bs: &[Batch]| {
        let (model, opt, state) = char_lm::setup(corpus.vocab.len()).unwrap();
        train(&model, &opt, char_lm::loss_fn, state, bs, compiled, 0).unwrap()
    };
    // One step: the loss, AdamW's slots (the gradient's moments) and the
    // parameters. AdamW's update is about lr * sign(g) wherever |g| is well
    // above eps, so float rounding of a gradient near eps (f32 kernels
    // against the f64 interpreter) moves a parameter by a fraction of lr,
    // while a wrong gradient would flip updates by 2 lr: allow lr / 10.
    assert_agree(
        &run(true, &bs[..1]),
        &run(false, &bs[..1]),
        1e-4,
        1e-4,
        0.1 * 3e-3,
    );
    // Three steps: the losses (later states drift apart through the update
    // above, as any two float orderings do).
    let (c, e) = (run(true, &bs), run(false, &bs));
    assert_eq!(c.traces, 1);
    for (k, (a, b)) in c.losses.iter().zip(&e.losses).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs(),
            "step {k}: compiled {a}, eager {b}"
        );
    }
}
