//! The op table: one definition per op drives parsing, printing, verification
//! and `docs/IR.md`. Adding an op means adding one row here (and its shape
//! rule in [`crate::infer`]); everything that walks ops by name reads this table.
//!
//! Conventions every row follows:
//! - Elementwise ops take operands of one shape and one dtype: broadcasting
//!   and promotion are explicit (`tensor.broadcast`, `tensor.cast`), as in MLX's
//!   primitives, so every pass sees the data movement it must pay for.
//! - Axes in attributes are non-negative and in range, except where a row says
//!   otherwise (`ignore_axes` of `tensor.broadcast_like` counts from the end).
//! - An attribute marked optional has the default its description names.

use crate::attr::{AttrKind, Attrs};
use crate::infer;
use crate::infer_extra;
use crate::types::TensorType;

/// How many operands an op takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Exact(usize),
    AtLeast(usize),
}

impl Arity {
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::AtLeast(k) => n >= k,
        }
    }
    pub fn describe(self) -> String {
        match self {
            Arity::Exact(1) => "1 operand".into(),
            Arity::Exact(k) => format!("{k} operands"),
            Arity::AtLeast(k) => format!("at least {k} operands"),
        }
    }
}

/// One attribute an op accepts.
#[derive(Clone, Copy, Debug)]
pub struct AttrSpec {
    pub name: &'static str,
    pub kind: AttrKind,
    pub required: bool,
    pub doc: &'static str,
}

/// Broad families of ops, used by passes (fusion, autodiff) and docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpClass {
    /// No operands; the result comes from attributes.
    Creation,
    /// One operand, applied element by element, shape kept.
    Unary,
    /// Two operands of one shape, element by element.
    Binary,
    /// Two operands of one shape and dtype, giving bool.
    Compare,
    /// Reductions over axes.
    Reduction,
    /// Cumulative ops along one axis.
    Scan,
    /// Data movement that only reindexes: reshape, transpose, broadcast, slice, ...
    Layout,
    /// Data-dependent indexing: gather, scatter, dynamic slices.
    Indexing,
    /// Sorting and partitioning.
    Sort,
    /// Contractions: matmul and friends.
    Contraction,
    /// Everything else (select, cast, fused composites such as softmax).
    Other,
}

/// The signature of a shape-and-dtype rule: operand types and attributes in,
/// result types out, or a message saying what is wrong.
pub type InferFn = fn(&[&TensorType], &Attrs) -> Result<Vec<TensorType>, String>;

/// The definition of one op.
#[derive(Debug)]
pub struct OpDef {
    pub opcode: Opcode,
    /// Full name in the text form, e.g. `tensor.add`.
    pub name: &'static str,
    pub class: OpClass,
    pub operands: Arity,
    pub attrs: &'static [AttrSpec],
    /// Result types from operand types and attributes.
    pub infer: InferFn,
    /// One line for docs/IR.md.
    pub summary: &'static str,
}

const fn req(name: &'static str, kind: AttrKind, doc: &'static str) -> AttrSpec {
    AttrSpec {
        name,
        kind,
        required: true,
        doc,
    }
}
const fn opt(name: &'static str, kind: AttrKind, doc: &'static str) -> AttrSpec {
    AttrSpec {
        name,
        kind,
        required: false,
        doc,
    }
}

use AttrKind as K;

