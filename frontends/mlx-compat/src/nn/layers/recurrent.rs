//! `RNN`, `GRU` and `LSTM` over `(..., L, input_size)` sequences, with
//! MLX's parameter names (`Wxh`/`Whh`/`bias`, `Wx`/`Wh`/`b`/`bhn`,
//! `Wx`/`Wh`/`bias`) and step equations, unrolled over `L`.

use crate::array::Array;
use crate::nn::init::uniform_shape;
use crate::nn::{Layer, ModuleState};
use crate::ops::elementwise as ew;
use crate::ops::shape::Idx;
use crate::{impl_module, index, matmul, stack};

fn step(x: &Array, t: i64) -> Array {
    index(
        x,
        &[
            Idx::Ellipsis,
            Idx::Int(t),
            Idx::Slice {
                start: None,
                stop: None,
                step: 1,
            },
        ],
    )
}

fn proj(x: &Array, w: &Array, b: &Option<Array>) -> Array {
    let y = matmul(x, &w.t());
    match b {
        Some(b) => y + b,
        None => y,
    }
}

fn seq_len(x: &Array) -> i64 {
    if x.ndim() < 2 {
        0
    } else {
        x.shape()[x.ndim() - 2]
    }
}

/// MLX's `nn.RNN(input_size, hidden_size, bias=True, nonlinearity=tanh)`.
#[derive(Clone, Debug)]
#[allow(non_snake_case)]
pub struct RNN {
    pub Wxh: Array,
    pub Whh: Array,
    pub bias: Option<Array>,
    pub hidden_size: i64,
    pub nonlinearity: fn(&Array) -> Array,
    pub state: ModuleState,
}
impl RNN {
    pub fn new(input_size: i64, hidden_size: i64, bias: bool) -> Self {
        let s = (1.0 / (hidden_size as f64).sqrt()) as f32;
        RNN {
            Wxh: uniform_shape(s, &[hidden_size, input_size]),
            Whh: uniform_shape(s, &[hidden_size, hidden_size]),
            bias: bias.then(|| uniform_shape(s, &[hidden_size])),
            hidden_size,
            nonlinearity: ew::tanh,
            state: ModuleState::default(),
        }
    }
    /// All hidden states `(..., L, hidden_size)` from an optional initial one.
    pub fn forward_hidden(&self, x: &Array, hidden: Option<&Array>) -> Array {
        let x = proj(x, &self.Wxh, &self.bias);
        let mut h: Option<Array> = hidden.cloned();
        let mut all = Vec::new();
        for t in 0..seq_len(&x) {
            let xt = step(&x, t);
            let pre = match &h {
                Some(h) => xt + matmul(h, &self.Whh.t()),
                None => xt,
            };
            let nh = (self.nonlinearity)(&pre);
            all.push(nh.clone());
            h = Some(nh);
        }
        stack(&all, -2)
    }
}
impl_module!(RNN { array Wxh, array Whh, opt bias });
impl Layer for RNN {
    fn forward(&self, x: &Array) -> Array {
        self.forward_hidden(x, None)
    }
}

