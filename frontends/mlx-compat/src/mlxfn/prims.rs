//! The primitive table of MLX 0.32.4 (spec §9): the 116 names MLX can import
//! and the wire layout of each one's `state()`, with the layouts of earlier
//! versions (spec §11) normalized to 0.32.4's.

use super::wire::{Reader, Writer};
use super::MlxfnError;
use psionic_ir::DType;

/// The wire type of one state field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    I32,
    F32,
    F64,
    /// `size_t` / `uint64_t`.
    U64,
    Str,
    DType,
    /// `Shape` and `std::vector<int>`: u64 count then i32s.
    VecI32,
    /// `std::vector<int64_t>` (Strides).
    VecI64,
    /// `std::vector<size_t>`.
    VecU64,
    /// `std::nullptr_t`: no bytes.
    Null,
    /// `std::array<int, 3>` (CustomKernel grid and threadgroup).
    I32x3,
    /// `std::vector<std::tuple<bool, bool, bool>>`.
    VecBool3,
    /// `std::optional<float>`.
    OptF32,
    /// `std::vector<std::variant<int, float, bool>>`.
    VecVariant,
}

/// A decoded state field.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    DType(DType),
    Ints(Vec<i64>),
    Null,
    Bools(Vec<bool>),
    OptFloat(Option<f64>),
    /// (tag, value as f64/int/bool bits): kept exactly for re-encoding.
    Variants(Vec<(i32, [u8; 4])>),
}

use FieldType as T;

/// One field of a primitive's state: its name (snake_case, as in the spec)
/// and wire type.
pub type FieldSpec = (&'static str, FieldType);

/// Names of the 116 primitives MLX 0.32.4 imports, in the spec's order.
pub const PRIMITIVE_NAMES: [&str; 116] = [
    "Abs",
    "Add",
    "ArcCos",
    "ArcCosh",
    "ArcSin",
    "ArcSinh",
    "ArcTan",
    "ArcTan2",
    "ArcTanh",
    "Ceil",
    "Conjugate",
    "Copy",
    "Cos",
    "Cosh",
    "Depends",
    "Divide",
    "DivMod",
    "Erf",
    "ErfInv",
    "Exp",
    "Expm1",
    "Floor",
    "FloorDivide",
    "Full",
    "Greater",
    "GreaterEqual",
    "Imag",
    "Less",
    "LessEqual",
    "Log1p",
    "LogicalAnd",
    "LogicalNot",
    "LogicalOr",
    "LogAddExp",
    "LogSumExp",
    "MaskedScatter",
    "Matmul",
    "Maximum",
    "Minimum",
    "Multiply",
    "Negative",
    "NotEqual",
    "Power",
    "QRF",
    "Real",
    "Remainder",
    "Round",
    "Select",
    "Sigmoid",
    "Sign",
    "Sin",
    "Sinh",
    "Square",
    "StopGradient",
    "Subtract",
    "Tan",
    "Tanh",
    "AddMM",
    "Arange",
    "ArgPartition",
    "ArgReduce",
    "ArgSort",
    "AsStrided",
    "AsType",
    "BitwiseBinary",
    "BlockMaskedMM",
    "Broadcast",
    "BroadcastAxes",
    "Cholesky",
    "Concatenate",
    "Convolution",
    "DynamicSlice",
    "DynamicSliceUpdate",
    "Eig",
    "Eigh",
    "Equal",
    "ExpandDims",
    "FFT",
    "Flatten",
    "Gather",
    "GatherAxis",
    "GatherMM",
    "GatherQMM",
    "Hadamard",
    "Inverse",
    "Log",
    "NumberOfElements",
    "Pad",
    "Partition",
    "QuantizedMatmul",
    "RandomBits",
    "Reduce",
    "Reshape",
    "Scan",
    "Scatter",
    "ScatterAxis",
    "SearchSorted",
    "Slice",
    "SliceUpdate",
    "Softmax",
    "Sort",
    "Split",
    "Sqrt",
    "Squeeze",
    "SVD",
    "Transpose",
    "Unflatten",
    "View",
    "Quantize",
    "RMSNorm",
    "RMSNormVJP",
    "LayerNorm",
    "LayerNormVJP",
    "RoPE",
    "ScaledDotProductAttention",
    "CustomKernel",
];

/// A parsed `major.minor.patch` version (dev suffixes ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub const LATEST: Version = Version(0, 32, 4);
    /// Parses `"0.32.4"` or `"0.32.4.dev20260101+abc"`; `None` if it is not a version.
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split(['.', '+', '-']);
        let mut num = || -> Option<u32> {
            let p = parts.next()?;
            let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        };
        Some(Version(num()?, num()?, num()?))
    }
}

