//! [`Params`]: MLX's nest of parameters (dicts and lists of arrays), with
//! `tree_flatten`/`tree_unflatten` over dotted keys as MLX writes them
//! (`layers.0.weight`), and the [`Tree`] impl that lets transforms
//! differentiate with respect to a whole parameter nest.

use crate::array::Array;
use crate::error::Error;
use crate::transforms::Tree;
use std::collections::BTreeMap;

/// A nest of arrays: an array, a map from names, or a list (MLX's
/// parameter trees). Maps iterate in key order, so flattening is
/// deterministic.
#[derive(Clone, Debug)]
pub enum Params {
    Array(Array),
    Map(BTreeMap<String, Params>),
    List(Vec<Params>),
}

impl Default for Params {
    fn default() -> Self {
        Params::Map(BTreeMap::new())
    }
}

impl From<Array> for Params {
    fn from(a: Array) -> Self {
        Params::Array(a)
    }
}

impl Params {
    /// An empty map.
    pub fn new() -> Params {
        Params::default()
    }

    /// The array at a dotted path (`"layers.0.weight"`), if there is one.
    pub fn get(&self, path: &str) -> Option<&Array> {
        let mut cur = self;
        if !path.is_empty() {
            for part in path.split('.') {
                cur = match cur {
                    Params::Map(m) => m.get(part)?,
                    Params::List(l) => l.get(part.parse::<usize>().ok()?)?,
                    Params::Array(_) => return None,
                };
            }
        }
        match cur {
            Params::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The sub-tree at a key of a map.
    pub fn child(&self, key: &str) -> Option<&Params> {
        match self {
            Params::Map(m) => m.get(key),
            Params::List(l) => l.get(key.parse::<usize>().ok()?),
            Params::Array(_) => None,
        }
    }

    /// The array, if this is a leaf.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Params::Array(a) => Some(a),
            _ => None,
        }
    }

    /// MLX's `tree_flatten`: `(dotted key, array)` pairs in order.
    pub fn flatten(&self) -> Vec<(String, Array)> {
        let mut out = Vec::new();
        flatten_into(self, "", &mut out);
        out
    }

    /// `flatten` as a map (MLX's `tree_flatten(..., destination={})`).
    pub fn flatten_map(&self) -> BTreeMap<String, Array> {
        self.flatten().into_iter().collect()
    }

