//! [`Nest`]: the value type of MLX's Python trees — nested maps with string
//! keys (in insertion order, as Python dicts), lists, and leaves (arrays by
//! default). Model parameters, gradients and optimizer state are `Nest`s.
//!
//! `Nest<Array>` implements the transforms' [`Tree`] trait, so
//! [`crate::transforms::grad`] and [`crate::transforms::value_and_grad`]
//! differentiate closures over a whole parameter tree and return the
//! gradient as a `Nest` of the same structure. The MLX tree utilities
//! (`tree_flatten`, `tree_unflatten`, `tree_map`...) live in
//! [`crate::utils`].
//!
//! ```
//! use psionic_mlx::*;
//! let p = Nest::dict([
//!     ("weight", Nest::Leaf(ones(&[2, 2], DType::F32))),
//!     ("layers", Nest::List(vec![Nest::dict([("b", Nest::Leaf(zeros(&[2], DType::F32)))])])),
//! ]);
//! assert_eq!(p.get_path("layers.0.b").unwrap().leaf().unwrap().shape(), &[2]);
//! assert_eq!(p.num_leaves(), 2);
//! ```

use crate::array::Array;
use crate::error::Error;
use crate::transforms::Tree;

/// A tree of values: a leaf, a list, or a map from string keys kept in
/// insertion order (like a Python dict, so flattening lists keys in the
/// order MLX does). `T` is [`Array`] unless said otherwise.
#[derive(Clone, Debug, PartialEq)]
pub enum Nest<T = Array> {
    Leaf(T),
    List(Vec<Nest<T>>),
    Dict(Dict<T>),
}

/// A map from string keys to subtrees, in insertion order. Inserting an
/// existing key replaces its value in place (as a Python dict does).
#[derive(Clone, Debug, PartialEq)]
pub struct Dict<T = Array> {
    entries: Vec<(String, Nest<T>)>,
}

impl<T> Default for Dict<T> {
    fn default() -> Self {
        Dict {
            entries: Vec::new(),
        }
    }
}

impl<T> Dict<T> {
    pub fn new() -> Self {
        Dict::default()
    }
    /// Sets `key` to `value`; returns the old value, if any (its position
    /// is kept).
    pub fn insert(&mut self, key: impl Into<String>, value: Nest<T>) -> Option<Nest<T>> {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }
    pub fn get(&self, key: &str) -> Option<&Nest<T>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Nest<T>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    pub fn remove(&mut self, key: &str) -> Option<Nest<T>> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
    pub fn values(&self) -> impl Iterator<Item = &Nest<T>> {
        self.entries.iter().map(|(_, v)| v)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Nest<T>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Nest<T>)> {
        self.entries.iter_mut().map(|(k, v)| (k.as_str(), v))
    }
}

