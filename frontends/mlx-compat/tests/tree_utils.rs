//! Tree utilities against MLX's `mlx.utils` (fixtures from
//! `tools/mlx/gen_optim_fixtures.py`: key naming, order, list detection,
//! gap filling), a randomized flatten/unflatten round trip, and `grad`
//! over a `Nest` of parameters.

use proptest::prelude::*;
use psionic_mlx::transforms::{grad, value_and_grad};
use psionic_mlx::utils::*;
use psionic_mlx::*;
use serde_json::Value;

fn load() -> Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optim/trees.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The fixture encoding: {"dict": [[k, v]...]}, {"list": [...]}, {"leaf": x}.
fn dec<T>(v: &Value, leaf: &impl Fn(&Value) -> T) -> Nest<T> {
    if let Some(d) = v.get("dict") {
        Nest::dict(
            d.as_array()
                .unwrap()
                .iter()
                .map(|kv| (kv[0].as_str().unwrap().to_string(), dec(&kv[1], leaf))),
        )
    } else if let Some(l) = v.get("list") {
        Nest::List(l.as_array().unwrap().iter().map(|x| dec(x, leaf)).collect())
    } else {
        Nest::Leaf(leaf(&v["leaf"]))
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

fn pairs(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|kv| (kv[0].as_str().unwrap().to_string(), kv[1].as_i64().unwrap()))
        .collect()
}

#[test]
fn flatten_names_keys_as_mlx() {
    let data = load();
    for c in data["flatten"].as_array().unwrap() {
        let t = dec(&c["tree"], &int);
        assert_eq!(tree_flatten(&t), pairs(&c["flat"]), "{}", c["tree"]);
        assert_eq!(tree_flatten_prefix(&t, ".p"), pairs(&c["prefixed"]));
    }
}

#[test]
fn unflatten_rebuilds_as_mlx() {
    let data = load();
    for c in data["unflatten"].as_array().unwrap() {
        let got = tree_unflatten(pairs(&c["flat"])).unwrap();
        assert_eq!(got, dec(&c["tree"], &int), "{}", c["flat"]);
    }
    assert_eq!(
        tree_unflatten::<i64>(Vec::new()).unwrap(),
        Nest::List(Vec::new())
    );
    let e = tree_unflatten(vec![("a".to_string(), 1), ("a.b".to_string(), 2)]).unwrap_err();
    assert!(e.to_string().contains("both a leaf and a prefix"), "{e}");
}

#[test]
fn map_with_path_passes_mlx_paths() {
    let data = load();
    for c in data["map_with_path"].as_array().unwrap() {
        let t = dec(&c["tree"], &int);
        let got = tree_map_with_path(|p, _| p.to_string(), &t);
        let want = dec(&c["paths"], &|v: &Value| {
            v.as_str().unwrap_or("").to_string()
        });
        // MLX passes `None` for a root leaf's path; ours is "".
        assert_eq!(got, want, "{}", c["tree"]);
    }
}

#[test]
fn map_reduce_and_merge() {
    let a = Nest::dict([
        (
            "a",
            Nest::List(vec![Nest::Leaf(1), Nest::Leaf(2), Nest::Leaf(3)]),
        ),
        ("b", Nest::List(vec![Nest::Leaf(4), Nest::Leaf(5)])),
    ]);
    assert_eq!(tree_reduce(|acc, x| acc + x, &a, 0), 15);
    assert_eq!(tree_reduce1(|acc, x| acc.max(*x), &a), Some(5));
    let doubled = tree_map(|x| x * 2, &a);
    assert_eq!(doubled.get_path("b.1"), Some(&Nest::Leaf(10)));
    let summed = tree_map_n(|x, r| Ok(x + r[0]), &a, &[&doubled]).unwrap();
    assert_eq!(tree_flatten(&summed)[4], ("b.1".to_string(), 15));
    // `rest` must hold the first tree's structure.
    let short = Nest::dict([("a", Nest::List(vec![Nest::Leaf(1)]))]);
    let e = tree_map_n(|x, r| Ok(x + r[0]), &a, &[&short]).unwrap_err();
    assert!(e.to_string().contains("no entry `a.1`"), "{e}");
    // Merge: disjoint leaves merge; a clash needs a merge function.
    let x = Nest::dict([("w", Nest::Leaf(1))]);
    let y = Nest::dict([("b", Nest::Leaf(2)), ("w", Nest::Leaf(3))]);
    assert!(tree_merge(&x, &y, None).is_err());
    let m = tree_merge(&x, &y, Some(&|p: &i64, q: &i64| p + q)).unwrap();
    assert_eq!(tree_flatten(&m), vec![("w".into(), 4), ("b".into(), 2)]);
    let m = tree_merge(&Nest::empty(), &y, None).unwrap();
    assert_eq!(m, y);
    // Update writes part of a tree and rejects unknown paths.
    let u = tree_update(&y, &Nest::dict([("w", Nest::Leaf(9))])).unwrap();
    assert_eq!(tree_flatten(&u), vec![("b".into(), 2), ("w".into(), 9)]);
    assert!(tree_update(&y, &Nest::dict([("z", Nest::Leaf(9))])).is_err());
}

fn arb_nest() -> impl Strategy<Value = Nest<i64>> {
    let leaf = proptest::arbitrary::any::<i64>().prop_map(Nest::Leaf);
    leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Nest::List),
            prop::collection::vec(("[a-z_][a-z0-9_]{0,3}", inner), 1..4).prop_map(Nest::dict),
        ]
    })
}

proptest! {
    #[test]
    fn flatten_then_unflatten_is_the_identity(t in arb_nest()) {
        let flat = tree_flatten(&t);
        prop_assert_eq!(flat.len(), t.num_leaves());
        for (k, v) in &flat {
            prop_assert_eq!(t.get_path(k), Some(&Nest::Leaf(*v)));
        }
        prop_assert_eq!(tree_unflatten(flat).unwrap(), t);
    }
}

#[test]
fn grad_over_a_nest_of_parameters() {
    let params = Nest::dict([
        ("w", Nest::Leaf(array(&[1.0f32, 2.0, 3.0], &[3]))),
        (
            "layers",
            Nest::List(vec![Nest::dict([(
                "b",
                Nest::Leaf(array(&[4.0f32], &[1])),
            )])]),
        ),
    ]);
    // loss = sum(w^2) + 3 * sum(b)
    let loss = |p: &Nest| {
        let w = p.array_at("w").unwrap();
        let b = p.array_at("layers.0.b").unwrap();
        (w * w).sum(Axes::All, false) + (b * 3.0).sum(Axes::All, false)
    };
    let g = grad(loss)(&params);
    assert!(g.same_structure(&params));
    assert_eq!(
        g.array_at("w").unwrap().to_vec::<f32>().unwrap(),
        [2.0, 4.0, 6.0]
    );
    assert_eq!(
        g.array_at("layers.0.b").unwrap().to_vec::<f32>().unwrap(),
        [3.0]
    );
    let (v, _) = value_and_grad(loss)(&params);
    assert_eq!(v.item::<f32>().unwrap(), 26.0);
}
