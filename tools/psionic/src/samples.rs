//! Sample applications of every op of the op table, for generated lit tests
//! (`examples/gen_op_lit.rs`) and per-op tests (constant folding).
//! Ops the generic samples cannot build need a row in `special`.

use psionic_ir::ops::OpClass;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};

fn t(d: DType, s: &[i64]) -> TensorType {
    TensorType::new(d, s.to_vec())
}
fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

type Sample = (Vec<TensorType>, Attrs);

/// Hand-written samples for ops the generic ones do not fit.
fn special(op: Opcode) -> Vec<Sample> {
    use DType::*;
    use Opcode::*;
    let f = |s: &[i64]| t(F32, s);
    let i = |s: &[i64]| t(I32, s);
    let a = Attrs::new;
    match op {
        Constant => vec![(
            vec![],
            a().with(
                "value",
                Attr::Dense(Literal::f32s(vec![2, 2], &[1.0, -2.5, 0.0, 3.0e10]).unwrap()),
            ),
        )],
        Full => vec![(
            vec![],
            a().with("value", Attr::Float(1.5))
                .with("shape", ints(&[2, 3]))
                .with("dtype", Attr::DType(F32)),
        )],
        Iota => vec![(
            vec![],
            a().with("shape", ints(&[2, 3]))
                .with("dtype", Attr::DType(I32))
                .with("axis", Attr::Int(1)),
        )],
        Arange => vec![(
            vec![],
            a().with("start", Attr::Float(0.0))
                .with("stop", Attr::Float(5.0))
                .with("step", Attr::Float(0.5))
                .with("dtype", Attr::DType(F32)),
        )],
        Equal => vec![(
            vec![f(&[2, 3]), f(&[2, 3])],
            a().with("equal_nan", Attr::Bool(true)),
        )],
        Select => vec![(vec![t(Bool, &[2, 3]), f(&[2, 3]), f(&[2, 3])], a())],
        Cast => vec![(vec![f(&[2, 3])], a().with("dtype", Attr::DType(I32)))],
        Bitcast => vec![(vec![f(&[2, 3])], a().with("dtype", Attr::DType(U8)))],
        ReduceSum | ReduceProd | ReduceMax | ReduceMin | LogSumExp => {
            vec![(
                vec![f(&[2, 3])],
                a().with("axes", ints(&[1]))
                    .with("keepdims", Attr::Bool(true)),
            )]
        }
        ReduceAll | ReduceAny => vec![(vec![t(Bool, &[2, 3])], a().with("axes", ints(&[0, 1])))],
        Argmax | Argmin => vec![(vec![f(&[2, 3])], a().with("axis", Attr::Int(1)))],
        Softmax => vec![(
            vec![f(&[2, 3])],
            a().with("axes", ints(&[1]))
                .with("precise", Attr::Bool(true)),
        )],
        Cumsum | Cumprod | Cummax | Cummin | CumLogAddExp => vec![(
            vec![f(&[2, 3])],
            a().with("axis", Attr::Int(1))
                .with("reverse", Attr::Bool(true))
                .with("inclusive", Attr::Bool(false)),
        )],
        Reshape => vec![(vec![f(&[2, 3])], a().with("shape", ints(&[3, 2])))],
        Transpose => vec![(vec![f(&[2, 3, 4])], a().with("perm", ints(&[2, 0, 1])))],
        Broadcast => vec![(vec![f(&[1, 3])], a().with("shape", ints(&[4, 2, 3])))],
        BroadcastLike => vec![(vec![f(&[1, 3]), f(&[2, 1])], a())],
        ExpandDims => vec![(vec![f(&[2, 3])], a().with("axes", ints(&[0, 2])))],
        Squeeze => vec![(vec![f(&[1, 3, 1])], a().with("axes", ints(&[0, 2])))],
        Flatten => vec![(
            vec![f(&[2, 3, 4])],
            a().with("start_axis", Attr::Int(1))
                .with("end_axis", Attr::Int(2)),
        )],
        Unflatten => vec![(
            vec![f(&[2, 6])],
            a().with("axis", Attr::Int(1)).with("shape", ints(&[3, -1])),
        )],
        Slice => vec![(
            vec![f(&[4, 6])],
            a().with("start", ints(&[1, 5]))
                .with("stop", ints(&[4, -1]))
                .with("strides", ints(&[2, -2])),
        )],
        SliceUpdate => vec![(
            vec![f(&[4, 3]), f(&[2, 3])],
            a().with("start", ints(&[0, 0]))
                .with("stop", ints(&[4, 3]))
                .with("strides", ints(&[2, 1]))
                .with("reduce", Attr::Str("sum".into())),
        )],
        Pad => vec![(
            vec![f(&[2, 3]), f(&[])],
            a().with("low", ints(&[1, 0])).with("high", ints(&[0, 2])),
        )],
        Concatenate => vec![(vec![f(&[2, 3]), f(&[1, 3])], a().with("axis", Attr::Int(0)))],
        Split => vec![(
            vec![f(&[2, 6])],
            a().with("indices", ints(&[1, 4]))
                .with("axis", Attr::Int(1)),
        )],
        Flip => vec![(vec![f(&[2, 3])], a().with("axes", ints(&[0, 1])))],
        DynamicSlice => vec![(
            vec![f(&[4, 3]), i(&[1])],
            a().with("axes", ints(&[0])).with("sizes", ints(&[2, 3])),
        )],
        DynamicSliceUpdate => vec![(
            vec![f(&[4, 3]), f(&[2, 3]), i(&[1])],
            a().with("axes", ints(&[0])),
        )],
        Gather => vec![(
            vec![f(&[4, 3]), i(&[5])],
            a().with("axes", ints(&[0]))
                .with("slice_sizes", ints(&[1, 3])),
        )],
        TakeAlongAxis => vec![(vec![f(&[4, 3]), i(&[4, 2])], a().with("axis", Attr::Int(1)))],
        Scatter => vec![(
            vec![f(&[4, 3]), i(&[2]), f(&[2, 1, 3])],
            a().with("axes", ints(&[0]))
                .with("reduce", Attr::Str("sum".into())),
        )],
        ScatterAxis => vec![(
            vec![f(&[4, 3]), i(&[4, 1]), f(&[4, 1])],
            a().with("axis", Attr::Int(1)),
        )],
        Sort | Argsort => vec![(vec![f(&[2, 3])], a().with("axis", Attr::Int(1)))],
        Partition | Argpartition => vec![(
            vec![f(&[2, 5])],
            a().with("kth", Attr::Int(2)).with("axis", Attr::Int(1)),
        )],
        Matmul => vec![(vec![f(&[5, 2, 3]), f(&[5, 3, 4])], a())],
        AddMM => vec![(
            vec![f(&[2, 4]), f(&[2, 3]), f(&[3, 4])],
            a().with("alpha", Attr::Float(0.5))
                .with("beta", Attr::Float(2.0)),
        )],
        NumberOfElements => vec![(
            vec![f(&[2, 3])],
            a().with("axes", ints(&[0, 1]))
                .with("inverted", Attr::Bool(true))
                .with("dtype", Attr::DType(F32)),
        )],
        _ => vec![],
    }
}

