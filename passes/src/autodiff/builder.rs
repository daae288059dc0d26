//! Small IR-building helpers shared by the transforms: emit one op and get
//! its result, make constants shaped like a value (static shapes get a
//! `tensor.full`, shapes with `DYN` dims a 0-d `tensor.full` broadcast with
//! `tensor.broadcast_like` against the value), reduce a broadcast back, copy
//! ("inline") one function into another, and remove dead ops.

use super::TransformError;
use psionic_ir::{Attr, Attrs, DType, Func, Opcode, TensorType, Value, DYN};

/// Emits ops into a function. Every helper checks its op through
/// [`Func::push`], so a rule that builds an ill-typed op reports it as an error.
pub struct B<'f> {
    pub f: &'f mut Func,
}

pub type R<T> = Result<T, TransformError>;

pub fn ints(v: impl IntoIterator<Item = usize>) -> Attr {
    Attr::Ints(v.into_iter().map(|x| x as i64).collect())
}

impl<'f> B<'f> {
    pub fn new(f: &'f mut Func) -> Self {
        B { f }
    }

    pub fn ty(&self, v: Value) -> TensorType {
        self.f.ty(v).clone()
    }
    pub fn rank(&self, v: Value) -> usize {
        self.f.ty(v).rank()
    }
    pub fn dtype(&self, v: Value) -> DType {
        self.f.ty(v).dtype
    }

    pub fn op(&mut self, opcode: Opcode, operands: &[Value], attrs: Attrs) -> R<Value> {
        Ok(self.f.push1(opcode, operands, attrs)?)
    }
    pub fn ops(&mut self, opcode: Opcode, operands: &[Value], attrs: Attrs) -> R<Vec<Value>> {
        Ok(self.f.push(opcode, operands, attrs)?)
    }
    pub fn un(&mut self, opcode: Opcode, x: Value) -> R<Value> {
        self.op(opcode, &[x], Attrs::new())
    }
    pub fn bin(&mut self, opcode: Opcode, a: Value, b: Value) -> R<Value> {
        self.op(opcode, &[a, b], Attrs::new())
    }
    pub fn add(&mut self, a: Value, b: Value) -> R<Value> {
        self.bin(Opcode::Add, a, b)
    }
    pub fn sub(&mut self, a: Value, b: Value) -> R<Value> {
        self.bin(Opcode::Subtract, a, b)
    }
    pub fn mul(&mut self, a: Value, b: Value) -> R<Value> {
        self.bin(Opcode::Multiply, a, b)
    }
    pub fn div(&mut self, a: Value, b: Value) -> R<Value> {
        self.bin(Opcode::Divide, a, b)
    }
    pub fn neg(&mut self, a: Value) -> R<Value> {
        self.un(Opcode::Negative, a)
    }

