//! What both examples share: the training step (MLX's compiled `step`
//! with `inputs=state, outputs=state`), the timed training loop, flags and
//! the summary line `examples/bench.py` reads.

use psionic_mlx::nn::{self, Module, Params};
use psionic_mlx::optimizers::Optimizer;
use psionic_mlx::transforms::Tree;
use psionic_mlx::{compile, eval, random, Array, Error, Nest};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// `mx.random.seed(seed)` followed by `build()` (constructing a model),
/// with no other thread's draws in between: the seed and the draws the
/// layers make use the process-wide key sequence, as MLX's global seed
/// does, so two models built at once on two threads (tests run in
/// parallel) would otherwise interleave their draws.
pub fn seeded<T>(seed: u64, build: impl FnOnce() -> T) -> T {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    random::seed(seed);
    build()
}

/// A batch: inputs and integer targets.
pub type Batch = (Array, Array);

/// MLX's `state = [model.state, opt.state]`: what goes into the compiled
/// step and comes out of it. Here it is passed explicitly (Rust closures
/// cannot rebind the captured model), which is what `mx.compile(inputs=
/// state, outputs=state)` arranges behind the scenes.
pub type State = (Params, Nest);

/// The body of MLX's
///
/// ```python
/// @partial(mx.compile, inputs=state, outputs=state)
/// def step(xb, yb):
///     loss, grads = nn.value_and_grad(model, loss_fn)(model, xb, yb)
///     opt.update(model, grads)
///     return loss
/// ```
///
/// with the state in and out: `model` and `opt` are templates (their
/// hyperparameters and structure); `state` holds the current parameters
/// and optimizer state. Pure, so the same code runs eagerly (lazy arrays)
/// and traced inside [`compile()`].
pub fn train_step<M, O, F>(
    model: &M,
    opt: &O,
    loss_fn: F,
    state: &State,
    batch: &Batch,
) -> Result<(Array, State), Error>
where
    M: Module + Clone,
    O: Optimizer + Clone,
    F: Fn(&M, &Batch) -> Array + 'static,
{
    let mut model = nn::with_params(model, &state.0)?;
    let mut opt = opt.clone();
    opt.set_state(state.1.clone())?;
    let (loss, grads) = nn::value_and_grad(&model, loss_fn)(batch)?;
    opt.update_module(&mut model, &grads)?;
    Ok((loss, (model.parameters(), opt.state())))
}

/// [`train_step`] in the crate's infallible style, as `compile()` wants a
/// closure returning arrays: a failure is recorded in the loss (and so
/// reported by the compiled call) instead of panicking inside the trace.
pub fn step_or_error<M, O, F>(
    model: &M,
    opt: &O,
    loss_fn: F,
    state: &State,
    batch: &Batch,
) -> (Array, State)
where
    M: Module + Clone,
    O: Optimizer + Clone,
    F: Fn(&M, &Batch) -> Array + 'static,
{
    train_step(model, opt, loss_fn, state, batch)
        .unwrap_or_else(|e| (Array::from_error(e), state.clone()))
}

/// Evaluates the loss and every array of the state (MLX's
/// `mx.eval(loss, model.parameters(), opt.state)`).
pub fn eval_step(loss: &Array, state: &State) -> Result<(), Error> {
    let mut live = vec![loss.clone()];
    live.extend(state.leaves());
    eval(&live.iter().collect::<Vec<_>>())
}

/// The result of a training run.
#[derive(Clone, Debug)]
pub struct Run {
    /// The loss of every step, in order.
    pub losses: Vec<f32>,
    /// The state after the last step.
    pub state: State,
    /// Seconds of the first step (trace, compilation and the step itself).
    pub first_step_s: f64,
    /// Steps per second over steps 1.. (the first, compiling, excluded).
    pub steps_per_s: f64,
    /// Number of traces the compiled step made (1 when the state keeps its
    /// structure, shapes and dtypes from step to step).
    pub traces: usize,
}

/// Runs `batches.len()` steps from `state`, compiled (one executable for
/// the whole step) or eagerly (the lazy graph of each step evaluated),
/// printing the loss every `print_every` steps.
pub fn train<M, O, F>(
    model: &M,
    opt: &O,
    loss_fn: F,
    state: State,
    batches: &[Batch],
    compiled: bool,
    print_every: usize,
) -> Result<Run, Error>
where
    M: Module + Clone,
    O: Optimizer + Clone,
    F: Fn(&M, &Batch) -> Array + Clone + 'static,
{
    let f = loss_fn.clone();
    let step = compile(move |(state, batch): &(State, Batch)| {
        step_or_error(model, opt, f.clone(), state, batch)
    });
    let run_step = |state: State, batch: &Batch| -> Result<(Array, State), Error> {
        if compiled {
            step.try_call(&(state, batch.clone()))
        } else {
            let (loss, state) = train_step(model, opt, loss_fn.clone(), &state, batch)?;
            eval_step(&loss, &state)?;
            Ok((loss, state))
        }
    };
    let mut state = state;
    let mut losses = Vec::with_capacity(batches.len());
    let mut first_step_s = 0.0;
    let mut t0 = Instant::now();
    for (k, batch) in batches.iter().enumerate() {
        let (loss, s) = run_step(state, batch)?;
        state = s;
        let l = loss.item::<f32>()?;
        losses.push(l);
        if k == 0 {
            first_step_s = t0.elapsed().as_secs_f64();
            t0 = Instant::now();
        }
        if print_every > 0 && k % print_every == 0 {
            println!("step {k:4}  loss {l:.4}");
        }
    }
    let rest = batches.len().saturating_sub(1);
    let steps_per_s = if rest > 0 {
        rest as f64 / t0.elapsed().as_secs_f64()
    } else {
        0.0
    };
    Ok(Run {
        losses,
        state,
        first_step_s,
        steps_per_s,
        traces: step.traces(),
    })
}

/// The flags both binaries take: `--steps N`, `--batch N`, `--eager`
/// (run the uncompiled step, for comparison), `--print-every N` (the loss
/// every N steps; the scripts' interval by default).
#[derive(Clone, Debug)]
pub struct Flags {
    pub steps: usize,
    pub batch: usize,
    pub eager: bool,
    pub print_every: Option<usize>,
}

impl Flags {
    /// Parses `args` (without the program name) over the given defaults.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        steps: usize,
        batch: usize,
    ) -> Result<Flags, String> {
        let mut f = Flags {
            steps,
            batch,
            eager: false,
            print_every: None,
        };
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> Result<usize, String> {
                let v = it.next().ok_or(format!("{name} needs a value"))?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{name}: expected a positive integer, got `{v}`")),
                }
            };
            match a.as_str() {
                "--steps" => f.steps = value("--steps")?,
                "--batch" => f.batch = value("--batch")?,
                "--eager" => f.eager = true,
                "--print-every" => f.print_every = Some(value("--print-every")?),
                "-h" | "--help" => {
                    return Err(
                        "flags: --steps N, --batch N, --eager (no compile), --print-every N".into(),
                    )
                }
                other => return Err(format!("unknown flag `{other}` (try --help)")),
            }
        }
        Ok(f)
    }
}

/// A file of `examples/data/`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// The JSON summary line `examples/bench.py` reads (the same keys as the
/// MLX scripts print).
pub fn summary_json(example: &str, fields: &[(&str, f64)]) -> String {
    let mut s = format!("{{\"example\": \"{example}\", \"impl\": \"psionic\"");
    for (k, v) in fields {
        s.push_str(&format!(", \"{k}\": {v}"));
    }
    s.push('}');
    s
}
