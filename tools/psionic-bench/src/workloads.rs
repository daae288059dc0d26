//! Psionic's version of each workload: an IR function built with
//! [`Func::push`] (as a tracer would record it) and its inputs.
//!
//! Broadcasts and constants are explicit ops, as in every Psionic function:
//! `x * 0.75` is `tensor.full` then `tensor.multiply`. W6 needs reverse-mode
//! autodiff of the loss, which Psionic does not have yet; W7 is not a
//! function to run but the cost of building one ([`chain`]).

use crate::inputs::{one_hot, uniform};
use crate::spec::{Mode, WorkloadSpec};
use psionic_ir::{Attr, Attrs, DType, Dim, Func, Literal, Opcode, TensorType, Value};

/// A function to time and the inputs to call it with.
pub struct Program {
    pub func: Func,
    pub inputs: Vec<Literal>,
}

/// What Psionic runs for one workload.
pub enum Plan {
    /// Run `program` repeatedly and time each call.
    Run(Program),
    /// W7: time building, verifying and preparing a chain of `ops`
    /// elementwise ops on `n` elements; check the chain's result on `input`.
    Compile {
        ops: usize,
        n: usize,
        input: Literal,
    },
    /// Psionic cannot run this workload yet; the reason says what is missing.
    Unavailable(String),
}

/// A thin builder over [`Func`] whose errors are strings naming the op.
pub struct Builder {
    pub f: Func,
}

fn ints(shape: &[Dim]) -> Attr {
    Attr::Ints(shape.to_vec())
}

impl Builder {
    pub fn new(name: &str, params: &[&[usize]]) -> Self {
        let types = params
            .iter()
            .map(|s| TensorType::from_dims(DType::F32, s))
            .collect();
        Builder {
            f: Func::new(name, types),
        }
    }

    pub fn param(&self, i: usize) -> Value {
        self.f.params[i]
    }

    fn shape(&self, v: Value) -> Vec<Dim> {
        self.f.ty(v).shape.clone()
    }

    pub fn op(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        attrs: Attrs,
    ) -> Result<Value, String> {
        self.f
            .push1(opcode, operands, attrs)
            .map_err(|e| format!("building @{}: {e}", self.f.name))
    }

    /// A constant of `like`'s shape and dtype.
    pub fn full_like(&mut self, value: f64, like: Value) -> Result<Value, String> {
        let t = self.f.ty(like).clone();
        let attrs = Attrs::new()
            .with("value", Attr::Float(value))
            .with("shape", ints(&t.shape))
            .with("dtype", Attr::DType(t.dtype));
        self.op(Opcode::Full, &[], attrs)
    }

    pub fn un(&mut self, opcode: Opcode, a: Value) -> Result<Value, String> {
        self.op(opcode, &[a], Attrs::new())
    }

    pub fn bin(&mut self, opcode: Opcode, a: Value, b: Value) -> Result<Value, String> {
        self.op(opcode, &[a, b], Attrs::new())
    }

    /// `opcode(a, c)` with the constant `c` spread to `a`'s shape.
    pub fn bin_const(&mut self, opcode: Opcode, a: Value, c: f64) -> Result<Value, String> {
        let k = self.full_like(c, a)?;
        self.bin(opcode, a, k)
    }

    pub fn broadcast_to(&mut self, a: Value, like: Value) -> Result<Value, String> {
        let shape = self.shape(like);
        self.op(
            Opcode::Broadcast,
            &[a],
            Attrs::new().with("shape", ints(&shape)),
        )
    }

    pub fn reduce(
        &mut self,
        opcode: Opcode,
        a: Value,
        axes: &[i64],
        keepdims: bool,
    ) -> Result<Value, String> {
        let attrs = Attrs::new()
            .with("axes", Attr::Ints(axes.to_vec()))
            .with("keepdims", Attr::Bool(keepdims));
        self.op(opcode, &[a], attrs)
    }

    pub fn finish(mut self, results: &[Value]) -> Func {
        self.f.results = results.to_vec();
        self.f
    }
}

