//! Op attributes: compile-time parameters such as axes, shapes and dtypes.

use crate::dtype::DType;
use crate::literal::Literal;

/// One attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    Bool(bool),
    Int(i64),
    /// Printed with the shortest decimal that round-trips; `nan`, `inf`, `-inf`.
    Float(f64),
    Ints(Vec<i64>),
    Str(String),
    DType(DType),
    /// Dense tensor data (`dense<...>` in the text form).
    Dense(Literal),
}

/// The kind an attribute must have; part of each op's definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    Bool,
    Int,
    Float,
    Ints,
    Str,
    DType,
    Dense,
}

impl Attr {
    pub fn kind(&self) -> AttrKind {
        match self {
            Attr::Bool(_) => AttrKind::Bool,
            Attr::Int(_) => AttrKind::Int,
            Attr::Float(_) => AttrKind::Float,
            Attr::Ints(_) => AttrKind::Ints,
            Attr::Str(_) => AttrKind::Str,
            Attr::DType(_) => AttrKind::DType,
            Attr::Dense(_) => AttrKind::Dense,
        }
    }
}

// Floats compare by bits so that `parse(print(f)) == f` holds for NaN too.
impl PartialEq for Attr {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (Attr::Float(a), Attr::Float(b)) => a.to_bits() == b.to_bits(),
            (Attr::Bool(a), Attr::Bool(b)) => a == b,
            (Attr::Int(a), Attr::Int(b)) => a == b,
            (Attr::Ints(a), Attr::Ints(b)) => a == b,
            (Attr::Str(a), Attr::Str(b)) => a == b,
            (Attr::DType(a), Attr::DType(b)) => a == b,
            (Attr::Dense(a), Attr::Dense(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for Attr {}
impl std::hash::Hash for Attr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Attr::Bool(b) => b.hash(h),
            Attr::Int(i) => i.hash(h),
            Attr::Float(f) => f.to_bits().hash(h),
            Attr::Ints(v) => v.hash(h),
            Attr::Str(s) => s.hash(h),
            Attr::DType(d) => d.hash(h),
            Attr::Dense(l) => l.hash(h),
        }
    }
}

impl AttrKind {
    pub fn name(self) -> &'static str {
        match self {
            AttrKind::Bool => "bool",
            AttrKind::Int => "int",
            AttrKind::Float => "float",
            AttrKind::Ints => "int list",
            AttrKind::Str => "string",
            AttrKind::DType => "dtype",
            AttrKind::Dense => "dense tensor",
        }
    }
}

/// The attributes of one op, sorted by name. Names are the `&'static str`s
/// of the op's [`crate::ops::AttrSpec`]s, so storing them costs no allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attrs(Vec<(&'static str, Attr)>);

impl Attrs {
    pub fn new() -> Self {
        Attrs(Vec::new())
    }

    /// Sets `name`, replacing an earlier value.
    pub fn set(&mut self, name: &'static str, value: Attr) {
        match self.0.binary_search_by(|(n, _)| (*n).cmp(name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Builder-style [`Attrs::set`].
    pub fn with(mut self, name: &'static str, value: Attr) -> Self {
        self.set(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.0
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'static str, &Attr)> {
        self.0.iter().map(|(n, a)| (*n, a))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    // Typed accessors. Each returns an error message naming the attribute
    // when it is missing or of another kind; the verifier guarantees both
    // for verified IR, but callers never need to unwrap.

    pub fn int(&self, name: &str) -> Result<i64, String> {
        match self.get(name) {
            Some(Attr::Int(v)) => Ok(*v),
            other => Err(bad(name, "int", other)),
        }
    }
    pub fn ints(&self, name: &str) -> Result<&[i64], String> {
        match self.get(name) {
            Some(Attr::Ints(v)) => Ok(v),
            other => Err(bad(name, "int list", other)),
        }
    }
    pub fn float(&self, name: &str) -> Result<f64, String> {
        match self.get(name) {
            Some(Attr::Float(v)) => Ok(*v),
            other => Err(bad(name, "float", other)),
        }
    }
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            Some(Attr::Bool(v)) => Ok(*v),
            other => Err(bad(name, "bool", other)),
        }
    }
    pub fn str(&self, name: &str) -> Result<&str, String> {
        match self.get(name) {
            Some(Attr::Str(v)) => Ok(v),
            other => Err(bad(name, "string", other)),
        }
    }
    pub fn dtype(&self, name: &str) -> Result<DType, String> {
        match self.get(name) {
            Some(Attr::DType(v)) => Ok(*v),
            other => Err(bad(name, "dtype", other)),
        }
    }
    pub fn dense(&self, name: &str) -> Result<&Literal, String> {
        match self.get(name) {
            Some(Attr::Dense(v)) => Ok(v),
            other => Err(bad(name, "dense tensor", other)),
        }
    }
}

fn bad(name: &str, want: &str, got: Option<&Attr>) -> String {
    match got {
        None => format!("missing attribute `{name}` ({want})"),
        Some(a) => format!(
            "attribute `{name}` must be a {want}, found a {}",
            a.kind().name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_typed() {
        let a = Attrs::new()
            .with("keepdims", Attr::Bool(true))
            .with("axes", Attr::Ints(vec![0, 2]));
        let names: Vec<_> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["axes", "keepdims"]);
        assert_eq!(a.ints("axes").unwrap(), &[0, 2]);
        assert!(a.int("axes").unwrap_err().contains("must be a int"));
        assert!(a
            .bool("nope")
            .unwrap_err()
            .contains("missing attribute `nope`"));
        assert_eq!(Attr::Float(f64::NAN), Attr::Float(f64::NAN));
    }
}
