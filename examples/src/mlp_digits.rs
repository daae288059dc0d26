//! MLP on the 8x8 digits: a line-by-line port of
//! `examples/mlx/mlp_digits.py` (the Python line is quoted above each part).
//!
//! Same data (`examples/data/digits.npz`, rows 0..1500 train, 1500.. test),
//! model (64 -> 128 -> 128 -> 10, ReLU), loss (cross-entropy, mean),
//! optimizer (SGD lr 0.1, momentum 0.9), batches (64 consecutive rows,
//! wrapping) and seed: `random::seed(0)` makes the initial weights MLX's
//! (same threefry stream, same draw order), so the two runs start from the
//! same point.

use crate::common::{self, Batch, Flags, Run, State};
use psionic_mlx::io::api::load;
use psionic_mlx::nn::{
    self,
    losses::{cross_entropy, Reduction},
    Layer, Module, ModuleState,
};
use psionic_mlx::optimizers::{Optimizer, SGD};
use psionic_mlx::*;

pub const N_TRAIN: usize = 1500;
pub const STEPS: usize = 500;
pub const BATCH: usize = 64;

// class MLP(nn.Module):
//     def __init__(self):
//         self.l1 = nn.Linear(64, 128); self.l2 = nn.Linear(128, 128); self.l3 = nn.Linear(128, 10)
#[derive(Clone, Debug)]
pub struct Mlp {
    pub l1: nn::Linear,
    pub l2: nn::Linear,
    pub l3: nn::Linear,
    pub state: ModuleState,
}
psionic_mlx::impl_module!(Mlp { module l1, module l2, module l3 });

impl Default for Mlp {
    fn default() -> Self {
        Self::new()
    }
}

impl Mlp {
    pub fn new() -> Self {
        Mlp {
            l1: nn::Linear::new(64, 128, true),
            l2: nn::Linear::new(128, 128, true),
            l3: nn::Linear::new(128, 10, true),
            state: ModuleState::default(),
        }
    }

    //     def __call__(self, x):
    //         return self.l3(nn.relu(self.l2(nn.relu(self.l1(x)))))
    pub fn call(&self, x: &Array) -> Array {
        self.l3
            .forward(&nn::relu(&self.l2.forward(&nn::relu(&self.l1.forward(x)))))
    }
}

// def loss_fn(model, xb, yb):
//     return nn.losses.cross_entropy(model(xb), yb, reduction="mean")
pub fn loss_fn(model: &Mlp, (xb, yb): &Batch) -> Array {
    cross_entropy(&model.call(xb), yb, None, -1, 0.0, Reduction::Mean)
}

/// The digits: `x` f32 `[1797, 64]` scaled to [0, 1], `y` i32 `[1797]`.
pub struct Digits {
    pub x: Array,
    pub y: Array,
}

// d = np.load("digits.npz")
// x = mx.array(d["x"].astype(np.float32) / 16.0); y = mx.array(d["y"].astype(np.int32))
pub fn load_digits() -> Result<Digits, Error> {
    let path = common::data_path("digits.npz");
    let mut d = load(&path)
        .map_err(|e| Error::new("load", e.to_string()))?
        .into_map();
    let mut get = |k: &str| {
        d.remove(k)
            .ok_or_else(|| Error::new("load", format!("{}: no array `{k}`", path.display())))
    };
    let x = get("x")?.astype(DType::F32) / 16.0;
    let y = get("y")?.astype(DType::I32);
    eval(&[&x, &y])?;
    Ok(Digits { x, y })
}

fn rows(a: &Array, idx: &[i32]) -> Array {
    take(a, &array(idx, &[idx.len() as i32]), Some(0))
}

// for k in range(steps):
//     idx = [(k * batch + i) % n_train for i in range(batch)]
//     batches.append((x[idx], y[idx]))
pub fn batches(d: &Digits, steps: usize, batch: usize) -> Result<Vec<Batch>, Error> {
    let out: Vec<Batch> = (0..steps)
        .map(|k| {
            let idx: Vec<i32> = (0..batch)
                .map(|i| ((k * batch + i) % N_TRAIN) as i32)
                .collect();
            (rows(&d.x, &idx), rows(&d.y, &idx))
        })
        .collect();
    // mx.eval(batches)
    let all: Vec<&Array> = out.iter().flat_map(|(x, y)| [x, y]).collect();
    eval(&all)?;
    Ok(out)
}

/// The model and optimizer as the script builds them, and the initial
/// state: `mx.random.seed(0); model = MLP(); opt = optim.SGD(0.1, momentum=0.9)`.
pub fn setup() -> Result<(Mlp, SGD, State), Error> {
    let model = common::seeded(0, Mlp::new);
    let mut opt = SGD::new(0.1).momentum(0.9);
    // MLX initializes the optimizer's slots at its first update; doing it
    // now keeps the state's structure fixed, so the step is traced once.
    opt.init(&Nest::from(&model.trainable_parameters()))?;
    let state = (model.parameters(), opt.state());
    Ok((model, opt, state))
}

/// Test accuracy of the parameters in `state`:
/// `(mx.argmax(model(x[1500:]), axis=1) == y[1500:]).mean()`.
pub fn test_accuracy(model: &Mlp, state: &State, d: &Digits) -> Result<f32, Error> {
    let model = nn::with_params(model, &state.0)?;
    let n = d.x.shape()[0] as i32;
    let test: Vec<i32> = (N_TRAIN as i32..n).collect();
    let logits = model.call(&rows(&d.x, &test));
    let hit = logits.argmax(Some(1), false).equal(rows(&d.y, &test));
    hit.astype(DType::F32).mean(Axes::All, false).item::<f32>()
}

/// Trains as the script does (`compiled: false` runs the same step
/// uncompiled) and returns the run and the test accuracy.
pub fn run(flags: &Flags, print_every: usize) -> Result<(Run, f32), Error> {
    let d = load_digits()?;
    let (model, opt, state) = setup()?;
    let bs = batches(&d, flags.steps, flags.batch)?;
    let r = common::train(&model, &opt, loss_fn, state, &bs, !flags.eager, print_every)?;
    let acc = test_accuracy(&model, &r.state, &d)?;
    Ok((r, acc))
}