const NO_ATTRS: &[AttrSpec] = &[];
const VALUE_DENSE: &[AttrSpec] = &[req("value", K::Dense, "the tensor's data")];
const FULL_ATTRS: &[AttrSpec] = &[
    req("value", K::Float, "the fill value, converted to `dtype`"),
    req("shape", K::Ints, "result shape"),
    req("dtype", K::DType, "result dtype"),
];
const IOTA_ATTRS: &[AttrSpec] = &[
    req("shape", K::Ints, "result shape"),
    req("dtype", K::DType, "result dtype"),
    req("axis", K::Int, "the axis whose index each element holds"),
];
const ARANGE_ATTRS: &[AttrSpec] = &[
    req("start", K::Float, "first value"),
    req("stop", K::Float, "exclusive bound"),
    req("step", K::Float, "increment (non-zero)"),
    req("dtype", K::DType, "result dtype"),
];
const EQUAL_ATTRS: &[AttrSpec] = &[opt("equal_nan", K::Bool, "NaN equals NaN (default false)")];
const DTYPE_ATTR: &[AttrSpec] = &[req("dtype", K::DType, "target dtype")];
const REDUCE_ATTRS: &[AttrSpec] = &[
    req("axes", K::Ints, "axes to reduce, sorted, unique"),
    opt(
        "keepdims",
        K::Bool,
        "keep reduced axes as size 1 (default false)",
    ),
];
const ARG_REDUCE_ATTRS: &[AttrSpec] = &[
    req("axis", K::Int, "axis to reduce"),
    opt(
        "keepdims",
        K::Bool,
        "keep the reduced axis as size 1 (default false)",
    ),
];
const SOFTMAX_ATTRS: &[AttrSpec] = &[
    req("axes", K::Ints, "axes normalized over"),
    opt(
        "precise",
        K::Bool,
        "accumulate half types in f32 (default false)",
    ),
];
const SCAN_ATTRS: &[AttrSpec] = &[
    req("axis", K::Int, "axis scanned"),
    opt("reverse", K::Bool, "scan from the end (default false)"),
    opt(
        "inclusive",
        K::Bool,
        "element i includes x[i] (default true)",
    ),
];
const SHAPE_ATTR: &[AttrSpec] = &[req(
    "shape",
    K::Ints,
    "result shape; reshape allows one -1, inferred",
)];
const PERM_ATTR: &[AttrSpec] = &[req(
    "perm",
    K::Ints,
    "result axis i is operand axis perm[i]",
)];
const BROADCAST_LIKE_ATTRS: &[AttrSpec] = &[opt(
    "ignore_axes",
    K::Ints,
    "negative axes (from the end) kept from the first operand (default none)",
)];
const AXES_ATTR: &[AttrSpec] = &[req("axes", K::Ints, "axes, sorted, unique")];
const FLATTEN_ATTRS: &[AttrSpec] = &[
    req("start_axis", K::Int, "first axis merged"),
    req("end_axis", K::Int, "last axis merged (inclusive)"),
];
const UNFLATTEN_ATTRS: &[AttrSpec] = &[
    req("axis", K::Int, "axis split"),
    req("shape", K::Ints, "sizes it splits into; one may be -1"),
];
const SLICE_ATTRS: &[AttrSpec] = &[
    req("start", K::Ints, "first index per axis"),
    req(
        "stop",
        K::Ints,
        "exclusive bound per axis (-1 past the front for negative strides)",
    ),
    req("strides", K::Ints, "step per axis, non-zero"),
];
const SLICE_UPDATE_ATTRS: &[AttrSpec] = &[
    req("start", K::Ints, "first index per axis"),
    req("stop", K::Ints, "exclusive bound per axis"),
    req("strides", K::Ints, "step per axis, non-zero"),
    opt(
        "reduce",
        K::Str,
        "`none` (overwrite, default), `sum`, `prod`, `max` or `min`",
    ),
];
const DYNAMIC_SLICE_ATTRS: &[AttrSpec] = &[
    req("axes", K::Ints, "axes the start indices apply to"),
    req("sizes", K::Ints, "result shape (full rank)"),
];
const DYNAMIC_SLICE_UPDATE_ATTRS: &[AttrSpec] =
    &[req("axes", K::Ints, "axes the start indices apply to")];
const PAD_ATTRS: &[AttrSpec] = &[
    req("low", K::Ints, "elements added before, per axis"),
    req("high", K::Ints, "elements added after, per axis"),
];
const AXIS_ATTR: &[AttrSpec] = &[req("axis", K::Int, "the axis")];
const SPLIT_ATTRS: &[AttrSpec] = &[
    req("indices", K::Ints, "split points, ascending"),
    req("axis", K::Int, "the axis split"),
];
const GATHER_ATTRS: &[AttrSpec] = &[
    req(
        "axes",
        K::Ints,
        "operand axis indexed by each index operand",
    ),
    req(
        "slice_sizes",
        K::Ints,
        "size of the slice taken at each index (full rank)",
    ),
];
const SCATTER_ATTRS: &[AttrSpec] = &[
    req(
        "axes",
        K::Ints,
        "operand axis indexed by each index operand",
    ),
    opt(
        "reduce",
        K::Str,
        "`none` (overwrite, default), `sum`, `prod`, `max` or `min`",
    ),
];
const SCATTER_AXIS_ATTRS: &[AttrSpec] = &[
    req("axis", K::Int, "the axis indexed"),
    opt("reduce", K::Str, "`none` (overwrite, default) or `sum`"),
];
const PARTITION_ATTRS: &[AttrSpec] = &[
    req("kth", K::Int, "index that ends up in sorted position"),
    req("axis", K::Int, "the axis"),
];
const ADDMM_ATTRS: &[AttrSpec] = &[
    opt("alpha", K::Float, "scale of a@b (default 1)"),
    opt("beta", K::Float, "scale of c (default 1)"),
];
const NUMBER_OF_ELEMENTS_ATTRS: &[AttrSpec] = &[
    req("axes", K::Ints, "axes counted"),
    opt("inverted", K::Bool, "give 1/count (default false)"),
    req("dtype", K::DType, "result dtype"),
];