/// The state layout of `name` in a file of version `v`, or `None` for a name
/// MLX cannot import.
pub fn schema(name: &str, v: Version) -> Option<Vec<FieldSpec>> {
    let s: Vec<FieldSpec> = match name {
        "AddMM" => vec![("alpha", T::F32), ("beta", T::F32)],
        "Arange" => vec![("start", T::F64), ("stop", T::F64), ("step", T::F64)],
        "ArgPartition" | "Partition" => vec![("kth", T::I32), ("axis", T::I32)],
        "ArgReduce" => vec![("reduce_type", T::I32), ("axis", T::I32)],
        "ArgSort" | "Sort" | "GatherAxis" | "Concatenate" => vec![("axis", T::I32)],
        "AsStrided" => vec![
            ("shape", T::VecI32),
            ("strides", T::VecI64),
            ("offset", T::U64),
        ],
        "AsType" | "View" => vec![("dtype", T::DType)],
        "BitwiseBinary" => vec![("op", T::I32)],
        "BlockMaskedMM" => vec![("block_size", T::I32)],
        "Broadcast" | "Reshape" => vec![("shape", T::VecI32)],
        "BroadcastAxes" => vec![("ignore_axes", T::VecI32)],
        "Cholesky" => vec![("upper", T::Bool)],
        "Convolution" => vec![
            ("kernel_strides", T::VecI32),
            ("padding_lo", T::VecI32),
            ("padding_hi", T::VecI32),
            ("kernel_dilation", T::VecI32),
            ("input_dilation", T::VecI32),
            ("groups", T::I32),
            ("flip", T::Bool),
        ],
        "DynamicSlice" => vec![("axes", T::VecI32), ("slice_size", T::VecI32)],
        "DynamicSliceUpdate" | "ExpandDims" | "Squeeze" | "Transpose" => {
            vec![("axes", T::VecI32)]
        }
        "Eig" => vec![("compute_eigenvectors", T::Bool)],
        "Eigh" => vec![("uplo", T::Str), ("compute_eigenvectors", T::Bool)],
        "Equal" => vec![("equal_nan", T::Bool)],
        "FFT" => {
            let mut f = vec![("axes", T::VecU64), ("inverse", T::Bool), ("real", T::Bool)];
            if v >= Version(0, 32, 3) {
                f.push(("odd_out", T::Bool));
            }
            f
        }
        "Flatten" => vec![("start_axis", T::I32), ("end_axis", T::I32)],
        "Gather" => vec![("axes", T::VecI32), ("slice_sizes", T::VecI32)],
        "GatherMM" => vec![("left_sorted", T::Bool), ("right_sorted", T::Bool)],
        "GatherQMM" => vec![
            ("group_size", T::I32),
            ("bits", T::I32),
            ("mode", T::I32),
            ("transpose", T::Bool),
            ("left_sorted", T::Bool),
            ("right_sorted", T::Bool),
        ],
        "Hadamard" => vec![("scale", T::F32)],
        "Inverse" => vec![("tri", T::Bool), ("upper", T::Bool)],
        "Log" => vec![("base", T::I32)],
        "NumberOfElements" => vec![
            ("axes", T::VecI32),
            ("inverted", T::Bool),
            ("dtype", T::DType),
        ],
        "Pad" => vec![
            ("axes", T::VecI32),
            ("low_pad", T::VecI32),
            ("high_pad", T::VecI32),
        ],
        "QuantizedMatmul" => vec![
            ("group_size", T::I32),
            ("bits", T::I32),
            ("mode", T::I32),
            ("transpose", T::Bool),
        ],
        "RandomBits" => vec![("shape", T::VecI32), ("width", T::I32)],
        "Reduce" => vec![("reduce_type", T::I32), ("axes", T::VecI32)],
        "Scan" => vec![
            ("reduce_type", T::I32),
            ("axis", T::I32),
            ("reverse", T::Bool),
            ("inclusive", T::Bool),
        ],
        "Scatter" => vec![("reduce_type", T::I32), ("axes", T::VecI32)],
        "ScatterAxis" => vec![("reduce_type", T::I32), ("axis", T::I32)],
        "SearchSorted" => vec![("right", T::Bool)],
        "Slice" => vec![
            ("start", T::VecI32),
            ("stop", T::VecI32),
            ("strides", T::VecI32),
        ],
        "SliceUpdate" => {
            let mut f = Vec::new();
            if v >= Version(0, 32, 0) {
                f.push(("reduce_type", T::I32));
            }
            f.extend([
                ("start", T::VecI32),
                ("stop", T::VecI32),
                ("strides", T::VecI32),
            ]);
            f
        }
        "Softmax" => vec![("precise", T::Bool)],
        "Split" => vec![("indices", T::VecI32), ("axis", T::I32)],
        "Sqrt" => vec![("recip", T::Bool)],
        "SVD" => vec![("compute_uv", T::Bool)],
        "Unflatten" => vec![("axis", T::I32), ("shape", T::VecI32)],
        "Quantize" => vec![
            ("fallback", T::Null),
            ("group_size", T::I32),
            ("bits", T::I32),
            ("mode", T::I32),
            ("dequantize", T::Bool),
        ],
        "RMSNorm" | "RMSNormVJP" | "LayerNorm" | "LayerNormVJP" => {
            vec![("fallback", T::Null), ("eps", T::F32)]
        }
        "RoPE" => vec![
            ("fallback", T::Null),
            ("dims", T::I32),
            ("traditional", T::Bool),
            ("base", T::F32),
            ("scale", T::F32),
            ("forward", T::Bool),
        ],
        "ScaledDotProductAttention" => {
            let mut f = vec![
                ("fallback", T::Null),
                ("scale", T::F32),
                ("do_causal", T::Bool),
            ];
            if v >= Version(0, 30, 0) {
                f.extend([("has_sinks", T::Bool), ("output_logsumexp", T::Bool)]);
            }
            if v >= Version(0, 32, 2) {
                f.push(("force_fused", T::Bool));
            }
            f
        }
        "CustomKernel" => {
            let mut f = vec![
                ("name", T::Str),
                ("source", T::Str),
                ("grid", T::I32x3),
                ("threadgroup", T::I32x3),
                ("shape_infos", T::VecBool3),
                ("ensure_row_contiguous", T::Bool),
                ("init_value", T::OptF32),
                ("scalar_arguments", T::VecVariant),
                ("is_precompiled", T::Bool),
                ("shared_memory", T::I32),
            ];
            if v >= Version(0, 32, 0) {
                f.push(("compile_options", T::I32));
            }
            f
        }
        n if PRIMITIVE_NAMES.contains(&n) => Vec::new(),
        _ => return None,
    };
    Some(s)
}