/// Generic samples by class, tried in order until one builds.
fn generic(op: Opcode) -> Vec<Sample> {
    let arity = match op.def().operands {
        psionic_ir::ops::Arity::Exact(n) => n,
        psionic_ir::ops::Arity::AtLeast(n) => n.max(1),
    };
    let mut out = Vec::new();
    for d in [DType::F32, DType::I32, DType::Bool] {
        for shape in [&[2, 3][..], &[4][..]] {
            out.push((vec![t(d, shape); arity], Attrs::new()));
            if matches!(
                op.class(),
                OpClass::Reduction | OpClass::Scan | OpClass::Sort
            ) {
                out.push((
                    vec![t(d, shape); arity],
                    Attrs::new().with("axis", Attr::Int(0)),
                ));
                out.push((
                    vec![t(d, shape); arity],
                    Attrs::new().with("axes", ints(&[0])),
                ));
            }
        }
    }
    out
}

/// A small function applying `op` to its parameters, built from the samples
/// above (the first that `Func::push` accepts).
pub fn build(op: Opcode) -> Result<Func, String> {
    let mut last = String::from("no sample");
    for (tys, attrs) in special(op).into_iter().chain(generic(op)) {
        let name = op.name().trim_start_matches("tensor.");
        let mut f = Func::new(name, tys.clone());
        let params = f.params.clone();
        match f.push(op, &params, attrs) {
            Ok(results) => {
                f.results = results;
                return Ok(f);
            }
            Err(e) => last = e.message,
        }
    }
    Err(last)
}
