//! A whole training step of a small MLP — forward, `value_and_grad`, an
//! optimizer update — traced into ONE IR function with parameters and
//! optimizer state in and out, then run for several steps: through the
//! interpreter (`apply`) and compiled for the CPU (Cranelift, through
//! `psionic_runtime::exec::Executable`), and compared step by step with the
//! same loop run eagerly (lazy arrays evaluated each step, as in MLX).

use psionic_mlx::optimizers::{cosine_decay, AdamW, Lion, Optimizer, RMSprop, SGD};
use psionic_mlx::transforms::{value_and_grad, Tree};
use psionic_mlx::utils::tree_flatten;
use psionic_mlx::*;
use psionic_runtime::exec::Executable;

fn data(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    // A small deterministic generator: the test needs fixed numbers, not
    // a particular distribution.
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            ((s % 20001) as f32 / 10000.0 - 1.0) * scale
        })
        .collect()
}

fn mlp_params() -> Nest {
    let layer = |i: usize, o: usize, seed: u32| {
        Nest::dict([
            (
                "weight",
                Nest::Leaf(array(&data(i * o, seed, 0.5), &[i as i32, o as i32])),
            ),
            (
                "bias",
                Nest::Leaf(array(&data(o, seed + 1, 0.1), &[o as i32])),
            ),
        ])
    };
    Nest::dict([("layers", Nest::List(vec![layer(4, 16, 1), layer(16, 3, 3)]))])
}

fn forward(p: &Nest, x: &Array) -> Array {
    let l0 = p.get_path("layers.0").unwrap();
    let l1 = p.get_path("layers.1").unwrap();
    let h = matmul(x, l0.array_at("weight").unwrap()) + l0.array_at("bias").unwrap();
    let h = maximum(&h, 0.0);
    matmul(&h, l1.array_at("weight").unwrap()) + l1.array_at("bias").unwrap()
}

fn loss(p: &Nest, x: &Array, y: &Array) -> Array {
    let d = forward(p, x) - y;
    (&d * &d).mean(Axes::All, false)
}

/// One step, as a user writes it: the same code runs eagerly and traced.
fn train_step(
    opt: &dyn Optimizer,
    params: &Nest,
    state: &Nest,
    x: &Array,
    y: &Array,
) -> (Array, Nest, Nest) {
    // Inside a trace the data are tracers too: pass them as arguments
    // (a closure may not capture another trace's inputs) and use the
    // parameters' half of the gradient.
    let data = Nest::List(vec![Nest::Leaf(x.clone()), Nest::Leaf(y.clone())]);
    let f = |a: &(Nest, Nest)| loss(&a.0, a.1.array_at("0").unwrap(), a.1.array_at("1").unwrap());
    let (l, (grads, _)) = value_and_grad(f)(&(params.clone(), data));
    let (p, s) = opt.apply_gradients(&grads, params, state).unwrap();
    (l, p, s)
}

fn lit(a: &Array) -> psionic_ir::Literal {
    eval(&[a]).unwrap();
    a.value().unwrap().clone()
}