/// Fields a 0.32.4 state has that an older layout lacks, with the values
/// that give the older behaviour.
pub fn default_for(name: &str, field: &str) -> Option<Field> {
    match (name, field) {
        ("FFT", "odd_out") => Some(Field::Bool(false)),
        ("SliceUpdate", "reduce_type") => Some(Field::Int(4)),
        ("ScaledDotProductAttention", "has_sinks" | "output_logsumexp" | "force_fused") => {
            Some(Field::Bool(false))
        }
        ("CustomKernel", "compile_options") => Some(Field::Int(0)),
        _ => None,
    }
}

/// Reads one field.
pub fn read_field(r: &mut Reader, ty: FieldType, what: &str) -> Result<Field, MlxfnError> {
    Ok(match ty {
        T::Bool => Field::Bool(r.bool(what)?),
        T::I32 => Field::Int(i64::from(r.i32(what)?)),
        T::F32 => Field::Float(f64::from(r.f32(what)?)),
        T::F64 => Field::Float(r.f64(what)?),
        T::U64 => {
            let at = r.pos();
            let v = r.u64(what)?;
            Field::Int(
                i64::try_from(v).map_err(|_| r.err(at, format!("{what}: {v} is too large")))?,
            )
        }
        T::Str => Field::Str(r.string(what)?),
        T::DType => Field::DType(r.dtype(what)?),
        T::VecI32 => Field::Ints(r.vec_i32(what)?),
        T::VecI64 => Field::Ints(r.vec_i64(what)?),
        T::VecU64 => {
            let at = r.pos();
            let v = r.vec_u64(what)?;
            Field::Ints(
                v.into_iter()
                    .map(i64::try_from)
                    .collect::<Result<_, _>>()
                    .map_err(|_| r.err(at, format!("{what}: value too large")))?,
            )
        }
        T::Null => Field::Null,
        T::I32x3 => Field::Ints(vec![
            i64::from(r.i32(what)?),
            i64::from(r.i32(what)?),
            i64::from(r.i32(what)?),
        ]),
        T::VecBool3 => {
            let n = r.count(3, what)?;
            let mut v = Vec::with_capacity(n * 3);
            for _ in 0..n * 3 {
                v.push(r.bool(what)?);
            }
            Field::Bools(v)
        }
        T::OptF32 => {
            if r.bool(what)? {
                Field::OptFloat(Some(f64::from(r.f32(what)?)))
            } else {
                Field::OptFloat(None)
            }
        }
        T::VecVariant => {
            let n = r.count(5, what)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let at = r.pos();
                let tag = r.i32(what)?;
                let mut val = [0u8; 4];
                match tag {
                    0 | 1 => val.copy_from_slice(r.take(4, what)?),
                    2 => val[0] = u8::from(r.bool(what)?),
                    t => return Err(r.err(at, format!("{what}: unknown variant tag {t}"))),
                }
                v.push((tag, val));
            }
            Field::Variants(v)
        }
    })
}

