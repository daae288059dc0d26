//! Tensor types: a dtype and a shape whose dimensions may be symbolic.

use crate::dtype::DType;
use std::fmt;

/// One dimension of a shape. Non-negative values are static sizes; [`DYN`]
/// marks a dimension that is only known when the function is called (MLX's
/// shapeless export). Printed as `?`.
pub type Dim = i64;

/// A dimension whose size is known only at call time.
pub const DYN: Dim = -1;

/// The type of every SSA value: a ranked tensor. A 0-d tensor is a scalar.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

impl TensorType {
    pub fn new(dtype: DType, shape: impl Into<Vec<Dim>>) -> Self {
        TensorType {
            dtype,
            shape: shape.into(),
        }
    }

    /// A static shape from `usize` dimensions.
    pub fn from_dims(dtype: DType, dims: &[usize]) -> Self {
        TensorType {
            dtype,
            shape: dims.iter().map(|&d| d as Dim).collect(),
        }
    }

    pub fn scalar(dtype: DType) -> Self {
        TensorType {
            dtype,
            shape: Vec::new(),
        }
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// True when every dimension is static.
    pub fn is_static(&self) -> bool {
        self.shape.iter().all(|&d| d >= 0)
    }

    /// The static shape, or `None` if any dimension is symbolic.
    pub fn static_shape(&self) -> Option<Vec<usize>> {
        self.shape
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect()
    }

    /// Number of elements, or `None` if the shape is not static or overflows.
    pub fn num_elements(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }

    /// Bytes of a dense row-major buffer of this type, if static.
    pub fn num_bytes(&self) -> Option<usize> {
        self.num_elements()
            .and_then(|n| n.checked_mul(self.dtype.size()))
    }

    pub fn with_dtype(&self, dtype: DType) -> Self {
        TensorType {
            dtype,
            shape: self.shape.clone(),
        }
    }

    pub fn with_shape(&self, shape: Vec<Dim>) -> Self {
        TensorType {
            dtype: self.dtype,
            shape,
        }
    }
}

/// Row-major strides (in elements) of a static shape.
pub fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// Formats a dimension as in the text form: a number, or `?`.
pub fn fmt_dim(d: Dim) -> String {
    if d < 0 {
        "?".to_string()
    } else {
        d.to_string()
    }
}

impl fmt::Display for TensorType {
    /// `tensor<2x3xf32>`, `tensor<f32>` for a scalar, `tensor<?x4xf16>` with a symbolic dim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tensor<")?;
        for &d in &self.shape {
            write!(f, "{}x", fmt_dim(d))?;
        }
        write!(f, "{}>", self.dtype)
    }
}

/// NumPy broadcasting of two shapes (right-aligned; a 1 stretches; a
/// symbolic dimension against a static one gives the static one unless that
/// is 1). Returns `None` when the shapes are incompatible.
pub fn broadcast_shapes(a: &[Dim], b: &[Dim]) -> Option<Vec<Dim>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            (DYN, y) => y,
            (x, DYN) => x,
            _ => return None,
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        assert_eq!(
            TensorType::new(DType::F32, vec![2, 3]).to_string(),
            "tensor<2x3xf32>"
        );
        assert_eq!(TensorType::scalar(DType::Bool).to_string(), "tensor<bool>");
        assert_eq!(
            TensorType::new(DType::BF16, vec![DYN, 4]).to_string(),
            "tensor<?x4xbf16>"
        );
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes(&[3, 1], &[1, 4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shapes(&[2, 3, 4], &[4]), Some(vec![2, 3, 4]));
        assert_eq!(broadcast_shapes(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shapes(&[3], &[4]), None);
        assert_eq!(broadcast_shapes(&[DYN, 4], &[3, 1]), Some(vec![3, 4]));
    }

    #[test]
    fn strides_and_sizes() {
        assert_eq!(row_major_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(row_major_strides(&[]), Vec::<usize>::new());
        let t = TensorType::new(DType::F16, vec![2, 3]);
        assert_eq!(t.num_bytes(), Some(12));
        assert_eq!(TensorType::new(DType::F32, vec![DYN]).num_elements(), None);
    }
}