// ---- MLX extras: attribute specs (names mirror MLX primitive state) ----
const CONV_ATTRS: &[AttrSpec] = &[
    req("kernel_strides", K::Ints, "stride per spatial axis"),
    req(
        "padding_lo",
        K::Ints,
        "zeros added before, per spatial axis",
    ),
    req("padding_hi", K::Ints, "zeros added after, per spatial axis"),
    req(
        "kernel_dilation",
        K::Ints,
        "kernel dilation per spatial axis",
    ),
    req(
        "input_dilation",
        K::Ints,
        "input dilation per spatial axis (transposed convolutions)",
    ),
    req("groups", K::Int, "channel groups"),
    req(
        "flip",
        K::Bool,
        "flip the kernel spatially (true convolution rather than correlation)",
    ),
];
const FFT_ATTRS: &[AttrSpec] = &[
    req(
        "axes",
        K::Ints,
        "axes transformed; the real axis (if any) is the last listed",
    ),
    req("inverse", K::Bool, "inverse transform (scaled by 1/n)"),
    req(
        "real",
        K::Bool,
        "real input (forward) or real output (inverse)",
    ),
    req(
        "odd_out",
        K::Bool,
        "an inverse real FFT gives 2*(n-1)+1 rather than 2*(n-1) elements",
    ),
];
const SVD_ATTRS: &[AttrSpec] = &[req("compute_uv", K::Bool, "also give U and Vt (full)")];
const INVERSE_ATTRS: &[AttrSpec] = &[
    req("tri", K::Bool, "the operand is triangular"),
    req("upper", K::Bool, "which triangle, when `tri`"),
];
const CHOLESKY_ATTRS: &[AttrSpec] = &[req("upper", K::Bool, "give U with A = U^T U rather than L")];
const EIGH_ATTRS: &[AttrSpec] = &[
    req("uplo", K::Str, "\"L\" or \"U\": the triangle read"),
    req(
        "compute_eigenvectors",
        K::Bool,
        "also give the eigenvectors",
    ),
];
const EIG_ATTRS: &[AttrSpec] = &[req(
    "compute_eigenvectors",
    K::Bool,
    "also give the eigenvectors",
)];
const QUANT_ATTRS: &[AttrSpec] = &[
    req(
        "group_size",
        K::Int,
        "elements sharing one scale (affine: 32, 64, 128)",
    ),
    req(
        "bits",
        K::Int,
        "bits per element (affine: 2, 3, 4, 5, 6, 8)",
    ),
    req("mode", K::Str, "`affine`, `mxfp4`, `mxfp8` or `nvfp4`"),
];
const DEQUANT_ATTRS: &[AttrSpec] = &[
    req("group_size", K::Int, "elements sharing one scale (affine: 32, 64, 128)"),
    req("bits", K::Int, "bits per element (affine: 2, 3, 4, 5, 6, 8)"),
    req("mode", K::Str, "`affine`, `mxfp4`, `mxfp8` or `nvfp4`"),
    opt("dtype", K::DType, "result dtype: affine gives the scales' dtype (and only accepts that); the fp modes default to bf16, as MLX"),
];
const QMM_ATTRS: &[AttrSpec] = &[
    req("group_size", K::Int, "elements sharing one scale"),
    req("bits", K::Int, "bits per element"),
    req("mode", K::Str, "`affine`, `mxfp4`, `mxfp8` or `nvfp4`"),
    req("transpose", K::Bool, "w is stored (N, K): x @ w^T"),
];
const GATHER_QMM_ATTRS: &[AttrSpec] = &[
    req("group_size", K::Int, "elements sharing one scale"),
    req("bits", K::Int, "bits per element"),
    req("mode", K::Str, "`affine`, `mxfp4`, `mxfp8` or `nvfp4`"),
    req("transpose", K::Bool, "w is stored (N, K): x @ w^T"),
    opt(
        "left_sorted",
        K::Bool,
        "lhs indices are sorted (a hint, default false)",
    ),
    opt(
        "right_sorted",
        K::Bool,
        "rhs indices are sorted (a hint, default false)",
    ),
];
const GATHER_MM_ATTRS: &[AttrSpec] = &[
    opt(
        "left_sorted",
        K::Bool,
        "lhs indices are sorted (a hint, default false)",
    ),
    opt(
        "right_sorted",
        K::Bool,
        "rhs indices are sorted (a hint, default false)",
    ),
];
const BLOCK_MASKED_MM_ATTRS: &[AttrSpec] =
    &[req("block_size", K::Int, "edge of the square mask blocks")];
const RANDOM_BITS_ATTRS: &[AttrSpec] = &[
    req("shape", K::Ints, "shape drawn per key"),
    req(
        "width",
        K::Int,
        "bytes per element: 1 (u8), 2 (u16) or 4 (u32)",
    ),
];
const EPS_ATTR: &[AttrSpec] = &[req("eps", K::Float, "added to the variance")];
const ROPE_ATTRS: &[AttrSpec] = &[
    req("dims", K::Int, "leading features rotated (even)"),
    req(
        "traditional",
        K::Bool,
        "rotate adjacent pairs rather than the two halves",
    ),
    req(
        "base",
        K::Float,
        "frequency base (unused with a freqs operand)",
    ),
    req("scale", K::Float, "position scale"),
    req(
        "forward",
        K::Bool,
        "rotate by +theta (false: the inverse, used by the vjp)",
    ),
];
const SDPA_ATTRS: &[AttrSpec] = &[
    req("scale", K::Float, "multiplies q"),
    req(
        "do_causal",
        K::Bool,
        "causal mask aligned to the end of the keys",
    ),
    req(
        "has_sinks",
        K::Bool,
        "the last operand holds one attention sink logit per query head",
    ),
    req(
        "output_logsumexp",
        K::Bool,
        "also give the f32 logsumexp of the scores, shape (B, H, Lq, 1)",
    ),
    opt("force_fused", K::Bool, "a backend hint (default false)"),
];
const HADAMARD_ATTRS: &[AttrSpec] = &[req("scale", K::Float, "multiplies the result")];
const AS_STRIDED_ATTRS: &[AttrSpec] = &[
    req("shape", K::Ints, "result shape"),
    req(
        "strides",
        K::Ints,
        "element strides into the row-major operand",
    ),
    req(
        "offset",
        K::Int,
        "element offset of the first result element",
    ),
];
const SEARCH_SORTED_ATTRS: &[AttrSpec] = &[req("right", K::Bool, "insert after equal elements")];
const DEPENDS_ATTRS: &[AttrSpec] = &[req(
    "num_outputs",
    K::Int,
    "leading operands passed through; the rest are only ordered before",
)];