/// MLX's `nn.GRU(input_size, hidden_size, bias=True)`.
#[derive(Clone, Debug)]
#[allow(non_snake_case)]
pub struct GRU {
    pub Wx: Array,
    pub Wh: Array,
    pub b: Option<Array>,
    pub bhn: Option<Array>,
    pub hidden_size: i64,
    pub state: ModuleState,
}
impl GRU {
    pub fn new(input_size: i64, hidden_size: i64, bias: bool) -> Self {
        let s = (1.0 / (hidden_size as f64).sqrt()) as f32;
        GRU {
            Wx: uniform_shape(s, &[3 * hidden_size, input_size]),
            Wh: uniform_shape(s, &[3 * hidden_size, hidden_size]),
            b: bias.then(|| uniform_shape(s, &[3 * hidden_size])),
            bhn: bias.then(|| uniform_shape(s, &[hidden_size])),
            hidden_size,
            state: ModuleState::default(),
        }
    }
    pub fn forward_hidden(&self, x: &Array, hidden: Option<&Array>) -> Array {
        let hs = self.hidden_size;
        let x = proj(x, &self.Wx, &self.b);
        let n3 = x.shape()[x.ndim() - 1];
        let sl = |a: &Array, lo: i64, hi: i64| {
            index(
                a,
                &[
                    Idx::Ellipsis,
                    Idx::Slice {
                        start: Some(lo),
                        stop: Some(hi),
                        step: 1,
                    },
                ],
            )
        };
        let x_rz = sl(&x, 0, n3 - hs);
        let x_n = sl(&x, n3 - hs, n3);
        let mut h: Option<Array> = hidden.cloned();
        let mut all = Vec::new();
        for t in 0..seq_len(&x) {
            let mut rz = step(&x_rz, t);
            let mut h_proj_n = None;
            if let Some(hp) = &h {
                let p = matmul(hp, &self.Wh.t());
                let m = p.shape()[p.ndim() - 1];
                let mut pn = sl(&p, m - hs, m);
                if let Some(bhn) = &self.bhn {
                    pn = pn + bhn;
                }
                rz = rz + sl(&p, 0, m - hs);
                h_proj_n = Some(pn);
            }
            let rz = ew::sigmoid(&rz);
            let parts = super::split_n(&rz, 2, -1);
            let (r, z) = (&parts[0], &parts[1]);
            let mut n = step(&x_n, t);
            match (&h_proj_n, &self.bhn) {
                (Some(pn), _) => n = n + r * pn,
                (None, Some(bhn)) => n = n + r * bhn,
                _ => {}
            }
            let n = ew::tanh(&n);
            let keep: Array = 1.0 - z;
            let nh: Array = match &h {
                Some(hp) => keep * &n + z * hp,
                None => keep * &n,
            };
            all.push(nh.clone());
            h = Some(nh);
        }
        stack(&all, -2)
    }
}
impl_module!(GRU { array Wx, array Wh, opt b, opt bhn });
impl Layer for GRU {
    fn forward(&self, x: &Array) -> Array {
        self.forward_hidden(x, None)
    }
}

/// MLX's `nn.LSTM(input_size, hidden_size, bias=True)`; gates `i, f, g, o`.
#[derive(Clone, Debug)]
#[allow(non_snake_case)]
pub struct LSTM {
    pub Wx: Array,
    pub Wh: Array,
    pub bias: Option<Array>,
    pub hidden_size: i64,
    pub state: ModuleState,
}
impl LSTM {
    pub fn new(input_size: i64, hidden_size: i64, bias: bool) -> Self {
        let s = (1.0 / (hidden_size as f64).sqrt()) as f32;
        LSTM {
            Wx: uniform_shape(s, &[4 * hidden_size, input_size]),
            Wh: uniform_shape(s, &[4 * hidden_size, hidden_size]),
            bias: bias.then(|| uniform_shape(s, &[4 * hidden_size])),
            hidden_size,
            state: ModuleState::default(),
        }
    }
    /// `(hidden states, cell states)`, each `(..., L, hidden_size)`.
    pub fn forward_state(
        &self,
        x: &Array,
        hidden: Option<&Array>,
        cell: Option<&Array>,
    ) -> (Array, Array) {
        let x = proj(x, &self.Wx, &self.bias);
        let mut h: Option<Array> = hidden.cloned();
        let mut c: Option<Array> = cell.cloned();
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        for t in 0..seq_len(&x) {
            let mut ifgo = step(&x, t);
            if let Some(hp) = &h {
                ifgo = ifgo + matmul(hp, &self.Wh.t());
            }
            let g4 = super::split_n(&ifgo, 4, -1);
            let i = ew::sigmoid(&g4[0]);
            let f = ew::sigmoid(&g4[1]);
            let g = ew::tanh(&g4[2]);
            let o = ew::sigmoid(&g4[3]);
            let nc = match &c {
                Some(cp) => f * cp + &i * &g,
                None => &i * &g,
            };
            let nh = o * ew::tanh(&nc);
            hs.push(nh.clone());
            cs.push(nc.clone());
            h = Some(nh);
            c = Some(nc);
        }
        (stack(&hs, -2), stack(&cs, -2))
    }
}
impl_module!(LSTM { array Wx, array Wh, opt bias });
impl Layer for LSTM {
    /// The hidden states (use [`LSTM::forward_state`] for the cells too).
    fn forward(&self, x: &Array) -> Array {
        self.forward_state(x, None, None).0
    }
}
