//! `nn::value_and_grad` inside a compiled training step, and the bridge
//! between `nn` modules and the optimizers (`Params` <-> `Nest`,
//! `Optimizer::update_module`): what porting an MLX training script needs.

use psionic_mlx::nn::{self, losses, Layer, Module, ModuleState, Params};
use psionic_mlx::optimizers::{Optimizer, SGD};
use psionic_mlx::transforms::Tree;
use psionic_mlx::*;

#[derive(Clone)]
struct Mlp {
    l1: nn::Linear,
    l2: nn::Linear,
    state: ModuleState,
}
psionic_mlx::impl_module!(Mlp { module l1, module l2 });

impl Mlp {
    fn new() -> Self {
        Mlp {
            l1: nn::Linear::new(4, 8, true),
            l2: nn::Linear::new(8, 3, true),
            state: ModuleState::default(),
        }
    }
    fn call(&self, x: &Array) -> Array {
        self.l2.forward(&nn::relu(&self.l1.forward(x)))
    }
}

fn loss_fn(m: &Mlp, (x, y): &(Array, Array)) -> Array {
    losses::cross_entropy(&m.call(x), y, None, -1, 0.0, losses::Reduction::Mean)
}

fn batch() -> (Array, Array) {
    let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    (array(&x, &[6, 4]), array(&[0i32, 1, 2, 2, 1, 0], &[6]))
}

fn close(a: &Array, b: &Array, tol: f32) {
    assert_eq!(a.shape(), b.shape());
    let (x, y) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        assert!(
            (p - q).abs() <= tol * (1.0 + q.abs()),
            "element {i}: {p} vs {q}"
        );
    }
}

#[test]
fn value_and_grad_takes_the_batch_as_an_input_and_differentiates_only_the_parameters() {
    nn::init::seed(1);
    let model = Mlp::new();
    let xy = batch();
    let (loss, grads) = nn::value_and_grad(&model, loss_fn)(&xy).unwrap();
    // The same gradient through the plain transform over the parameters,
    // with the batch captured as constants.
    let (x, y) = xy.clone();
    let f = move |p: &Params| {
        loss_fn(
            &nn::with_params(&Mlp::new(), p).unwrap(),
            &(x.clone(), y.clone()),
        )
    };
    let (l0, g0) = transforms::value_and_grad(f)(&model.trainable_parameters());
    close(&loss, &l0, 1e-6);
    let (a, b) = (grads.flatten(), g0.flatten());
    assert_eq!(a.len(), 4);
    for ((ka, ga), (kb, gb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        close(ga, gb, 1e-5);
    }
}

#[test]
fn a_compiled_step_with_nn_value_and_grad_and_an_optimizer_matches_the_eager_loop() {
    nn::init::seed(2);
    let model0 = Mlp::new();
    let opt0 = SGD::new(0.1).momentum(0.9);
    // The MLX step `loss, g = nn.value_and_grad(model, loss_fn)(model, x, y);
    // opt.update(model, g)`, with the model's and optimizer's state in and out.
    let step = |(p, s, xy): &(Params, Nest, (Array, Array))| {
        let mut model = nn::with_params(&model0, p).unwrap();
        let mut opt = opt0.clone();
        opt.set_state(s.clone()).unwrap();
        let (loss, grads) = nn::value_and_grad(&model, loss_fn)(xy).unwrap();
        opt.update_module(&mut model, &grads).unwrap();
        (loss, model.parameters(), opt.state())
    };
    let compiled = compile(step);

    let xy = batch();
    let mut eager_model = model0.clone();
    let mut eager_opt = opt0.clone();
    eager_opt
        .init(&Nest::from(&eager_model.trainable_parameters()))
        .unwrap();
    let mut p = model0.parameters();
    let mut s = eager_opt.state();
    let mut losses_seen = Vec::new();
    for _ in 0..8 {
        let (loss, grads) = nn::value_and_grad(&eager_model, loss_fn)(&xy).unwrap();
        eager_opt.update_module(&mut eager_model, &grads).unwrap();
        let mut live = eager_model.parameters().leaves();
        live.extend(eager_opt.state().arrays());
        live.push(loss.clone());
        eval(&live.iter().collect::<Vec<_>>()).unwrap();

        let (closs, cp, cs) = compiled.try_call(&(p, s, xy.clone())).unwrap();
        close(&closs, &loss, 1e-5);
        for ((k, a), (_, b)) in cp.flatten().iter().zip(eager_model.parameters().flatten()) {
            assert!(k.starts_with('l'), "{k}");
            close(a, &b, 1e-5);
        }
        losses_seen.push(loss.item::<f32>().unwrap());
        (p, s) = (cp, cs);
    }
    assert_eq!(compiled.traces(), 1);
    assert_eq!(s.array_at("step").unwrap().item::<u64>().unwrap(), 8);
    assert!(
        s.array_at("l1.weight.v").is_ok(),
        "momentum slots under MLX's keys"
    );
    assert!(
        losses_seen[7] < 0.9 * losses_seen[0],
        "the loss falls: {losses_seen:?}"
    );
}

#[test]
fn params_and_nests_convert_both_ways() {
    nn::init::seed(3);
    let model = Mlp::new();
    let p = model.parameters();
    let n = Nest::from(&p);
    let keys: Vec<String> = psionic_mlx::utils::tree_flatten(&n)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want: Vec<String> = p.flatten().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, want);
    let back = Params::from(&n);
    for ((ka, a), (kb, b)) in back.flatten().iter().zip(p.flatten()) {
        assert_eq!(ka, &kb);
        close(a, &b, 0.0);
    }
    // A list level survives the round trip.
    let l = Params::List(vec![Params::Array(scalar(1.0f32)), Params::new()]);
    assert!(matches!(Params::from(&Nest::from(&l)), Params::List(v) if v.len() == 2));
}