    /// `a + b` where either may be a symbolic zero (`None`).
    pub fn add_opt(&mut self, a: Option<Value>, b: Option<Value>) -> R<Option<Value>> {
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(self.add(a, b)?),
            (a, None) => a,
            (None, b) => b,
        })
    }

    /// A tensor of `value` with `like`'s dtype and shape.
    pub fn scalar_like(&mut self, value: f64, like: Value) -> R<Value> {
        let t = self.ty(like);
        self.fill(value, &t, Some(like))
    }

    /// A tensor of `value` of type `t`. When `t` has `DYN` dims, `donor`
    /// (a value of that shape) gives the shape at run time.
    pub fn fill(&mut self, value: f64, t: &TensorType, donor: Option<Value>) -> R<Value> {
        let full = |shape: Vec<i64>| {
            Attrs::new()
                .with("value", Attr::Float(value))
                .with("shape", Attr::Ints(shape))
                .with("dtype", Attr::DType(t.dtype))
        };
        if t.is_static() {
            return self.op(Opcode::Full, &[], full(t.shape.clone()));
        }
        let donor = donor.ok_or_else(|| {
            TransformError::new(format!(
                "cannot build a constant of type {t} without a value giving its shape"
            ))
        })?;
        let s = self.op(Opcode::Full, &[], full(Vec::new()))?;
        self.op(Opcode::BroadcastLike, &[s, donor], Attrs::new())
    }

    pub fn zeros_like(&mut self, like: Value) -> R<Value> {
        self.scalar_like(0.0, like)
    }

    /// `x * c` for a constant `c` (skipped when `c == 1`).
    pub fn scale(&mut self, x: Value, c: f64) -> R<Value> {
        if c == 1.0 {
            return Ok(x);
        }
        if c == -1.0 {
            return self.neg(x);
        }
        let k = self.scalar_like(c, x)?;
        self.mul(x, k)
    }

    pub fn cast(&mut self, x: Value, dtype: DType) -> R<Value> {
        if self.dtype(x) == dtype {
            return Ok(x);
        }
        self.op(
            Opcode::Cast,
            &[x],
            Attrs::new().with("dtype", Attr::DType(dtype)),
        )
    }

    pub fn reduce(&mut self, opcode: Opcode, x: Value, axes: &[usize], keepdims: bool) -> R<Value> {
        let mut a = Attrs::new().with("axes", ints(axes.iter().copied()));
        if keepdims {
            a.set("keepdims", Attr::Bool(true));
        }
        self.op(opcode, &[x], a)
    }
    pub fn sum(&mut self, x: Value, axes: &[usize], keepdims: bool) -> R<Value> {
        if axes.is_empty() {
            return Ok(x);
        }
        self.reduce(Opcode::ReduceSum, x, axes, keepdims)
    }
    pub fn expand_dims(&mut self, x: Value, axes: &[usize]) -> R<Value> {
        if axes.is_empty() {
            return Ok(x);
        }
        self.op(
            Opcode::ExpandDims,
            &[x],
            Attrs::new().with("axes", ints(axes.iter().copied())),
        )
    }
    pub fn squeeze(&mut self, x: Value, axes: &[usize]) -> R<Value> {
        if axes.is_empty() {
            return Ok(x);
        }
        self.op(
            Opcode::Squeeze,
            &[x],
            Attrs::new().with("axes", ints(axes.iter().copied())),
        )
    }
    pub fn transpose(&mut self, x: Value, perm: &[usize]) -> R<Value> {
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(x);
        }
        self.op(
            Opcode::Transpose,
            &[x],
            Attrs::new().with("perm", ints(perm.iter().copied())),
        )
    }
    /// Swaps the last two axes.
    pub fn mt(&mut self, x: Value) -> R<Value> {
        let r = self.rank(x);
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.transpose(x, &perm)
    }
    pub fn matmul(&mut self, a: Value, b: Value) -> R<Value> {
        self.bin(Opcode::Matmul, a, b)
    }

    /// Reshape to `t`'s shape; `DYN` dims become the one allowed `-1`.
    pub fn reshape_to(&mut self, x: Value, t: &TensorType) -> R<Value> {
        if self.f.ty(x).shape == t.shape {
            return Ok(x);
        }
        let n_dyn = t.shape.iter().filter(|&&d| d == DYN).count();
        if n_dyn > 1 {
            return Err(TransformError::new(format!(
                "cannot reshape back to {t}: more than one symbolic dimension"
            )));
        }
        self.op(
            Opcode::Reshape,
            &[x],
            Attrs::new().with("shape", Attr::Ints(t.shape.clone())),
        )
    }

    /// Broadcasts `x` to the shape of `like` (NumPy rules): a static
    /// `tensor.broadcast` when that shape is static, else `broadcast_like`.
    pub fn broadcast_to_value(&mut self, x: Value, like: Value) -> R<Value> {
        let t = self.ty(like);
        if self.f.ty(x).shape == t.shape {
            return Ok(x);
        }
        if t.is_static() {
            self.op(
                Opcode::Broadcast,
                &[x],
                Attrs::new().with("shape", Attr::Ints(t.shape.clone())),
            )
        } else {
            self.op(Opcode::BroadcastLike, &[x, like], Attrs::new())
        }
    }

    /// Sums `ct` (of a broadcast result's shape) back to the shape of `x`'s
    /// type: leading axes are summed away, axes where `x` has a static 1 and
    /// the result does not are summed with keepdims. A `DYN` dim of `x` is
    /// taken as not stretched (that is what a shapeless trace records).
    pub fn unbroadcast(&mut self, ct: Value, xt: &TensorType) -> R<Value> {
        let ct_t = self.ty(ct);
        let lead = ct_t.rank() - xt.rank();
        let lead_axes: Vec<usize> = (0..lead).collect();
        let keep_axes: Vec<usize> = (0..xt.rank())
            .filter(|&i| xt.shape[i] == 1 && ct_t.shape[lead + i] != 1)
            .collect();
        let mut v = ct;
        if !keep_axes.is_empty() {
            let axes: Vec<usize> = keep_axes.iter().map(|a| a + lead).collect();
            v = self.sum(v, &axes, true)?;
        }
        v = self.sum(v, &lead_axes, false)?;
        Ok(v)
    }

    /// Moves axis `from` to position `to`.
    pub fn move_axis(&mut self, x: Value, from: usize, to: usize) -> R<Value> {
        if from == to {
            return Ok(x);
        }
        let r = self.rank(x);
        let mut perm: Vec<usize> = (0..r).filter(|&i| i != from).collect();
        perm.insert(to, from);
        self.transpose(x, &perm)
    }

    /// Int32 indices `0, 1, ...` along `axis`, shaped like `like`.
    pub fn index_along(&mut self, like: Value, axis: usize) -> R<Value> {
        let t = self.ty(like);
        if t.is_static() {
            return self.op(
                Opcode::Iota,
                &[],
                Attrs::new()
                    .with("shape", Attr::Ints(t.shape.clone()))
                    .with("dtype", Attr::DType(DType::I32))
                    .with("axis", Attr::Int(axis as i64)),
            );
        }
        let ones = self.fill(1.0, &t.with_dtype(DType::I32), Some(like))?;
        self.op(
            Opcode::Cumsum,
            &[ones],
            Attrs::new()
                .with("axis", Attr::Int(axis as i64))
                .with("inclusive", Attr::Bool(false)),
        )
    }
}

