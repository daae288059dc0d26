//! MLX's tree utilities (`mlx.utils`) over [`Nest`]: `tree_flatten`,
//! `tree_unflatten`, `tree_map`, `tree_map_with_path`, `tree_reduce` and
//! `tree_merge`, with MLX's key naming: a path joins map keys and list
//! indices with dots (`"layers.0.weight"`), and the root leaf's path is
//! `""`.
//!
//! ```
//! use psionic_mlx::*;
//! use psionic_mlx::utils::{tree_flatten, tree_unflatten};
//! let t = Nest::dict([("model", Nest::List(vec![
//!     Nest::dict([("w", Nest::Leaf(1)), ("b", Nest::Leaf(2))]),
//! ]))]);
//! let flat = tree_flatten(&t);
//! assert_eq!(flat, vec![("model.0.w".to_string(), 1), ("model.0.b".to_string(), 2)]);
//! assert_eq!(tree_unflatten(flat).unwrap(), t);
//! ```
//!
//! MLX's `is_leaf` callbacks have no counterpart: a [`Nest`] says what is a
//! leaf. `tree_map` over several trees (`rest`) and `tree_merge` return an
//! error where MLX would raise one.

use crate::error::Error;
use crate::tree::{Dict, Nest};

/// `(path, leaf)` for every leaf, depth first, maps in insertion order
/// (MLX's `tree_flatten(tree)`). Empty maps and lists contribute nothing.
pub fn tree_flatten<T: Clone>(tree: &Nest<T>) -> Vec<(String, T)> {
    tree_flatten_prefix(tree, "")
}