/// Builds Psionic's plan for workload `id`.
pub fn plan(id: &str, spec: &WorkloadSpec, mode: Mode) -> Result<Plan, String> {
    match id {
        "W1" => {
            let n = spec.size(mode, "n")?;
            let a = spec.constant("a", spec.a)?;
            let b = spec.constant("b", spec.b)?;
            Ok(Plan::Run(Program {
                func: gelu_affine(n, a, b)?,
                inputs: vec![uniform(&[n], 1, -3.0, 3.0)?],
            }))
        }
        "W2" => {
            let (r, c) = (spec.size(mode, "rows")?, spec.size(mode, "cols")?);
            Ok(Plan::Run(Program {
                func: sums(r, c)?,
                inputs: vec![uniform(&[r, c], 2, -1.0, 1.0)?],
            }))
        }
        "W3" => {
            let (r, c) = (spec.size(mode, "rows")?, spec.size(mode, "cols")?);
            Ok(Plan::Run(Program {
                func: softmax_rows(r, c)?,
                inputs: vec![uniform(&[r, c], 3, -4.0, 4.0)?],
            }))
        }
        "W4" => {
            let (r, c) = (spec.size(mode, "rows")?, spec.size(mode, "cols")?);
            let eps = spec.constant("eps", spec.eps)?;
            Ok(Plan::Run(Program {
                func: layer_norm(r, c, eps)?,
                inputs: vec![
                    uniform(&[r, c], 4, -2.0, 2.0)?,
                    uniform(&[c], 5, 0.5, 1.5)?,
                    uniform(&[c], 6, -0.5, 0.5)?,
                ],
            }))
        }
        "W5a" | "W5b" => {
            let n = spec.size(mode, "n")?;
            Ok(Plan::Run(Program {
                func: matmul(n)?,
                inputs: vec![
                    uniform(&[n, n], 7, -1.0, 1.0)?,
                    uniform(&[n, n], 8, -1.0, 1.0)?,
                ],
            }))
        }
        "W6" => {
            let s = MlpSizes::from_spec(spec, mode)?;
            Ok(Plan::Run(Program {
                func: mlp_step(&s)?,
                inputs: s.inputs()?,
            }))
        }
        "W7" => {
            let ops = spec.size(mode, "ops")?;
            let n = spec.size(mode, "n")?;
            Ok(Plan::Compile {
                ops,
                n,
                input: uniform(&[n], 15, -1.0, 1.0)?,
            })
        }
        "W8" => {
            let c = ConvSizes::from_spec(spec, mode)?;
            Ok(Plan::Run(Program {
                func: conv_bias_tanh(&c)?,
                inputs: c.inputs()?,
            }))
        }
        other => Err(format!("unknown workload `{other}`")),
    }
}

/// W1: `gelu_tanh(x*a + b)` on `n` f32.
pub fn gelu_affine(n: usize, a: f64, b: f64) -> Result<Func, String> {
    use Opcode::*;
    let mut g = Builder::new("w1_gelu", &[&[n]]);
    let x = g.param(0);
    let xa = g.bin_const(Multiply, x, a)?;
    let y = g.bin_const(Add, xa, b)?;
    let y2 = g.bin(Multiply, y, y)?;
    let y3 = g.bin(Multiply, y2, y)?;
    let cy3 = g.bin_const(Multiply, y3, 0.044715)?;
    let inner = g.bin(Add, y, cy3)?;
    let scaled = g.bin_const(Multiply, inner, (2.0 / std::f64::consts::PI).sqrt())?;
    let t = g.un(Tanh, scaled)?;
    let one_t = g.bin_const(Add, t, 1.0)?;
    let half_y = g.bin_const(Multiply, y, 0.5)?;
    let out = g.bin(Multiply, half_y, one_t)?;
    Ok(g.finish(&[out]))
}

/// W2: row sums and the full sum of a `rows x cols` matrix.
pub fn sums(rows: usize, cols: usize) -> Result<Func, String> {
    let mut g = Builder::new("w2_sums", &[&[rows, cols]]);
    let x = g.param(0);
    let row = g.reduce(Opcode::ReduceSum, x, &[1], false)?;
    let all = g.reduce(Opcode::ReduceSum, x, &[0, 1], false)?;
    Ok(g.finish(&[row, all]))
}

/// W3: softmax of each row (the `tensor.softmax` op, as `mx.softmax` traces).
pub fn softmax_rows(rows: usize, cols: usize) -> Result<Func, String> {
    let mut g = Builder::new("w3_softmax", &[&[rows, cols]]);
    let x = g.param(0);
    let s = g.op(
        Opcode::Softmax,
        &[x],
        Attrs::new().with("axes", Attr::Ints(vec![1])),
    )?;
    Ok(g.finish(&[s]))
}