/// Copies `src`'s ops into `dst`, with `args` standing for `src`'s
/// parameters; returns the values of `src`'s results in `dst`.
pub fn inline(dst: &mut Func, src: &Func, args: &[Value]) -> R<Vec<Value>> {
    if args.len() != src.params.len() {
        return Err(TransformError::new(format!(
            "`{}` takes {} arguments, {} given",
            src.name,
            src.params.len(),
            args.len()
        )));
    }
    let mut map: Vec<Option<Value>> = vec![None; src.value_types.len()];
    for (&p, &a) in src.params.iter().zip(args) {
        map[p.index()] = Some(a);
    }
    let get = |map: &[Option<Value>], v: Value| {
        map[v.index()].ok_or_else(|| {
            TransformError::new(format!("`{}` uses %{} before defining it", src.name, v.0))
        })
    };
    for op in &src.ops {
        let operands = op
            .operands
            .iter()
            .map(|&v| get(&map, v))
            .collect::<R<Vec<_>>>()?;
        let res = dst.push_at(op.opcode, &operands, op.attrs.clone(), op.loc)?;
        for (&r, n) in op.results.iter().zip(res) {
            map[r.index()] = Some(n);
        }
    }
    src.results.iter().map(|&v| get(&map, v)).collect()
}

/// Removes ops whose results nothing uses, then renumbers values.
pub fn dce(f: &Func) -> Func {
    let mut live = vec![false; f.value_types.len()];
    for &r in &f.results {
        live[r.index()] = true;
    }
    let mut keep = vec![false; f.ops.len()];
    for (i, op) in f.ops.iter().enumerate().rev() {
        if op.results.iter().any(|r| live[r.index()]) {
            keep[i] = true;
            for &o in &op.operands {
                live[o.index()] = true;
            }
        }
    }
    let mut out = f.clone();
    out.ops = f
        .ops
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(op, _)| op.clone())
        .collect();
    out.compact()
}