fn check(opt: &dyn Optimizer, steps: usize) {
    let x = array(&data(32 * 4, 7, 1.0), &[32, 4]);
    let y = array(&data(32 * 3, 9, 1.0), &[32, 3]);
    let params = mlp_params();
    let state = opt.init_state(&params).unwrap();

    // Trace: inputs are (params, state) leaves then x, y.
    let template = (params.clone(), state.clone());
    let mut types: Vec<TensorType> = template.leaves().iter().map(|a| a.ty().clone()).collect();
    types.push(x.ty().clone());
    types.push(y.ty().clone());
    let n = template.leaves().len();
    let func = trace(
        |xs| {
            // `Tree::rebuild` takes a `vec::IntoIter`.
            #[allow(clippy::unnecessary_to_owned)]
            let mut it = xs[..n].to_vec().into_iter();
            let (p, s) = template.rebuild(&mut it).unwrap();
            let (l, p, s) = train_step(opt, &p, &s, &xs[n], &xs[n + 1]);
            let mut out = vec![l];
            out.extend((p, s).leaves());
            out
        },
        &types,
    )
    .unwrap();
    // One function: the forward matmuls, their gradients and the update.
    let text = psionic_ir::text::print_func(&func);
    assert_eq!(func.results.len(), 1 + n);
    assert!(text.matches("matmul").count() >= 4, "{text}");
    let exe = Executable::new(func.clone());

    let mut eager = (params.clone(), state.clone());
    let mut interp: Vec<Array> = template.leaves();
    let mut compiled: Vec<psionic_ir::Literal> = template.leaves().iter().map(lit).collect();
    let mut first_loss = None;
    let mut last_loss = 0.0;
    for step in 0..steps {
        let (l, p, s) = train_step(opt, &eager.0, &eager.1, &x, &y);
        let mut all = vec![l.clone()];
        all.extend((p.clone(), s.clone()).leaves());
        eval(&all.iter().collect::<Vec<_>>()).unwrap();
        eager = (p, s);

        let mut args = interp.clone();
        args.push(x.clone());
        args.push(y.clone());
        let outs = apply(&func, &args).unwrap();
        eval(&outs.iter().collect::<Vec<_>>()).unwrap();

        let mut cargs = compiled.clone();
        cargs.push(lit(&x));
        cargs.push(lit(&y));
        let couts = exe.run(&cargs).unwrap();

        // Traced (interpreted and compiled) and eager agree on the loss,
        // every parameter and every state leaf.
        for (i, e) in all.iter().enumerate() {
            let t = &outs[i];
            let c = Array::from_literal(couts[i].clone());
            assert_eq!(t.dtype(), e.dtype());
            if e.dtype() == DType::U64 {
                assert_eq!(t.to_vec::<u64>().unwrap(), e.to_vec::<u64>().unwrap());
                assert_eq!(c.to_vec::<u64>().unwrap(), e.to_vec::<u64>().unwrap());
                continue;
            }
            let ev = e.to_vec::<f32>().unwrap();
            for (name, got) in [
                ("traced", t.to_vec::<f32>().unwrap()),
                ("compiled", c.to_vec::<f32>().unwrap()),
            ] {
                for (a, b) in got.iter().zip(&ev) {
                    assert!(
                        (a - b).abs() <= 1e-5 + 1e-4 * b.abs(),
                        "step {step} output {i}: {name} {a}, eager {b}"
                    );
                }
            }
        }
        let lv = l.item::<f32>().unwrap();
        first_loss.get_or_insert(lv);
        last_loss = lv;
        interp = outs[1..].to_vec();
        compiled = couts[1..].to_vec();
    }
    let first = first_loss.unwrap();
    assert!(last_loss < 0.9 * first, "loss {first} -> {last_loss}");
    // The step counter went through the trace too.
    let (_, st) = (eager.0, eager.1);
    assert_eq!(
        st.array_at("step").unwrap().item::<u64>().unwrap(),
        steps as u64
    );
    assert!(tree_flatten(&st)
        .iter()
        .any(|(k, _)| k == "layers.1.weight.m" || k == "layers.1.weight.v"));
}

#[test]
fn adamw_step_with_a_scheduled_learning_rate_traces_into_one_function() {
    check(&AdamW::new(cosine_decay(3e-2, 40, 1e-3).unwrap()), 12);
}

#[test]
fn sgd_nesterov_step_traces() {
    check(
        &SGD::new(0.05)
            .momentum(0.9)
            .nesterov(true)
            .weight_decay(1e-4),
        12,
    );
}

#[test]
fn rmsprop_and_lion_steps_trace() {
    check(&RMSprop::new(1e-2), 12);
    check(&Lion::new(3e-3).weight_decay(0.1), 12);
}