/// W4: layer norm over rows with weight and bias.
pub fn layer_norm(rows: usize, cols: usize, eps: f64) -> Result<Func, String> {
    use Opcode::*;
    let mut g = Builder::new("w4_layer_norm", &[&[rows, cols], &[cols], &[cols]]);
    let (x, w, b) = (g.param(0), g.param(1), g.param(2));
    let inv_c = 1.0 / cols as f64;
    let sum = g.reduce(ReduceSum, x, &[1], true)?;
    let mean = g.bin_const(Multiply, sum, inv_c)?;
    let mean_b = g.broadcast_to(mean, x)?;
    let d = g.bin(Subtract, x, mean_b)?;
    let d2 = g.bin(Multiply, d, d)?;
    let ss = g.reduce(ReduceSum, d2, &[1], true)?;
    let var = g.bin_const(Multiply, ss, inv_c)?;
    let var_eps = g.bin_const(Add, var, eps)?;
    let rstd = g.un(Rsqrt, var_eps)?;
    let rstd_b = g.broadcast_to(rstd, x)?;
    let norm = g.bin(Multiply, d, rstd_b)?;
    let w_b = g.broadcast_to(w, x)?;
    let scaled = g.bin(Multiply, norm, w_b)?;
    let b_b = g.broadcast_to(b, x)?;
    let out = g.bin(Add, scaled, b_b)?;
    Ok(g.finish(&[out]))
}

/// W5: `a @ b` of two `n x n` matrices.
pub fn matmul(n: usize) -> Result<Func, String> {
    let mut g = Builder::new("w5_matmul", &[&[n, n], &[n, n]]);
    let (a, b) = (g.param(0), g.param(1));
    let c = g.bin(Opcode::Matmul, a, b)?;
    Ok(g.finish(&[c]))
}

/// Sizes of the W6 multilayer perceptron.
pub struct MlpSizes {
    pub batch: usize,
    pub inputs: usize,
    pub hidden: usize,
    pub classes: usize,
    pub lr: f64,
}

impl MlpSizes {
    pub fn from_spec(spec: &WorkloadSpec, mode: Mode) -> Result<Self, String> {
        Ok(MlpSizes {
            batch: spec.size(mode, "batch")?,
            inputs: spec.size(mode, "inputs")?,
            hidden: spec.size(mode, "hidden")?,
            classes: spec.size(mode, "classes")?,
            lr: spec.constant("lr", spec.lr)?,
        })
    }

    /// The inputs `(x, one_hot, w1, b1, w2, b2)` that bench/peers.py uses.
    pub fn inputs(&self) -> Result<Vec<Literal>, String> {
        let s1 = 1.0 / (self.inputs as f64).sqrt();
        let s2 = 1.0 / (self.hidden as f64).sqrt();
        Ok(vec![
            uniform(&[self.batch, self.inputs], 9, 0.0, 1.0)?,
            one_hot(self.batch, self.classes, 10)?,
            uniform(&[self.inputs, self.hidden], 11, -s1, s1)?,
            uniform(&[self.hidden], 12, -0.1, 0.1)?,
            uniform(&[self.hidden, self.classes], 13, -s2, s2)?,
            uniform(&[self.classes], 14, -0.1, 0.1)?,
        ])
    }
}

/// W6's loss: mean cross-entropy of `relu(x@w1+b1)@w2+b2` against one-hot
/// labels; parameters `(x, one_hot, w1, b1, w2, b2)`, one 0-d result.
pub fn mlp_loss(s: &MlpSizes) -> Result<Func, String> {
    use Opcode::*;
    let mut g = Builder::new(
        "w6_loss",
        &[
            &[s.batch, s.inputs],
            &[s.batch, s.classes],
            &[s.inputs, s.hidden],
            &[s.hidden],
            &[s.hidden, s.classes],
            &[s.classes],
        ],
    );
    let (x, oh, w1, b1, w2, b2) = (
        g.param(0),
        g.param(1),
        g.param(2),
        g.param(3),
        g.param(4),
        g.param(5),
    );
    let xw = g.bin(Matmul, x, w1)?;
    let b1b = g.broadcast_to(b1, xw)?;
    let z1 = g.bin(Add, xw, b1b)?;
    let h = g.bin_const(Maximum, z1, 0.0)?;
    let hw = g.bin(Matmul, h, w2)?;
    let b2b = g.broadcast_to(b2, hw)?;
    let logits = g.bin(Add, hw, b2b)?;
    let lse = g.reduce(LogSumExp, logits, &[1], false)?;
    let picked_all = g.bin(Multiply, logits, oh)?;
    let picked = g.reduce(ReduceSum, picked_all, &[1], false)?;
    let per_row = g.bin(Subtract, lse, picked)?;
    let total = g.reduce(ReduceSum, per_row, &[0], false)?;
    let loss = g.bin_const(Multiply, total, 1.0 / s.batch as f64)?;
    Ok(g.finish(&[loss]))
}