/// Writes one field; `Err` names the mismatch (a bug in the caller).
pub fn write_field(w: &mut Writer, ty: FieldType, f: &Field) -> Result<(), String> {
    let i32_of = |v: i64| i32::try_from(v).map_err(|_| format!("{v} does not fit in int32"));
    match (ty, f) {
        (T::Bool, Field::Bool(b)) => w.bool(*b),
        (T::I32, Field::Int(v)) => w.i32(i32_of(*v)?),
        (T::F32, Field::Float(v)) => w.f32(*v as f32),
        (T::F64, Field::Float(v)) => w.f64(*v),
        (T::U64, Field::Int(v)) => w.u64(u64::try_from(*v).map_err(|_| format!("{v} < 0"))?),
        (T::Str, Field::Str(s)) => w.string(s),
        (T::DType, Field::DType(d)) => w.dtype(*d),
        (T::VecI32, Field::Ints(v)) => {
            w.len(v.len());
            for &x in v {
                w.i32(i32_of(x)?);
            }
        }
        (T::VecI64, Field::Ints(v)) => {
            w.len(v.len());
            for &x in v {
                w.i64(x);
            }
        }
        (T::VecU64, Field::Ints(v)) => {
            w.len(v.len());
            for &x in v {
                w.u64(u64::try_from(x).map_err(|_| format!("{x} < 0"))?);
            }
        }
        (T::Null, Field::Null) => {}
        (T::I32x3, Field::Ints(v)) if v.len() == 3 => {
            for &x in v {
                w.i32(i32_of(x)?);
            }
        }
        (T::VecBool3, Field::Bools(v)) if v.len() % 3 == 0 => {
            w.len(v.len() / 3);
            for &b in v {
                w.bool(b);
            }
        }
        (T::OptF32, Field::OptFloat(o)) => {
            w.bool(o.is_some());
            if let Some(x) = o {
                w.f32(*x as f32);
            }
        }
        (T::VecVariant, Field::Variants(v)) => {
            w.len(v.len());
            for (tag, val) in v {
                w.i32(*tag);
                if *tag == 2 {
                    w.u8(val[0]);
                } else {
                    w.buf.extend_from_slice(val);
                }
            }
        }
        (ty, f) => return Err(format!("state field of wire type {ty:?} given {f:?}")),
    }
    Ok(())
}
