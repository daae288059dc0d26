//! Element types and MLX's type promotion.

use std::fmt;

/// An element type. The order of variants is MLX's `Dtype::Val` order, so
/// `dtype as u8` is MLX's wire code (see `mlxfn-format.md` §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
    BF16,
    /// Two `f32`s: real part, then imaginary part.
    C64,
}

/// The coarse class of a dtype, used by promotion and op verifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DTypeKind {
    Bool,
    Unsigned,
    Signed,
    Float,
    Complex,
}

impl DType {
    /// Every dtype, in MLX code order.
    pub const ALL: [DType; 14] = [
        DType::Bool,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::F32,
        DType::F64,
        DType::BF16,
        DType::C64,
    ];

    /// The name used in the text form (`f32`, `bf16`, `i1` is not used: bool is `bool`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::F16 => "f16",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::BF16 => "bf16",
            DType::C64 => "c64",
        }
    }

    /// Parses a text-form dtype name.
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// MLX's `Dtype::Val` code.
    pub fn mlx_code(self) -> u8 {
        self as u8
    }

    /// The dtype for an MLX `Dtype::Val` code.
    pub fn from_mlx_code(code: i64) -> Option<DType> {
        usize::try_from(code)
            .ok()
            .and_then(|c| DType::ALL.get(c).copied())
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 | DType::C64 => 8,
        }
    }

    pub fn kind(self) -> DTypeKind {
        match self {
            DType::Bool => DTypeKind::Bool,
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => DTypeKind::Unsigned,
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => DTypeKind::Signed,
            DType::F16 | DType::F32 | DType::F64 | DType::BF16 => DTypeKind::Float,
            DType::C64 => DTypeKind::Complex,
        }
    }

    pub fn is_float(self) -> bool {
        self.kind() == DTypeKind::Float
    }
    pub fn is_complex(self) -> bool {
        self.kind() == DTypeKind::Complex
    }
    /// Float or complex: the dtypes that carry gradients.
    pub fn is_inexact(self) -> bool {
        self.is_float() || self.is_complex()
    }
    pub fn is_integer(self) -> bool {
        matches!(self.kind(), DTypeKind::Signed | DTypeKind::Unsigned)
    }
    pub fn is_signed_integer(self) -> bool {
        self.kind() == DTypeKind::Signed
    }
    pub fn is_unsigned_integer(self) -> bool {
        self.kind() == DTypeKind::Unsigned
    }
    pub fn is_bool(self) -> bool {
        self == DType::Bool
    }
    /// Integer or bool: the dtypes bitwise ops accept.
    pub fn is_integral(self) -> bool {
        self.is_integer() || self.is_bool()
    }

    /// MLX's binary type promotion (`promote_types` in `mlx/dtype.cpp`).
    ///
    /// Within a kind the wider type wins; signed with unsigned goes to the
    /// smallest signed type holding both (`u64` with any signed type gives
    /// `f32`, as in MLX); any integer with a float gives the float; `f16` with
    /// `bf16` gives `f32`; anything with `c64` gives `c64`.
    pub fn promote(self, other: DType) -> DType {
        use DType::*;
        use DTypeKind as K;
        if self == other {
            return self;
        }
        match (self.kind(), other.kind()) {
            (K::Complex, _) | (_, K::Complex) => C64,
            (K::Bool, _) => other,
            (_, K::Bool) => self,
            (K::Float, K::Float) => match (self, other) {
                (F64, _) | (_, F64) => F64,
                (F32, _) | (_, F32) => F32,
                // f16 with bf16
                _ => F32,
            },
            (K::Float, _) => self,
            (_, K::Float) => other,
            (K::Unsigned, K::Unsigned) | (K::Signed, K::Signed) => {
                if self.size() >= other.size() {
                    self
                } else {
                    other
                }
            }
            (K::Unsigned, K::Signed) => promote_mixed(self, other),
            (K::Signed, K::Unsigned) => promote_mixed(other, self),
        }
    }
}

/// Unsigned `u` with signed `s`: the smallest signed type that holds both.
fn promote_mixed(u: DType, s: DType) -> DType {
    use DType::*;
    let need = match u {
        U8 => 2,
        U16 => 4,
        U32 => 8,
        _ => return F32, // u64 has no signed type that holds it; MLX picks f32.
    };
    let size = need.max(s.size());
    match size {
        2 => I16,
        4 => I32,
        _ => I64,
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
            assert_eq!(DType::from_mlx_code(d.mlx_code() as i64), Some(d));
        }
        assert_eq!(DType::from_name("f128"), None);
        assert_eq!(DType::from_mlx_code(14), None);
        assert_eq!(DType::from_mlx_code(-1), None);
    }

    #[test]
    fn promotion_matches_mlx_table_samples() {
        use DType::*;
        assert_eq!(Bool.promote(Bool), Bool);
        assert_eq!(Bool.promote(I32), I32);
        assert_eq!(U8.promote(I8), I16);
        assert_eq!(U16.promote(I8), I32);
        assert_eq!(U32.promote(I32), I64);
        assert_eq!(U64.promote(I8), F32);
        assert_eq!(I32.promote(F16), F16);
        assert_eq!(F16.promote(BF16), F32);
        assert_eq!(BF16.promote(F32), F32);
        assert_eq!(F32.promote(F64), F64);
        assert_eq!(I64.promote(C64), C64);
        for a in DType::ALL {
            for b in DType::ALL {
                assert_eq!(a.promote(b), b.promote(a), "{a} {b}");
            }
        }
    }
}