/// W6: one training step. `value_and_grad` of [`mlp_loss`] with respect to
/// the four parameters (`psionic_passes::autodiff`, IR to IR), then SGD:
/// results `(loss, w1 - lr*g1, b1 - lr*g2, w2 - lr*g3, b2 - lr*g4)`.
pub fn mlp_step(s: &MlpSizes) -> Result<Func, String> {
    let loss = mlp_loss(s)?;
    let vg = psionic_passes::autodiff::value_and_grad(&loss, &[2, 3, 4, 5])
        .map_err(|e| format!("value_and_grad of @w6_loss: {e}"))?;
    if vg.results.len() != 5 {
        return Err(format!(
            "value_and_grad of @w6_loss gave {} results, expected the loss and 4 gradients",
            vg.results.len()
        ));
    }
    let value = vg.results[0];
    let grads = vg.results[1..].to_vec();
    let mut g = Builder { f: vg };
    g.f.name = "w6_step".into();
    let mut results = vec![value];
    for (k, grad) in grads.into_iter().enumerate() {
        let p = g.param(2 + k);
        let step = g.bin_const(Opcode::Multiply, grad, s.lr)?;
        results.push(g.bin(Opcode::Subtract, p, step)?);
    }
    Ok(g.finish(&results))
}

/// Sizes of the W8 convolution: `batch` images of `size`×`size` pixels
/// with `channels` channels (NHWC), `filters` filters of `kernel`×`kernel`
/// (OHWI, MLX's layout).
pub struct ConvSizes {
    pub batch: usize,
    pub size: usize,
    pub channels: usize,
    pub filters: usize,
    pub kernel: usize,
}

impl ConvSizes {
    pub fn from_spec(spec: &WorkloadSpec, mode: Mode) -> Result<Self, String> {
        Ok(ConvSizes {
            batch: spec.size(mode, "batch")?,
            size: spec.size(mode, "size")?,
            channels: spec.size(mode, "channels")?,
            filters: spec.size(mode, "filters")?,
            kernel: spec.size(mode, "kernel")?,
        })
    }

    fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.size, self.size, self.channels]
    }

    fn weight_shape(&self) -> [usize; 4] {
        [self.filters, self.kernel, self.kernel, self.channels]
    }

    /// The inputs `(x, w, b)` that bench/peers.py uses.
    pub fn inputs(&self) -> Result<Vec<Literal>, String> {
        let s = 1.0 / ((self.channels * self.kernel * self.kernel) as f64).sqrt();
        Ok(vec![
            uniform(&self.input_shape(), 16, -1.0, 1.0)?,
            uniform(&self.weight_shape(), 17, -s, s)?,
            uniform(&[self.filters], 18, -0.1, 0.1)?,
        ])
    }
}

/// W8: `tanh(conv2d(x, w) + b)`, stride 1 and "same" zero padding (an odd
/// kernel), as `mx.conv2d` traces: one `tensor.conv_general`.
pub fn conv_bias_tanh(c: &ConvSizes) -> Result<Func, String> {
    let mut g = Builder::new(
        "w8_conv",
        &[&c.input_shape(), &c.weight_shape(), &[c.filters]],
    );
    let (x, w, b) = (g.param(0), g.param(1), g.param(2));
    let p = (c.kernel / 2) as i64;
    let attrs = Attrs::new()
        .with("kernel_strides", Attr::Ints(vec![1, 1]))
        .with("padding_lo", Attr::Ints(vec![p, p]))
        .with("padding_hi", Attr::Ints(vec![p, p]))
        .with("kernel_dilation", Attr::Ints(vec![1, 1]))
        .with("input_dilation", Attr::Ints(vec![1, 1]))
        .with("groups", Attr::Int(1))
        .with("flip", Attr::Bool(false));
    let y = g.op(Opcode::ConvGeneral, &[x, w], attrs)?;
    let bb = g.broadcast_to(b, y)?;
    let z = g.bin(Opcode::Add, y, bb)?;
    let out = g.un(Opcode::Tanh, z)?;
    Ok(g.finish(&[out]))
}