impl<T, K: Into<String>> FromIterator<(K, Nest<T>)> for Dict<T> {
    fn from_iter<I: IntoIterator<Item = (K, Nest<T>)>>(iter: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

impl<T> IntoIterator for Dict<T> {
    type Item = (String, Nest<T>);
    type IntoIter = std::vec::IntoIter<(String, Nest<T>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<T> Nest<T> {
    /// A map node from `(key, subtree)` pairs, in order.
    pub fn dict<K: Into<String>>(items: impl IntoIterator<Item = (K, Nest<T>)>) -> Nest<T> {
        Nest::Dict(items.into_iter().collect())
    }
    /// An empty map node.
    pub fn empty() -> Nest<T> {
        Nest::Dict(Dict::new())
    }
    pub fn leaf(&self) -> Option<&T> {
        match self {
            Nest::Leaf(x) => Some(x),
            _ => None,
        }
    }
    pub fn as_dict(&self) -> Option<&Dict<T>> {
        match self {
            Nest::Dict(d) => Some(d),
            _ => None,
        }
    }
    pub fn as_dict_mut(&mut self) -> Option<&mut Dict<T>> {
        match self {
            Nest::Dict(d) => Some(d),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[Nest<T>]> {
        match self {
            Nest::List(l) => Some(l),
            _ => None,
        }
    }
    /// The child under `key`: a map key, or a list index written in decimal.
    pub fn get(&self, key: &str) -> Option<&Nest<T>> {
        match self {
            Nest::Dict(d) => d.get(key),
            Nest::List(l) => key.parse::<usize>().ok().and_then(|i| l.get(i)),
            Nest::Leaf(_) => None,
        }
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Nest<T>> {
        match self {
            Nest::Dict(d) => d.get_mut(key),
            Nest::List(l) => key.parse::<usize>().ok().and_then(|i| l.get_mut(i)),
            Nest::Leaf(_) => None,
        }
    }
    /// The subtree at a dotted path as [`crate::utils::tree_flatten`] names
    /// it (`"layers.0.weight"`); `""` is the tree itself.
    pub fn get_path(&self, path: &str) -> Option<&Nest<T>> {
        if path.is_empty() {
            return Some(self);
        }
        path.split('.').try_fold(self, |n, k| n.get(k))
    }
    pub fn get_path_mut(&mut self, path: &str) -> Option<&mut Nest<T>> {
        if path.is_empty() {
            return Some(self);
        }
        path.split('.').try_fold(self, |n, k| n.get_mut(k))
    }
    /// The leaves in flattening order (depth first, maps in key order of
    /// insertion, lists by index).
    pub fn leaf_refs(&self) -> Vec<&T> {
        fn go<'a, T>(n: &'a Nest<T>, out: &mut Vec<&'a T>) {
            match n {
                Nest::Leaf(x) => out.push(x),
                Nest::List(l) => l.iter().for_each(|c| go(c, out)),
                Nest::Dict(d) => d.values().for_each(|c| go(c, out)),
            }
        }
        let mut v = Vec::new();
        go(self, &mut v);
        v
    }
    pub fn num_leaves(&self) -> usize {
        match self {
            Nest::Leaf(_) => 1,
            Nest::List(l) => l.iter().map(Nest::num_leaves).sum(),
            Nest::Dict(d) => d.values().map(Nest::num_leaves).sum(),
        }
    }
    /// The same structure with `f` applied to every leaf.
    pub fn map<U>(&self, f: &mut impl FnMut(&T) -> U) -> Nest<U> {
        match self {
            Nest::Leaf(x) => Nest::Leaf(f(x)),
            Nest::List(l) => Nest::List(l.iter().map(|c| c.map(f)).collect()),
            Nest::Dict(d) => Nest::Dict(Dict {
                entries: d
                    .entries
                    .iter()
                    .map(|(k, c)| (k.clone(), c.map(f)))
                    .collect(),
            }),
        }
    }
    /// [`Nest::map`] with a fallible `f`: the first error stops the walk.
    pub fn try_map<U, E>(&self, f: &mut impl FnMut(&T) -> Result<U, E>) -> Result<Nest<U>, E> {
        Ok(match self {
            Nest::Leaf(x) => Nest::Leaf(f(x)?),
            Nest::List(l) => Nest::List(l.iter().map(|c| c.try_map(f)).collect::<Result<_, _>>()?),
            Nest::Dict(d) => Nest::Dict(Dict {
                entries: d
                    .entries
                    .iter()
                    .map(|(k, c)| Ok((k.clone(), c.try_map(f)?)))
                    .collect::<Result<_, E>>()?,
            }),
        })
    }
    /// True when `self` and `other` have the same nodes and keys (leaves
    /// not compared).
    pub fn same_structure<U>(&self, other: &Nest<U>) -> bool {
        match (self, other) {
            (Nest::Leaf(_), Nest::Leaf(_)) => true,
            (Nest::List(a), Nest::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_structure(y))
            }
            (Nest::Dict(a), Nest::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, x)| b.get(k).is_some_and(|y| x.same_structure(y)))
            }
            _ => false,
        }
    }
}

impl Nest<Array> {
    /// The leaves (cheap `Array` clones) in flattening order.
    pub fn arrays(&self) -> Vec<Array> {
        self.leaf_refs().into_iter().cloned().collect()
    }
    /// The array at a dotted path, or an error naming the path.
    pub fn array_at(&self, path: &str) -> Result<&Array, Error> {
        match self.get_path(path) {
            Some(Nest::Leaf(a)) => Ok(a),
            Some(_) => Err(Error::new(
                "tree",
                format!("`{path}` is a subtree, not an array"),
            )),
            None => Err(Error::new("tree", format!("no entry `{path}` in the tree"))),
        }
    }
}

impl<T> From<T> for Nest<T> {
    fn from(x: T) -> Self {
        Nest::Leaf(x)
    }
}

impl<T> From<Vec<Nest<T>>> for Nest<T> {
    fn from(l: Vec<Nest<T>>) -> Self {
        Nest::List(l)
    }
}

impl<T> From<Dict<T>> for Nest<T> {
    fn from(d: Dict<T>) -> Self {
        Nest::Dict(d)
    }
}

impl Tree for Nest<Array> {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        match self {
            Nest::Leaf(a) => out.push(a.clone()),
            Nest::List(l) => l.iter().for_each(|c| c.flatten_into(out)),
            Nest::Dict(d) => d.values().for_each(|c| c.flatten_into(out)),
        }
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        Ok(match self {
            Nest::Leaf(_) => Nest::Leaf(
                leaves
                    .next()
                    .ok_or_else(|| Error::new("transforms", "too few arrays to rebuild a tree"))?,
            ),
            Nest::List(l) => Nest::List(
                l.iter()
                    .map(|c| c.rebuild(leaves))
                    .collect::<Result<_, _>>()?,
            ),
            Nest::Dict(d) => Nest::Dict(Dict {
                entries: d
                    .entries
                    .iter()
                    .map(|(k, c)| Ok((k.clone(), c.rebuild(leaves)?)))
                    .collect::<Result<_, Error>>()?,
            }),
        })
    }
}