macro_rules! define_ops {
    ($( $variant:ident = $name:literal, $class:ident, $arity:expr, $attrs:expr, $infer:path, $summary:literal; )*) => {
        /// Every op, in table order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Opcode { $($variant),* }

        /// The op table, indexed by `Opcode as usize`.
        pub static OP_DEFS: &[OpDef] = &[
            $( OpDef {
                opcode: Opcode::$variant,
                name: $name,
                class: OpClass::$class,
                operands: $arity,
                attrs: $attrs,
                infer: $infer,
                summary: $summary,
            }, )*
        ];
    };
}

use Arity::{AtLeast, Exact};

define_ops! {
    // ---- creation ----
    Constant = "tensor.constant", Creation, Exact(0), VALUE_DENSE, infer::constant, "A tensor given by its data.";
    Full = "tensor.full", Creation, Exact(0), FULL_ATTRS, infer::full, "A tensor with every element equal to `value`.";
    Iota = "tensor.iota", Creation, Exact(0), IOTA_ATTRS, infer::iota, "Each element holds its index along `axis`.";
    Arange = "tensor.arange", Creation, Exact(0), ARANGE_ATTRS, infer::arange, "`start, start+step, ...` below `stop`: ceil((stop-start)/step) elements.";

    // ---- unary elementwise ----
    Abs = "tensor.abs", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "|x|.";
    Negative = "tensor.negative", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "-x (wrapping for integers).";
    Sign = "tensor.sign", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "-1, 0 or 1 (0 for NaN gives NaN).";
    Square = "tensor.square", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "x*x.";
    Sqrt = "tensor.sqrt", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Square root.";
    Rsqrt = "tensor.rsqrt", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "1/sqrt(x).";
    Reciprocal = "tensor.reciprocal", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "1/x.";
    Exp = "tensor.exp", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "e^x.";
    Expm1 = "tensor.expm1", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "e^x - 1, accurate near 0.";
    Log = "tensor.log", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Natural logarithm.";
    Log1p = "tensor.log1p", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "log(1 + x), accurate near 0.";
    Log2 = "tensor.log2", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Base-2 logarithm.";
    Log10 = "tensor.log10", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Base-10 logarithm.";
    Sin = "tensor.sin", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Sine.";
    Cos = "tensor.cos", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Cosine.";
    Tan = "tensor.tan", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Tangent.";
    Arcsin = "tensor.arcsin", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Inverse sine.";
    Arccos = "tensor.arccos", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Inverse cosine.";
    Arctan = "tensor.arctan", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Inverse tangent.";
    Sinh = "tensor.sinh", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Hyperbolic sine.";
    Cosh = "tensor.cosh", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Hyperbolic cosine.";
    Tanh = "tensor.tanh", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Hyperbolic tangent.";
    Arcsinh = "tensor.arcsinh", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Inverse hyperbolic sine.";
    Arccosh = "tensor.arccosh", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Inverse hyperbolic cosine.";
    Arctanh = "tensor.arctanh", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "Inverse hyperbolic tangent.";
    Sigmoid = "tensor.sigmoid", Unary, Exact(1), NO_ATTRS, infer::unary_inexact, "1/(1+e^-x).";
    Erf = "tensor.erf", Unary, Exact(1), NO_ATTRS, infer::unary_float, "Error function.";
    Erfinv = "tensor.erfinv", Unary, Exact(1), NO_ATTRS, infer::unary_float, "Inverse error function.";
    Floor = "tensor.floor", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "Round toward -inf (identity on integers).";
    Ceil = "tensor.ceil", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "Round toward +inf (identity on integers).";
    Round = "tensor.round", Unary, Exact(1), NO_ATTRS, infer::unary_numeric, "Round half to even (identity on integers).";
    IsNan = "tensor.isnan", Unary, Exact(1), NO_ATTRS, infer::unary_to_bool, "x is NaN (false for integers).";
    IsInf = "tensor.isinf", Unary, Exact(1), NO_ATTRS, infer::unary_to_bool, "x is +inf or -inf.";
    IsFinite = "tensor.isfinite", Unary, Exact(1), NO_ATTRS, infer::unary_to_bool, "x is neither NaN nor infinite.";
    LogicalNot = "tensor.logical_not", Unary, Exact(1), NO_ATTRS, infer::unary_bool, "Boolean not.";
    BitwiseInvert = "tensor.bitwise_invert", Unary, Exact(1), NO_ATTRS, infer::unary_integral, "Bitwise not (logical not for bool).";
    StopGradient = "tensor.stop_gradient", Unary, Exact(1), NO_ATTRS, infer::unary_any, "Identity whose derivative is zero.";
    Copy = "tensor.copy", Unary, Exact(1), NO_ATTRS, infer::unary_any, "Identity (a fresh buffer).";

    // ---- binary elementwise ----
    Add = "tensor.add", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "a + b (wrapping for integers; or for bool).";
    Subtract = "tensor.subtract", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "a - b.";
    Multiply = "tensor.multiply", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "a * b (and for bool).";
    Divide = "tensor.divide", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "a / b; integers truncate toward zero and x/0 is 0.";
    FloorDivide = "tensor.floor_divide", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "floor(a / b); for integers rounds toward -inf, x//0 is 0.";
    Remainder = "tensor.remainder", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "a - b*floor(a/b): takes the sign of b (Python's %); x%0 is 0 for integers.";
    Power = "tensor.power", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "a^b; integer powers with negative exponents give 0 (every base, 1 and -1 included, as MLX).";
    Maximum = "tensor.maximum", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "max(a, b), NaN if either is NaN.";
    Minimum = "tensor.minimum", Binary, Exact(2), NO_ATTRS, infer::binary_numeric, "min(a, b), NaN if either is NaN.";
    Arctan2 = "tensor.arctan2", Binary, Exact(2), NO_ATTRS, infer::binary_float, "atan2(a, b).";
    LogAddExp = "tensor.logaddexp", Binary, Exact(2), NO_ATTRS, infer::binary_float, "log(e^a + e^b), computed stably.";
    LogicalAnd = "tensor.logical_and", Binary, Exact(2), NO_ATTRS, infer::binary_bool, "Boolean and.";
    LogicalOr = "tensor.logical_or", Binary, Exact(2), NO_ATTRS, infer::binary_bool, "Boolean or.";
    BitwiseAnd = "tensor.bitwise_and", Binary, Exact(2), NO_ATTRS, infer::binary_integral, "Bitwise and.";
    BitwiseOr = "tensor.bitwise_or", Binary, Exact(2), NO_ATTRS, infer::binary_integral, "Bitwise or.";
    BitwiseXor = "tensor.bitwise_xor", Binary, Exact(2), NO_ATTRS, infer::binary_integral, "Bitwise xor.";
    LeftShift = "tensor.left_shift", Binary, Exact(2), NO_ATTRS, infer::binary_integral, "a << b (0 when b >= bit width or b < 0).";
    RightShift = "tensor.right_shift", Binary, Exact(2), NO_ATTRS, infer::binary_integral, "a >> b, arithmetic for signed types (sign fill when b >= bit width).";
    DivMod = "tensor.divmod", Other, Exact(2), NO_ATTRS, infer::divmod, "Two results: floor_divide(a, b) and remainder(a, b).";

    // ---- comparisons ----
    Equal = "tensor.equal", Compare, Exact(2), EQUAL_ATTRS, infer::compare, "a == b.";
    NotEqual = "tensor.not_equal", Compare, Exact(2), NO_ATTRS, infer::compare, "a != b.";
    Less = "tensor.less", Compare, Exact(2), NO_ATTRS, infer::compare, "a < b.";
    LessEqual = "tensor.less_equal", Compare, Exact(2), NO_ATTRS, infer::compare, "a <= b.";
    Greater = "tensor.greater", Compare, Exact(2), NO_ATTRS, infer::compare, "a > b.";
    GreaterEqual = "tensor.greater_equal", Compare, Exact(2), NO_ATTRS, infer::compare, "a >= b.";

    // ---- select, casts ----
    Select = "tensor.select", Other, Exact(3), NO_ATTRS, infer::select, "cond ? a : b, elementwise; cond is bool.";
    Cast = "tensor.cast", Other, Exact(1), DTYPE_ATTR, infer::cast, "Value conversion (float to int truncates toward zero and saturates; NaN gives 0).";
    Bitcast = "tensor.bitcast", Other, Exact(1), DTYPE_ATTR, infer::bitcast, "Reinterprets the bytes; the last axis scales by the size ratio.";

    // ---- reductions ----
    ReduceSum = "tensor.reduce_sum", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_sum, "Sum over `axes` (bool sums to i32).";
    ReduceProd = "tensor.reduce_prod", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_sum, "Product over `axes` (bool gives i32).";
    ReduceMax = "tensor.reduce_max", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_same, "Maximum over `axes` (NaN propagates).";
    ReduceMin = "tensor.reduce_min", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_same, "Minimum over `axes` (NaN propagates).";
    ReduceAll = "tensor.reduce_all", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_bool, "All non-zero over `axes`.";
    ReduceAny = "tensor.reduce_any", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_bool, "Any non-zero over `axes`.";
    Argmax = "tensor.argmax", Reduction, Exact(1), ARG_REDUCE_ATTRS, infer::arg_reduce, "Index (u32) of the first maximum along `axis`.";
    Argmin = "tensor.argmin", Reduction, Exact(1), ARG_REDUCE_ATTRS, infer::arg_reduce, "Index (u32) of the first minimum along `axis`.";
    LogSumExp = "tensor.logsumexp", Reduction, Exact(1), REDUCE_ATTRS, infer::reduce_float, "log(sum(exp(x))) over `axes`, computed stably.";
    Softmax = "tensor.softmax", Other, Exact(1), SOFTMAX_ATTRS, infer::softmax, "exp(x - max) / sum(exp(x - max)) over `axes`.";

    // ---- scans ----
    Cumsum = "tensor.cumsum", Scan, Exact(1), SCAN_ATTRS, infer::scan_sum, "Running sum along `axis` (bool gives i32).";
    Cumprod = "tensor.cumprod", Scan, Exact(1), SCAN_ATTRS, infer::scan_sum, "Running product along `axis`.";
    Cummax = "tensor.cummax", Scan, Exact(1), SCAN_ATTRS, infer::scan_same, "Running maximum along `axis`.";
    Cummin = "tensor.cummin", Scan, Exact(1), SCAN_ATTRS, infer::scan_same, "Running minimum along `axis`.";
    CumLogAddExp = "tensor.cumlogaddexp", Scan, Exact(1), SCAN_ATTRS, infer::scan_float, "Running logaddexp along `axis`.";

    // ---- layout ----
    Reshape = "tensor.reshape", Layout, Exact(1), SHAPE_ATTR, infer::reshape, "Same elements in row-major order, new shape.";
    Transpose = "tensor.transpose", Layout, Exact(1), PERM_ATTR, infer::transpose, "Permutes axes.";
    Broadcast = "tensor.broadcast", Layout, Exact(1), SHAPE_ATTR, infer::broadcast, "NumPy broadcast_to `shape` (right-aligned; size-1 axes stretch).";
    BroadcastLike = "tensor.broadcast_like", Layout, AtLeast(2), BROADCAST_LIKE_ATTRS, infer::broadcast_like, "Broadcasts the first operand to the broadcast shape of all operands; the others only donate shape (MLX shapeless Broadcast/BroadcastAxes).";
    ExpandDims = "tensor.expand_dims", Layout, Exact(1), AXES_ATTR, infer::expand_dims, "Inserts size-1 axes at `axes` (positions in the result).";
    Squeeze = "tensor.squeeze", Layout, Exact(1), AXES_ATTR, infer::squeeze, "Removes size-1 axes.";
    Flatten = "tensor.flatten", Layout, Exact(1), FLATTEN_ATTRS, infer::flatten, "Merges axes start_axis..=end_axis.";
    Unflatten = "tensor.unflatten", Layout, Exact(1), UNFLATTEN_ATTRS, infer::unflatten, "Splits `axis` into `shape`.";
    Slice = "tensor.slice", Layout, Exact(1), SLICE_ATTRS, infer::slice, "Strided slice: per axis, start, start+stride, ... while before stop.";
    SliceUpdate = "tensor.slice_update", Layout, Exact(2), SLICE_UPDATE_ATTRS, infer::slice_update, "The first operand with a strided slice replaced by (or reduced with) the second.";
    Pad = "tensor.pad", Layout, Exact(2), PAD_ATTRS, infer::pad, "Pads with the 0-d second operand: `low` before and `high` after each axis.";
    Concatenate = "tensor.concatenate", Layout, AtLeast(1), AXIS_ATTR, infer::concatenate, "Joins operands along `axis`.";
    Split = "tensor.split", Layout, Exact(1), SPLIT_ATTRS, infer::split, "Splits along `axis` at `indices`: len(indices)+1 results.";
    Flip = "tensor.flip", Layout, Exact(1), AXES_ATTR, infer::same_as_first, "Reverses the order along `axes`.";

    // ---- indexing ----
    DynamicSlice = "tensor.dynamic_slice", Indexing, Exact(2), DYNAMIC_SLICE_ATTRS, infer::dynamic_slice, "Slice of shape `sizes` starting at the 1-d integer second operand (one start per axis in `axes`, clamped in range).";
    DynamicSliceUpdate = "tensor.dynamic_slice_update", Indexing, Exact(3), DYNAMIC_SLICE_UPDATE_ATTRS, infer::dynamic_slice_update, "(dst, update, starts): dst with the slice at `starts` replaced by update (starts clamped).";
    Gather = "tensor.gather", Indexing, AtLeast(1), GATHER_ATTRS, infer::gather, "(src, idx...): for each position of the (equal-shaped) indices, the slice of `slice_sizes` at those indices along `axes`; result shape idx.shape ++ slice_sizes. Negative indices wrap.";
    TakeAlongAxis = "tensor.take_along_axis", Indexing, Exact(2), AXIS_ATTR, infer::take_along_axis, "(src, idx): out[..i..] = src[..idx[..i..]..] along `axis`; idx has src's rank. Negative indices wrap.";
    Scatter = "tensor.scatter", Indexing, AtLeast(2), SCATTER_ATTRS, infer::scatter, "(dst, idx..., updates): writes (or reduces) update slices at the indexed positions; updates shape idx.shape ++ slice shape.";
    ScatterAxis = "tensor.scatter_axis", Indexing, Exact(3), SCATTER_AXIS_ATTRS, infer::scatter_axis, "(dst, idx, updates): the inverse of take_along_axis.";

    // ---- sorting ----
    Sort = "tensor.sort", Sort, Exact(1), AXIS_ATTR, infer::same_as_first, "Sorts along `axis` (NaNs last).";
    Argsort = "tensor.argsort", Sort, Exact(1), AXIS_ATTR, infer::to_u32, "Indices (u32) that sort along `axis`, stable.";
    Partition = "tensor.partition", Sort, Exact(1), PARTITION_ATTRS, infer::same_as_first, "Element `kth` in sorted position, smaller before, larger after.";
    Argpartition = "tensor.argpartition", Sort, Exact(1), PARTITION_ATTRS, infer::to_u32, "Indices (u32) of a partition.";

    // ---- contractions ----
    Matmul = "tensor.matmul", Contraction, Exact(2), NO_ATTRS, infer::matmul, "Batched matrix product over the last two axes; batch axes equal.";
    AddMM = "tensor.addmm", Contraction, Exact(3), ADDMM_ATTRS, infer::addmm, "(c, a, b): alpha * a@b + beta * c.";

    // ---- shape queries ----
    NumberOfElements = "tensor.number_of_elements", Other, Exact(1), NUMBER_OF_ELEMENTS_ATTRS, infer::number_of_elements, "0-d: the product of the operand's sizes along `axes` (or its inverse), as `dtype`.";
    // ---- MLX extras ----
    ConvGeneral = "tensor.conv_general", Other, Exact(2), CONV_ATTRS, infer_extra::conv_general, "(input N,spatial...,C; weight O,spatial...,C/groups): MLX's general convolution (correlation unless `flip`).";
    Fft = "tensor.fft", Other, Exact(1), FFT_ATTRS, infer_extra::fft, "FFT over `axes`: c64 to c64, or real (float to c64, n/2+1 on the last axis) and inverse real (c64 to f32).";
    Qr = "tensor.qr", Other, Exact(1), NO_ATTRS, infer_extra::qr, "Reduced QR of the last two axes: Q (M,K) and R (K,N), K = min(M,N).";
    Svd = "tensor.svd", Other, Exact(1), SVD_ATTRS, infer_extra::svd, "SVD of the last two axes: U (M,M), S (K), Vt (N,N), or S alone.";
    Inverse = "tensor.inverse", Other, Exact(1), INVERSE_ATTRS, infer_extra::square_same, "Matrix inverse of the last two axes (triangular when `tri`).";
    Cholesky = "tensor.cholesky", Other, Exact(1), CHOLESKY_ATTRS, infer_extra::square_same, "Cholesky factor (lower, or upper when `upper`) of a symmetric positive definite matrix.";
    Eigh = "tensor.eigh", Other, Exact(1), EIGH_ATTRS, infer_extra::eigh, "Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix read from triangle `uplo`.";
    Eig = "tensor.eig", Other, Exact(1), EIG_ATTRS, infer_extra::eig, "Eigenvalues and eigenvectors (columns) of a general matrix, as c64.";
    Quantize = "tensor.quantize", Other, Exact(1), QUANT_ATTRS, infer_extra::quantize, "Groups of the last axis to packed u32 words plus scales (and biases for affine), as MLX's quantize.";
    Dequantize = "tensor.dequantize", Other, AtLeast(2), DEQUANT_ATTRS, infer_extra::dequantize, "(w, scales[, biases]): the inverse of tensor.quantize.";
    QuantizedMatmul = "tensor.quantized_matmul", Contraction, AtLeast(3), QMM_ATTRS, infer_extra::quantized_matmul, "(x, w, scales[, biases]): x @ dequantize(w) (transposed when `transpose`).";
    GatherQmm = "tensor.gather_qmm", Contraction, AtLeast(5), GATHER_QMM_ATTRS, infer_extra::gather_qmm, "(x, w, scales[, biases], lhs_idx, rhs_idx): per index position, x[lhs] @ dequantize(w[rhs]).";
    GatherMm = "tensor.gather_mm", Contraction, Exact(4), GATHER_MM_ATTRS, infer_extra::gather_mm, "(a, b, lhs_idx, rhs_idx): per index position, a[lhs] @ b[rhs] over flattened batch axes.";
    BlockMaskedMm = "tensor.block_masked_mm", Contraction, AtLeast(2), BLOCK_MASKED_MM_ATTRS, infer_extra::block_masked_mm, "(a, b[, out_mask][, lhs_mask, rhs_mask]): matmul with block masks (bool masks zero blocks, float masks scale them).";
    RandomBits = "tensor.random_bits", Other, Exact(1), RANDOM_BITS_ATTRS, infer_extra::random_bits, "Threefry-2x32 random bits from u32 keys (..., 2), bit-exact with MLX; shape key.shape[:-1] ++ `shape`.";
    RmsNorm = "tensor.rms_norm", Other, Exact(2), EPS_ATTR, infer_extra::rms_norm, "(x, w): x * rsqrt(mean(x^2, last axis) + eps) * w, accumulated in f32 or wider.";
    RmsNormVjp = "tensor.rms_norm_vjp", Other, Exact(3), EPS_ATTR, infer_extra::rms_norm_vjp, "(x, w, g): gradients of rms_norm for x and w.";
    LayerNorm = "tensor.layer_norm", Other, Exact(3), EPS_ATTR, infer_extra::layer_norm, "(x, w, b): (x - mean) * rsqrt(var + eps) * w + b over the last axis.";
    LayerNormVjp = "tensor.layer_norm_vjp", Other, Exact(4), EPS_ATTR, infer_extra::layer_norm_vjp, "(x, w, b, g): gradients of layer_norm for x, w and b.";
    Rope = "tensor.rope", Other, AtLeast(2), ROPE_ATTRS, infer_extra::rope, "(x, offset[, freqs]): rotary position embedding of the first `dims` features, positions along axis -2.";
    Sdpa = "tensor.sdpa", Other, AtLeast(3), SDPA_ATTRS, infer_extra::sdpa, "(q, k, v[, mask][, sinks]): softmax(scale * q k^T + mask) v with grouped heads.";
    Hadamard = "tensor.hadamard", Other, Exact(1), HADAMARD_ATTRS, infer_extra::hadamard, "Walsh-Hadamard transform of the last axis times `scale` (sizes m*2^k, m in 1, 12, 20, 28).";
    AsStrided = "tensor.as_strided", Layout, Exact(1), AS_STRIDED_ATTRS, infer_extra::as_strided, "A strided view of the row-major operand's elements.";
    SearchSorted = "tensor.search_sorted", Sort, Exact(2), SEARCH_SORTED_ATTRS, infer_extra::search_sorted, "(sorted 1-d, values): insertion indices (u32), leftmost or rightmost.";
    MaskedScatter = "tensor.masked_scatter", Indexing, Exact(3), NO_ATTRS, infer_extra::masked_scatter, "(dst, mask, src): per leading index, true mask positions take src's elements in order.";
    Depends = "tensor.depends", Other, AtLeast(1), DEPENDS_ATTRS, infer_extra::depends, "Passes the first `num_outputs` operands through, after the others.";
    Real = "tensor.real", Unary, Exact(1), NO_ATTRS, infer_extra::complex_part, "Real part (c64 to f32).";
    Imag = "tensor.imag", Unary, Exact(1), NO_ATTRS, infer_extra::complex_part, "Imaginary part (c64 to f32).";
    Conjugate = "tensor.conjugate", Unary, Exact(1), NO_ATTRS, infer_extra::conjugate, "Complex conjugate.";
}