    /// MLX's `tree_unflatten`: a level whose keys are all integers becomes
    /// a list (holes are empty maps), any other level a map.
    pub fn unflatten(items: impl IntoIterator<Item = (String, Array)>) -> Result<Params, Error> {
        let items: Vec<(String, Array)> = items.into_iter().collect();
        if items.len() == 1 && items[0].0.is_empty() {
            return Ok(Params::Array(items[0].1.clone()));
        }
        let mut groups: BTreeMap<String, Vec<(String, Array)>> = BTreeMap::new();
        for (k, a) in items {
            if k.is_empty() {
                return Err(Error::new(
                    "tree_unflatten",
                    "an empty key next to other keys at the same level",
                ));
            }
            let (head, rest) = match k.split_once('.') {
                Some((h, r)) => (h.to_string(), r.to_string()),
                None => (k.clone(), String::new()),
            };
            groups.entry(head).or_default().push((rest, a));
        }
        let all_ints = groups.keys().all(|k| k.parse::<usize>().is_ok());
        let mut built: Vec<(String, Params)> = Vec::new();
        for (k, sub) in groups {
            if sub.len() > 1 && sub.iter().any(|(r, _)| r.is_empty()) {
                return Err(Error::new(
                    "tree_unflatten",
                    format!("key `{k}` is both an array and a nest"),
                ));
            }
            built.push((k, Params::unflatten(sub)?));
        }
        if all_ints && !built.is_empty() {
            let n = built
                .iter()
                .filter_map(|(k, _)| k.parse::<usize>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            let mut list = vec![Params::new(); n];
            for (k, p) in built {
                if let Ok(i) = k.parse::<usize>() {
                    list[i] = p;
                }
            }
            Ok(Params::List(list))
        } else {
            Ok(Params::Map(built.into_iter().collect()))
        }
    }

    /// The same nest with every array replaced by `f(key, array)`.
    pub fn map_with_path(&self, f: &mut dyn FnMut(&str, &Array) -> Array) -> Params {
        map_rec(self, "", f)
    }

    /// The same nest with every array replaced by `f(array)` (MLX's `tree_map`).
    pub fn map(&self, f: &mut dyn FnMut(&Array) -> Array) -> Params {
        map_rec(self, "", &mut |_, a| f(a))
    }

    /// Number of arrays in the nest.
    pub fn len(&self) -> usize {
        self.leaves().len()
    }

    /// True when the nest holds no array.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn join(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

fn flatten_into(p: &Params, prefix: &str, out: &mut Vec<(String, Array)>) {
    match p {
        Params::Array(a) => out.push((prefix.to_string(), a.clone())),
        Params::Map(m) => {
            for (k, v) in m {
                flatten_into(v, &join(prefix, k), out);
            }
        }
        Params::List(l) => {
            for (i, v) in l.iter().enumerate() {
                flatten_into(v, &join(prefix, &i.to_string()), out);
            }
        }
    }
}

fn map_rec(p: &Params, prefix: &str, f: &mut dyn FnMut(&str, &Array) -> Array) -> Params {
    match p {
        Params::Array(a) => Params::Array(f(prefix, a)),
        Params::Map(m) => Params::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), map_rec(v, &join(prefix, k), f)))
                .collect(),
        ),
        Params::List(l) => Params::List(
            l.iter()
                .enumerate()
                .map(|(i, v)| map_rec(v, &join(prefix, &i.to_string()), f))
                .collect(),
        ),
    }
}

impl Tree for Params {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        match self {
            Params::Array(a) => out.push(a.clone()),
            Params::Map(m) => m.values().for_each(|v| v.flatten_into(out)),
            Params::List(l) => l.iter().for_each(|v| v.flatten_into(out)),
        }
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        Ok(match self {
            Params::Array(_) => Params::Array(
                leaves
                    .next()
                    .ok_or_else(|| Error::new("transforms", "too few arrays to rebuild a tree"))?,
            ),
            Params::Map(m) => Params::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.rebuild(leaves)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            Params::List(l) => Params::List(
                l.iter()
                    .map(|v| v.rebuild(leaves))
                    .collect::<Result<_, Error>>()?,
            ),
        })
    }
}

/// A parameter nest as the optimizers' [`Nest`](crate::Nest) (maps become
/// dicts in `Params`' key order, which is the order `flatten` lists), so
/// `model.trainable_parameters()` and the gradients of
/// [`crate::nn::value_and_grad`] go straight into an optimizer.
impl From<&Params> for crate::Nest {
    fn from(p: &Params) -> Self {
        match p {
            Params::Array(a) => crate::Nest::Leaf(a.clone()),
            Params::Map(m) => crate::Nest::Dict(
                m.iter()
                    .map(|(k, v)| (k.clone(), crate::Nest::from(v)))
                    .collect(),
            ),
            Params::List(l) => crate::Nest::List(l.iter().map(crate::Nest::from).collect()),
        }
    }
}

/// The converse of `Nest::from(&Params)`: an optimizer's parameters back
/// as a nest a module can [`update`](crate::nn::Module::update) from.
impl From<&crate::Nest> for Params {
    fn from(n: &crate::Nest) -> Self {
        match n {
            crate::Nest::Leaf(a) => Params::Array(a.clone()),
            crate::Nest::Dict(d) => Params::Map(
                d.iter()
                    .map(|(k, v)| (k.to_string(), Params::from(v)))
                    .collect(),
            ),
            crate::Nest::List(l) => Params::List(l.iter().map(Params::from).collect()),
        }
    }
}