/// W7: a chain of `ops` elementwise ops on `n` f32, the pattern of
/// `w7_chain` in bench/peers.py: `x*c, x+0.01, tanh(x), x-0.005` repeated,
/// with `c = 1 + salt*1e-6`. Each constant is its own `tensor.full`, as a
/// tracer records a Python scalar, so the function holds `ops` elementwise
/// ops plus one constant for each of the three binary ones in four.
pub fn chain(ops: usize, n: usize, salt: u32) -> Result<Func, String> {
    use Opcode::*;
    let c = 1.0 + f64::from(salt) * 1e-6;
    let mut g = Builder::new("w7_chain", &[&[n]]);
    let mut x = g.param(0);
    for k in 0..ops {
        x = match k % 4 {
            0 => g.bin_const(Multiply, x, c)?,
            1 => g.bin_const(Add, x, 0.01)?,
            2 => g.un(Tanh, x)?,
            _ => g.bin_const(Subtract, x, 0.005)?,
        };
    }
    Ok(g.finish(&[x]))
}

/// W7 as a user writes it: the same chain as [`chain`], written with
/// `psionic-mlx` arrays in a closure and traced by `psionic_mlx::trace`.
pub fn chain_traced(ops: usize, n: usize, salt: u32) -> Result<Func, String> {
    let c = 1.0 + f64::from(salt) * 1e-6;
    psionic_mlx::trace(
        |a| {
            let mut x = a[0].clone();
            for k in 0..ops {
                x = match k % 4 {
                    0 => &x * c,
                    1 => &x + 0.01,
                    2 => psionic_mlx::tanh(&x),
                    _ => &x - 0.005,
                };
            }
            vec![x]
        },
        &[TensorType::from_dims(DType::F32, &[n])],
    )
    .map_err(|e| format!("tracing the W7 chain: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use psionic_ir::verify::verify_func;
    use psionic_runtime::interp::run_func;

    #[test]
    fn every_function_verifies() {
        let s = MlpSizes {
            batch: 4,
            inputs: 6,
            hidden: 5,
            classes: 3,
            lr: 0.1,
        };
        for f in [
            gelu_affine(8, 0.75, 0.1).unwrap(),
            sums(3, 4).unwrap(),
            softmax_rows(3, 4).unwrap(),
            layer_norm(3, 4, 1e-5).unwrap(),
            matmul(3).unwrap(),
            mlp_loss(&s).unwrap(),
            chain(200, 16, 0).unwrap(),
            conv_bias_tanh(&small_conv()).unwrap(),
        ] {
            verify_func(&f).unwrap_or_else(|e| panic!("@{}: {e}", f.name));
        }
        assert_eq!(
            chain(200, 16, 0)
                .unwrap()
                .ops
                .iter()
                .filter(|o| o.opcode.is_elementwise())
                .count(),
            200
        );
    }

    fn small_conv() -> ConvSizes {
        ConvSizes {
            batch: 2,
            size: 5,
            channels: 3,
            filters: 4,
            kernel: 3,
        }
    }

    #[test]
    fn conv_matches_direct_loops() {
        let c = small_conv();
        let f = conv_bias_tanh(&c).unwrap();
        let inputs = c.inputs().unwrap();
        let out = run_func(&f, &inputs).unwrap()[0].to_f64_vec();
        let (x, w, b) = (
            inputs[0].to_f64_vec(),
            inputs[1].to_f64_vec(),
            inputs[2].to_f64_vec(),
        );
        let (n, ch, o, k) = (c.size as i64, c.channels, c.filters, c.kernel as i64);
        let mut at = 0;
        for img in 0..c.batch {
            for i in 0..n {
                for j in 0..n {
                    for f in 0..o {
                        let mut acc = b[f];
                        for di in 0..k {
                            for dj in 0..k {
                                let (y, z) = (i + di - k / 2, j + dj - k / 2);
                                if y < 0 || z < 0 || y >= n || z >= n {
                                    continue;
                                }
                                for q in 0..ch {
                                    let xi = ((img as i64 * n + y) * n + z) as usize * ch + q;
                                    let wi = ((f as i64 * k + di) * k + dj) as usize * ch + q;
                                    acc += x[xi] * w[wi];
                                }
                            }
                        }
                        assert!(
                            (out[at] - acc.tanh()).abs() < 1e-5,
                            "element {at}: {} vs {}",
                            out[at],
                            acc.tanh()
                        );
                        at += 1;
                    }
                }
            }
        }
        assert_eq!(at, out.len());
    }

    #[test]
    fn traced_and_built_chains_compute_the_same() {
        let x = uniform(&[64], 15, -1.0, 1.0).unwrap();
        let built = chain(200, 64, 7).unwrap();
        let traced = chain_traced(200, 64, 7).unwrap();
        verify_func(&traced).unwrap();
        let a = run_func(&built, std::slice::from_ref(&x)).unwrap();
        let b = run_func(&traced, &[x]).unwrap();
        assert_eq!(a[0].to_f64_vec(), b[0].to_f64_vec());
        assert!(
            traced
                .ops
                .iter()
                .filter(|o| o.opcode == Opcode::Tanh)
                .count()
                == 50
        );
    }

    #[test]
    fn gelu_matches_formula() {
        let f = gelu_affine(5, 0.75, 0.1).unwrap();
        let xs = [-3.0f32, -1.0, 0.0, 0.5, 2.5];
        let out = run_func(&f, &[Literal::f32s(vec![5], &xs).unwrap()]).unwrap();
        for (i, &x) in xs.iter().enumerate() {
            let y = x as f64 * 0.75 + 0.1;
            let want = 0.5
                * y
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (y + 0.044715 * y * y * y)).tanh());
            assert!(
                (out[0].get_f64(i) - want).abs() < 1e-6,
                "x={x}: {} vs {want}",
                out[0].get_f64(i)
            );
        }
    }

    #[test]
    fn layer_norm_rows_have_zero_mean_unit_variance() {
        let (r, c) = (3, 64);
        let f = layer_norm(r, c, 1e-5).unwrap();
        let x = uniform(&[r, c], 4, -2.0, 2.0).unwrap();
        let ones = Literal::f32s(vec![c], &vec![1.0; c]).unwrap();
        let zeros = Literal::f32s(vec![c], &vec![0.0; c]).unwrap();
        let out = run_func(&f, &[x, ones, zeros]).unwrap();
        for row in out[0].to_f64_vec().chunks(c) {
            let mean = row.iter().sum::<f64>() / c as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c as f64;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3,
                "mean {mean} var {var}"
            );
        }
    }

    #[test]
    fn mlp_step_descends_along_the_finite_difference_gradient() {
        let s = MlpSizes {
            batch: 4,
            inputs: 6,
            hidden: 5,
            classes: 3,
            lr: 0.1,
        };
        let step = mlp_step(&s).unwrap();
        verify_func(&step).unwrap();
        let loss = mlp_loss(&s).unwrap();
        let inputs = s.inputs().unwrap();
        let out = run_func(&step, &inputs).unwrap();
        let l0 = run_func(&loss, &inputs).unwrap()[0].get_f64(0);
        assert_eq!(out.len(), 5);
        assert!((out[0].get_f64(0) - l0).abs() < 1e-6);
        // For every parameter element: (p - p') / lr equals the central difference of the loss.
        for (k, param) in [2usize, 3, 4, 5].into_iter().enumerate() {
            let p = inputs[param].to_f64_vec();
            let new_p = out[1 + k].to_f64_vec();
            for i in 0..p.len() {
                let h = 1e-2;
                let at = |d: f64| {
                    let mut v = p.clone();
                    v[i] += d;
                    let mut inp = inputs.clone();
                    inp[param] = Literal::f32s(
                        inputs[param].shape().to_vec(),
                        &v.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                    )
                    .unwrap();
                    run_func(&loss, &inp).unwrap()[0].get_f64(0)
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                let g = (p[i] - new_p[i]) / s.lr;
                assert!(
                    (g - fd).abs() < 2e-3,
                    "param {param} element {i}: autodiff {g} vs finite difference {fd}"
                );
            }
        }
    }

    #[test]
    fn mlp_loss_of_uniform_logits_is_log_classes() {
        // Zero weights give equal logits: the loss is ln(classes).
        let s = MlpSizes {
            batch: 4,
            inputs: 6,
            hidden: 5,
            classes: 3,
            lr: 0.1,
        };
        let f = mlp_loss(&s).unwrap();
        let mut inputs = s.inputs().unwrap();
        for i in [2, 3, 4, 5] {
            inputs[i] = Literal::zeros(DType::F32, inputs[i].shape().to_vec()).unwrap();
        }
        let out = run_func(&f, &inputs).unwrap();
        assert!((out[0].get_f64(0) - 3f64.ln()).abs() < 1e-6);
    }
}