impl Opcode {
    pub fn def(self) -> &'static OpDef {
        &OP_DEFS[self as usize]
    }
    pub fn name(self) -> &'static str {
        self.def().name
    }
    pub fn class(self) -> OpClass {
        self.def().class
    }
    /// Looks an op up by its full text name (`tensor.add`).
    pub fn from_name(name: &str) -> Option<Opcode> {
        // The table is small and lookups happen once per parsed op.
        OP_DEFS.iter().find(|d| d.name == name).map(|d| d.opcode)
    }
    /// Iterates over every op.
    pub fn all() -> impl Iterator<Item = Opcode> {
        OP_DEFS.iter().map(|d| d.opcode)
    }
    /// True for ops applied element by element with the result shape equal to
    /// every operand's shape.
    pub fn is_elementwise(self) -> bool {
        matches!(
            self.class(),
            OpClass::Unary | OpClass::Binary | OpClass::Compare
        ) || matches!(self, Opcode::Select | Opcode::Cast | Opcode::DivMod)
    }
}

impl std::fmt::Display for Opcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks attributes against an op's specs: every required one present,
/// nothing unknown, every kind right. Returns the first problem.
pub fn check_attrs(def: &OpDef, attrs: &Attrs) -> Result<(), String> {
    for spec in def.attrs {
        match attrs.get(spec.name) {
            None if spec.required => {
                return Err(format!(
                    "`{}` needs attribute `{}` ({})",
                    def.name,
                    spec.name,
                    spec.kind.name()
                ))
            }
            Some(a) if a.kind() != spec.kind => {
                return Err(format!(
                    "attribute `{}` of `{}` must be a {}, found a {}",
                    spec.name,
                    def.name,
                    spec.kind.name(),
                    a.kind().name()
                ))
            }
            _ => {}
        }
    }
    for (name, _) in attrs.iter() {
        if !def.attrs.iter().any(|s| s.name == name) {
            return Err(format!("`{}` has no attribute `{name}`", def.name));
        }
    }
    Ok(())
}

/// Finds the `&'static str` of an attribute name of `def` (for parsers, which
/// read names as owned strings).
pub fn attr_name(def: &OpDef, name: &str) -> Option<&'static str> {
    def.attrs.iter().find(|s| s.name == name).map(|s| s.name)
}

/// Full check of one op application: arity, attributes, then the shape rule.
pub fn infer_types(
    opcode: Opcode,
    operands: &[&TensorType],
    attrs: &Attrs,
) -> Result<Vec<TensorType>, String> {
    let def = opcode.def();
    if !def.operands.accepts(operands.len()) {
        return Err(format!(
            "`{}` takes {}, got {}",
            def.name,
            def.operands.describe(),
            operands.len()
        ));
    }
    check_attrs(def, attrs)?;
    (def.infer)(operands, attrs).map_err(|e| format!("`{}`: {e}", def.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_opcode_and_names_are_unique() {
        for (i, d) in OP_DEFS.iter().enumerate() {
            assert_eq!(d.opcode as usize, i);
            assert_eq!(Opcode::from_name(d.name), Some(d.opcode), "{}", d.name);
            assert!(d.name.starts_with("tensor."));
        }
    }
}