/// MLX's `tree_flatten(tree, prefix)`: keys are built as `prefix + "." +
/// key` and the first character of every result is dropped, so
/// `prefix = ".hello"` gives `"hello.0"`, and a non-empty prefix without a
/// leading dot loses its first character, exactly as in MLX.
pub fn tree_flatten_prefix<T: Clone>(tree: &Nest<T>, prefix: &str) -> Vec<(String, T)> {
    fn go<T: Clone>(n: &Nest<T>, prefix: &str, out: &mut Vec<(String, T)>) {
        match n {
            Nest::Leaf(x) => {
                let mut chars = prefix.chars();
                chars.next();
                out.push((chars.as_str().to_string(), x.clone()));
            }
            Nest::List(l) => {
                for (i, c) in l.iter().enumerate() {
                    go(c, &format!("{prefix}.{i}"), out);
                }
            }
            Nest::Dict(d) => {
                for (k, c) in d.iter() {
                    go(c, &format!("{prefix}.{k}"), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    go(tree, prefix, &mut out);
    out
}

/// Rebuilds a tree from `(path, leaf)` pairs (MLX's `tree_unflatten`): a
/// single pair with the empty path is the leaf itself; a level whose keys
/// are all integers (and distinct as integers: `"01"` and `"1"` make a map)
/// is a list ordered by index, with missing indices filled by empty maps;
/// any other level is a map in order of first appearance. An empty input
/// gives an empty list, as in MLX.
pub fn tree_unflatten<T>(items: Vec<(String, T)>) -> Result<Nest<T>, Error> {
    if items.len() == 1 && items[0].0.is_empty() {
        let (_, v) = items.into_iter().next().ok_or_else(unreachable_err)?;
        return Ok(Nest::Leaf(v));
    }
    // Children in order of first appearance.
    let mut children: Vec<(String, Vec<(String, T)>)> = Vec::new();
    for (key, value) in items {
        let (head, rest) = match key.split_once('.') {
            Some((h, r)) => (h.to_string(), r.to_string()),
            None => (key, String::new()),
        };
        match children.iter_mut().find(|(k, _)| *k == head) {
            Some((_, v)) => v.push((rest, value)),
            None => children.push((head, vec![(rest, value)])),
        }
    }
    // A list when every key parses as an integer and no two parse the same.
    // Python's int() also accepts a sign and surrounding blanks; MLX keys
    // never carry them, and only non-negative indices can place an item.
    let indices: Option<Vec<usize>> = children.iter().map(|(k, _)| k.parse().ok()).collect();
    let is_list = match &indices {
        Some(ix) => {
            let mut s = ix.clone();
            s.sort_unstable();
            s.dedup();
            s.len() == ix.len()
        }
        None => false,
    };
    if let (true, Some(ix)) = (is_list, indices) {
        let mut pairs: Vec<(usize, Vec<(String, T)>)> = ix
            .into_iter()
            .zip(children.into_iter().map(|(_, v)| v))
            .collect();
        pairs.sort_by_key(|(i, _)| *i);
        let mut out = Vec::new();
        for (i, sub) in pairs {
            while out.len() < i {
                out.push(Nest::empty());
            }
            out.push(unflatten_child(sub)?);
        }
        return Ok(Nest::List(out));
    }
    let mut d = Dict::new();
    for (k, sub) in children {
        d.insert(k, unflatten_child(sub)?);
    }
    Ok(Nest::Dict(d))
}

fn unflatten_child<T>(sub: Vec<(String, T)>) -> Result<Nest<T>, Error> {
    // A path that ends at this level but also has deeper entries ("a" and
    // "a.b") cannot be rebuilt; MLX silently keeps a dict with key "".
    // Report it instead of guessing.
    if sub.len() > 1 && sub.iter().any(|(k, _)| k.is_empty()) {
        return Err(Error::new(
            "tree_unflatten",
            "a path is both a leaf and a prefix of another path",
        ));
    }
    tree_unflatten(sub)
}

fn unreachable_err() -> Error {
    Error::new("tree_unflatten", "internal: empty single-item list")
}

/// A tree of the same structure with `f` applied to every leaf (MLX's
/// `tree_map(fn, tree)`).
pub fn tree_map<T, U>(f: impl Fn(&T) -> U, tree: &Nest<T>) -> Nest<U> {
    tree.map(&mut |x| f(x))
}

/// [`tree_map`] with a fallible `f`.
pub fn try_tree_map<T, U>(
    f: impl Fn(&T) -> Result<U, Error>,
    tree: &Nest<T>,
) -> Result<Nest<U>, Error> {
    tree.try_map(&mut |x| f(x))
}

/// MLX's `tree_map(fn, tree, *rest)`: `f` gets each leaf of `tree` and the
/// leaves at the same place in every tree of `rest`, which must each hold
/// `tree`'s structure (they may have more keys). A place missing from a
/// tree of `rest`, or holding a subtree where `tree` has a leaf, is an
/// error naming its path.
pub fn tree_map_n<T, U>(
    f: impl Fn(&T, &[&T]) -> Result<U, Error>,
    tree: &Nest<T>,
    rest: &[&Nest<T>],
) -> Result<Nest<U>, Error> {
    tree_map_with_path_n(|_, x, r| f(x, r), tree, rest)
}

/// MLX's `tree_map_with_path(fn, tree)`: `f` gets the leaf's dotted path
/// (`""` for a root leaf) and the leaf.
pub fn tree_map_with_path<T, U>(f: impl Fn(&str, &T) -> U, tree: &Nest<T>) -> Nest<U> {
    fn go<T, U>(f: &impl Fn(&str, &T) -> U, n: &Nest<T>, path: &str) -> Nest<U> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        match n {
            Nest::Leaf(x) => Nest::Leaf(f(path, x)),
            Nest::List(l) => Nest::List(
                l.iter()
                    .enumerate()
                    .map(|(i, c)| go(f, c, &format!("{prefix}{i}")))
                    .collect(),
            ),
            Nest::Dict(d) => Nest::dict(
                d.iter()
                    .map(|(k, c)| (k.to_string(), go(f, c, &format!("{prefix}{k}")))),
            ),
        }
    }
    go(&f, tree, "")
}

/// [`tree_map_with_path`] over several trees, as [`tree_map_n`].
pub fn tree_map_with_path_n<T, U>(
    f: impl Fn(&str, &T, &[&T]) -> Result<U, Error>,
    tree: &Nest<T>,
    rest: &[&Nest<T>],
) -> Result<Nest<U>, Error> {
    fn go<T, U>(
        f: &impl Fn(&str, &T, &[&T]) -> Result<U, Error>,
        n: &Nest<T>,
        rest: &[&Nest<T>],
        path: &str,
    ) -> Result<Nest<U>, Error> {
        let child_path = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        let sub = |k: &str| -> Result<Vec<&Nest<T>>, Error> {
            rest.iter()
                .map(|r| {
                    r.get(k).ok_or_else(|| {
                        Error::new(
                            "tree_map",
                            format!("a tree of `rest` has no entry `{}`", child_path(k)),
                        )
                    })
                })
                .collect()
        };
        match n {
            Nest::Leaf(x) => {
                let leaves: Vec<&T> = rest
                    .iter()
                    .map(|r| {
                        r.leaf().ok_or_else(|| {
                            Error::new(
                                "tree_map",
                                format!(
                                    "a tree of `rest` has a subtree at `{path}` where the first has a leaf"
                                ),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Nest::Leaf(f(path, x, &leaves)?))
            }
            Nest::List(l) => {
                let mut out = Vec::with_capacity(l.len());
                for (i, c) in l.iter().enumerate() {
                    let k = i.to_string();
                    out.push(go(f, c, &sub(&k)?, &child_path(&k))?);
                }
                Ok(Nest::List(out))
            }
            Nest::Dict(d) => {
                let mut out = Dict::new();
                for (k, c) in d.iter() {
                    out.insert(k, go(f, c, &sub(k)?, &child_path(k))?);
                }
                Ok(Nest::Dict(out))
            }
        }
    }
    go(&f, tree, rest, "")
}

/// Folds the leaves in flattening order (MLX's `tree_reduce(fn, tree,
/// initializer)`).
pub fn tree_reduce<T, A>(f: impl Fn(A, &T) -> A, tree: &Nest<T>, init: A) -> A {
    tree.leaf_refs().into_iter().fold(init, f)
}

/// MLX's `tree_reduce(fn, tree)` without an initializer: the first leaf
/// starts the fold; `None` for a tree without leaves.
pub fn tree_reduce1<T: Clone>(f: impl Fn(T, &T) -> T, tree: &Nest<T>) -> Option<T> {
    let leaves = tree.leaf_refs();
    let (first, rest) = leaves.split_first()?;
    Some(rest.iter().fold((*first).clone(), |a, x| f(a, x)))
}

/// How `tree_merge` combines two leaves at one path.
pub type MergeFn<'a, T> = &'a dyn Fn(&T, &T) -> T;

/// Merges two trees (MLX's `tree_merge`, a deep `dict.update`): maps take
/// the union of their keys (those of `a` first, then the new ones of `b`),
/// lists merge item by item, an empty map or list yields to the other side,
/// and where both trees hold a leaf `merge` decides (`None`: an error, as
/// MLX raises without a `merge_fn`).
pub fn tree_merge<T: Clone>(
    a: &Nest<T>,
    b: &Nest<T>,
    merge: Option<MergeFn<'_, T>>,
) -> Result<Nest<T>, Error> {
    fn empty<T>(n: &Nest<T>) -> bool {
        match n {
            Nest::List(l) => l.is_empty(),
            Nest::Dict(d) => d.is_empty(),
            Nest::Leaf(_) => false,
        }
    }
    if empty(a) && empty(b) {
        return match (a, b) {
            (Nest::List(_), Nest::List(_)) => Ok(Nest::List(Vec::new())),
            (Nest::Dict(_), Nest::Dict(_)) => Ok(Nest::empty()),
            _ => Err(Error::new("tree_merge", "cannot merge a list with a map")),
        };
    }
    if empty(a) {
        return Ok(b.clone());
    }
    if empty(b) {
        return Ok(a.clone());
    }
    match (a, b) {
        (Nest::List(x), Nest::List(y)) => {
            let n = x.len().max(y.len());
            (0..n)
                .map(|i| match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => tree_merge(p, q, merge),
                    (Some(p), None) => Ok(p.clone()),
                    (None, Some(q)) => Ok(q.clone()),
                    (None, None) => Err(Error::new("tree_merge", "internal: list index")),
                })
                .collect::<Result<_, _>>()
                .map(Nest::List)
        }
        (Nest::Dict(x), Nest::Dict(y)) => {
            let mut out = Dict::new();
            for (k, p) in x.iter() {
                let v = match y.get(k) {
                    Some(q) => tree_merge(p, q, merge)?,
                    None => p.clone(),
                };
                out.insert(k, v);
            }
            for (k, q) in y.iter() {
                if !x.contains_key(k) {
                    out.insert(k, q.clone());
                }
            }
            Ok(Nest::Dict(out))
        }
        (Nest::Leaf(p), Nest::Leaf(q)) => match merge {
            Some(m) => Ok(Nest::Leaf(m(p, q))),
            None => Err(Error::new(
                "tree_merge",
                "trees contain elements at the same locations but no merge function was provided",
            )),
        },
        _ => match merge {
            Some(_) => Err(Error::new(
                "tree_merge",
                "cannot merge a leaf with a subtree",
            )),
            None => Err(Error::new(
                "tree_merge",
                "trees contain elements at the same locations but no merge function was provided",
            )),
        },
    }
}

/// `tree` with the leaves of `new` written over it (what MLX's
/// `Module.update(new)` does to a parameter tree): `new` may cover only
/// part of `tree`; its paths must exist in `tree` with the same kind of
/// node (a list in `new` is matched index by index and may be shorter).
pub fn tree_update<T: Clone>(tree: &Nest<T>, new: &Nest<T>) -> Result<Nest<T>, Error> {
    fn go<T: Clone>(t: &mut Nest<T>, n: &Nest<T>, path: &str) -> Result<(), Error> {
        let child = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match (t, n) {
            (t, Nest::Leaf(x)) => {
                if !matches!(t, Nest::Leaf(_)) {
                    return Err(Error::new(
                        "update",
                        format!("`{path}` is a subtree in the tree but a leaf in the update"),
                    ));
                }
                *t = Nest::Leaf(x.clone());
                Ok(())
            }
            (Nest::List(l), Nest::List(m)) => {
                if m.len() > l.len() {
                    return Err(Error::new(
                        "update",
                        format!(
                            "the update has {} items at `{path}`, the tree {}",
                            m.len(),
                            l.len()
                        ),
                    ));
                }
                for (i, (a, b)) in l.iter_mut().zip(m).enumerate() {
                    go(a, b, &child(&i.to_string()))?;
                }
                Ok(())
            }
            (Nest::Dict(d), Nest::Dict(m)) => {
                for (k, b) in m.iter() {
                    match d.get_mut(k) {
                        Some(a) => go(a, b, &child(k))?,
                        None => {
                            return Err(Error::new(
                                "update",
                                format!("the tree has no entry `{}`", child(k)),
                            ))
                        }
                    }
                }
                Ok(())
            }
            _ => Err(Error::new(
                "update",
                format!("`{path}` has a different kind of node in the tree and the update"),
            )),
        }
    }
    let mut out = tree.clone();
    go(&mut out, new, "")?;
    Ok(out)
}
