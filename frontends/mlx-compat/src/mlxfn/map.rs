//! The primitive mapping table: for each of MLX's 116 importable names, the
//! IR op(s) it becomes, and which IR ops the writer can express. Import,
//! export and `docs/MLX_COMPAT.md` all read this one table.

use psionic_ir::Opcode;

/// How one MLX primitive becomes IR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportRule {
    /// One IR op with the same operands and no attributes.
    Direct(&'static str),
    /// One IR op whose attributes are the state fields, by name.
    Generic(&'static str),
    /// Custom code in `import.rs` (attributes renamed, variants, keepdims...).
    Special,
    /// Refused, with the reason.
    Unsupported(&'static str),
}

/// Primitives with no state that map to one IR op.
pub const DIRECT: &[(&str, &str)] = &[
    ("Abs", "tensor.abs"),
    ("Add", "tensor.add"),
    ("ArcCos", "tensor.arccos"),
    ("ArcCosh", "tensor.arccosh"),
    ("ArcSin", "tensor.arcsin"),
    ("ArcSinh", "tensor.arcsinh"),
    ("ArcTan", "tensor.arctan"),
    ("ArcTan2", "tensor.arctan2"),
    ("ArcTanh", "tensor.arctanh"),
    ("Ceil", "tensor.ceil"),
    ("Conjugate", "tensor.conjugate"),
    ("Copy", "tensor.copy"),
    ("Cos", "tensor.cos"),
    ("Cosh", "tensor.cosh"),
    ("Divide", "tensor.divide"),
    ("DivMod", "tensor.divmod"),
    ("Erf", "tensor.erf"),
    ("ErfInv", "tensor.erfinv"),
    ("Exp", "tensor.exp"),
    ("Expm1", "tensor.expm1"),
    ("Floor", "tensor.floor"),
    ("FloorDivide", "tensor.floor_divide"),
    ("Greater", "tensor.greater"),
    ("GreaterEqual", "tensor.greater_equal"),
    ("Imag", "tensor.imag"),
    ("Less", "tensor.less"),
    ("LessEqual", "tensor.less_equal"),
    ("Log1p", "tensor.log1p"),
    ("LogicalAnd", "tensor.logical_and"),
    ("LogicalNot", "tensor.logical_not"),
    ("LogicalOr", "tensor.logical_or"),
    ("LogAddExp", "tensor.logaddexp"),
    ("MaskedScatter", "tensor.masked_scatter"),
    ("Matmul", "tensor.matmul"),
    ("Maximum", "tensor.maximum"),
    ("Minimum", "tensor.minimum"),
    ("Multiply", "tensor.multiply"),
    ("Negative", "tensor.negative"),
    ("NotEqual", "tensor.not_equal"),
    ("Power", "tensor.power"),
    ("QRF", "tensor.qr"),
    ("Real", "tensor.real"),
    ("Remainder", "tensor.remainder"),
    ("Round", "tensor.round"),
    ("Select", "tensor.select"),
    ("Sigmoid", "tensor.sigmoid"),
    ("Sign", "tensor.sign"),
    ("Sin", "tensor.sin"),
    ("Sinh", "tensor.sinh"),
    ("Square", "tensor.square"),
    ("StopGradient", "tensor.stop_gradient"),
    ("Subtract", "tensor.subtract"),
    ("Tan", "tensor.tan"),
    ("Tanh", "tensor.tanh"),
];

/// Primitives whose state fields are the IR op's attributes, by name.
pub const GENERIC: &[(&str, &str)] = &[
    ("AsStrided", "tensor.as_strided"),
    ("BlockMaskedMM", "tensor.block_masked_mm"),
    ("Cholesky", "tensor.cholesky"),
    ("Convolution", "tensor.conv_general"),
    ("Eig", "tensor.eig"),
    ("Eigh", "tensor.eigh"),
    ("FFT", "tensor.fft"),
    ("GatherMM", "tensor.gather_mm"),
    ("GatherQMM", "tensor.gather_qmm"),
    ("Hadamard", "tensor.hadamard"),
    ("Inverse", "tensor.inverse"),
    ("QuantizedMatmul", "tensor.quantized_matmul"),
    ("RandomBits", "tensor.random_bits"),
    ("SearchSorted", "tensor.search_sorted"),
    ("SVD", "tensor.svd"),
    ("RMSNorm", "tensor.rms_norm"),
    ("RMSNormVJP", "tensor.rms_norm_vjp"),
    ("LayerNorm", "tensor.layer_norm"),
    ("LayerNormVJP", "tensor.layer_norm_vjp"),
    ("RoPE", "tensor.rope"),
    ("ScaledDotProductAttention", "tensor.sdpa"),
];

/// Primitives mapped by custom code, with the IR ops they can become.
pub const SPECIAL: &[(&str, &[&str])] = &[
    ("AddMM", &["tensor.addmm"]),
    ("Arange", &["tensor.arange"]),
    ("ArgPartition", &["tensor.argpartition"]),
    ("ArgReduce", &["tensor.argmax", "tensor.argmin"]),
    ("ArgSort", &["tensor.argsort"]),
    ("AsType", &["tensor.cast"]),
    (
        "BitwiseBinary",
        &[
            "tensor.bitwise_and",
            "tensor.bitwise_or",
            "tensor.bitwise_xor",
            "tensor.left_shift",
            "tensor.right_shift",
        ],
    ),
    ("Broadcast", &["tensor.broadcast", "tensor.broadcast_like"]),
    ("BroadcastAxes", &["tensor.broadcast_like"]),
    ("Concatenate", &["tensor.concatenate"]),
    ("Depends", &[]),
    ("DynamicSlice", &["tensor.dynamic_slice"]),
    ("DynamicSliceUpdate", &["tensor.dynamic_slice_update"]),
    ("Equal", &["tensor.equal"]),
    ("ExpandDims", &["tensor.expand_dims"]),
    ("Flatten", &["tensor.flatten"]),
    ("Full", &["tensor.copy"]),
    ("Gather", &["tensor.gather"]),
    ("GatherAxis", &["tensor.take_along_axis"]),
    ("Log", &["tensor.log", "tensor.log2", "tensor.log10"]),
    ("LogSumExp", &["tensor.logsumexp"]),
    ("NumberOfElements", &["tensor.number_of_elements"]),
    ("Pad", &["tensor.pad"]),
    ("Partition", &["tensor.partition"]),
    ("Quantize", &["tensor.quantize", "tensor.dequantize"]),
    (
        "Reduce",
        &[
            "tensor.reduce_all",
            "tensor.reduce_any",
            "tensor.reduce_sum",
            "tensor.reduce_prod",
            "tensor.reduce_min",
            "tensor.reduce_max",
        ],
    ),
    ("Reshape", &["tensor.reshape"]),
    (
        "Scan",
        &[
            "tensor.cummax",
            "tensor.cummin",
            "tensor.cumsum",
            "tensor.cumprod",
            "tensor.cumlogaddexp",
        ],
    ),
    ("Scatter", &["tensor.scatter"]),
    ("ScatterAxis", &["tensor.scatter_axis"]),
    ("Slice", &["tensor.slice"]),
    ("SliceUpdate", &["tensor.slice_update"]),
    ("Softmax", &["tensor.softmax"]),
    ("Sort", &["tensor.sort"]),
    ("Split", &["tensor.split"]),
    ("Sqrt", &["tensor.sqrt", "tensor.rsqrt"]),
    ("Squeeze", &["tensor.squeeze"]),
    ("Transpose", &["tensor.transpose"]),
    ("Unflatten", &["tensor.unflatten"]),
    ("View", &["tensor.bitcast"]),
];

pub const UNSUPPORTED: &[(&str, &str)] = &[(
    "CustomKernel",
    "custom Metal/CUDA kernels cannot run here (the file carries kernel source only)",
)];

pub fn import_rule(name: &str) -> Option<ImportRule> {
    if let Some((_, ir)) = DIRECT.iter().find(|(m, _)| *m == name) {
        return Some(ImportRule::Direct(ir));
    }
    if let Some((_, ir)) = GENERIC.iter().find(|(m, _)| *m == name) {
        return Some(ImportRule::Generic(ir));
    }
    if SPECIAL.iter().any(|(m, _)| *m == name) {
        return Some(ImportRule::Special);
    }
    UNSUPPORTED
        .iter()
        .find(|(m, _)| *m == name)
        .map(|(_, why)| ImportRule::Unsupported(why))
}

/// State fields that the choice of IR op already encodes.
pub fn implied_field(mlx_name: &str, field: &str) -> bool {
    matches!((mlx_name, field), ("Quantize", "dequantize"))
}

/// The IR ops a primitive imports to, for docs; empty when it imports to
/// plain value forwarding (Depends without `tensor.depends`).
pub fn import_targets(name: &str) -> Vec<&'static str> {
    match import_rule(name) {
        Some(ImportRule::Direct(ir)) | Some(ImportRule::Generic(ir)) => vec![ir],
        Some(ImportRule::Special) => {
            let mut v: Vec<&'static str> = SPECIAL
                .iter()
                .find(|(m, _)| *m == name)
                .map(|(_, t)| t.to_vec())
                .unwrap_or_default();
            if name == "Depends" {
                v.push("tensor.depends");
            }
            v
        }
        _ => Vec::new(),
    }
}

/// True when this build can import `name`: it has a rule and every IR op
/// the rule needs exists in the op table (at least one, for choices).
pub fn can_import(name: &str) -> bool {
    match import_rule(name) {
        Some(ImportRule::Direct(ir)) | Some(ImportRule::Generic(ir)) => {
            Opcode::from_name(ir).is_some()
        }
        Some(ImportRule::Special) => {
            name == "Depends"
                || import_targets(name)
                    .iter()
                    .all(|t| Opcode::from_name(t).is_some())
        }
        _ => false,
    }
}
