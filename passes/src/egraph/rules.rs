//! The rewrite rules, in named rulesets. The contract every rule obeys is in
//! `docs/RULES.md`: rules rewrite left to right toward fewer bytes and flops;
//! a rule holds exactly for every input (NaN, infinities and integer
//! wrap-around included, signed zeros excepted) unless a [`super::RuleFlags`] flag
//! says otherwise; commutativity and associativity live only in [`AC`].
//!
//! Each rule is a pattern (attributes are matched by the applier, which
//! reads them off the matched class) and an applier that may refuse.

use super::{TAnalysis, TGraph, TNode};
use egg::{Applier, Id, Pattern, PatternAst, Rewrite, Subst, Symbol, Var};
use psionic_ir::{Attr, Attrs, DType, Opcode, TensorType};

pub const ALGEBRA: &str = "algebra";
pub const LAYOUT: &str = "layout";
pub const FUSION: &str = "fusion";
pub const AC: &str = "ac";
/// Every ruleset, in the order `docs/RULES.md` lists them.
pub const RULESETS: [&str; 4] = [ALGEBRA, LAYOUT, FUSION, AC];

type ApplyFn = dyn Fn(&mut TGraph, Id, &Subst) -> Option<Id> + Send + Sync;

/// An applier given by a function returning the class to merge with the
/// match, or None to refuse.
pub struct FnApplier(Box<ApplyFn>);

impl Applier<TNode, TAnalysis> for FnApplier {
    fn apply_one(
        &self,
        eg: &mut TGraph,
        eclass: Id,
        subst: &Subst,
        _: Option<&PatternAst<TNode>>,
        _: Symbol,
    ) -> Vec<Id> {
        match (self.0)(eg, eclass, subst) {
            Some(new) if eg.union(eclass, new) => vec![eclass],
            _ => vec![],
        }
    }
}

fn var(s: &str) -> Var {
    s.parse().expect("variable names in rules are valid")
}

fn rule(
    name: &str,
    lhs: &str,
    f: impl Fn(&mut TGraph, Id, &Subst) -> Option<Id> + Send + Sync + 'static,
) -> Rewrite<TNode, TAnalysis> {
    let pat: Pattern<TNode> = lhs.parse().expect("rule patterns parse");
    Rewrite::new(name, pat, FnApplier(Box::new(f))).expect("rules are well formed")
}

fn ty(eg: &TGraph, id: Id) -> Option<TensorType> {
    eg[id].data.ty.clone()
}
fn splat(eg: &TGraph, id: Id) -> Option<f64> {
    eg[id].data.splat
}
fn is_splat(eg: &TGraph, id: Id, v: f64) -> bool {
    splat(eg, id) == Some(v)
}
fn dtype(eg: &TGraph, id: Id) -> Option<DType> {
    eg[id].data.ty.as_ref().map(|t| t.dtype)
}

/// Adds `op(children){attrs}` if it type-checks.
pub fn add_op(eg: &mut TGraph, op: Opcode, attrs: Attrs, children: Vec<Id>) -> Option<Id> {
    let tys: Option<Vec<TensorType>> = children.iter().map(|&c| ty(eg, c)).collect();
    let tys = tys?;
    let refs: Vec<&TensorType> = tys.iter().collect();
    let out = psionic_ir::ops::infer_types(op, &refs, &attrs).ok()?;
    if out.len() != 1 {
        return None;
    }
    let a = eg.analysis.intern(attrs);
    Some(eg.add(TNode::Op {
        op,
        attrs: a,
        children,
    }))
}

fn full(eg: &mut TGraph, t: &TensorType, v: f64) -> Option<Id> {
    if !t.is_static() {
        return None;
    }
    add_op(
        eg,
        Opcode::Full,
        Attrs::new()
            .with("value", Attr::Float(v))
            .with("shape", Attr::Ints(t.shape.clone()))
            .with("dtype", Attr::DType(t.dtype)),
        vec![],
    )
}

/// The (attributes, children) of every node of `op` in class `c`.
fn nodes_of(eg: &TGraph, c: Id, op: Opcode) -> Vec<(Attrs, Vec<Id>)> {
    eg[c]
        .nodes
        .iter()
        .filter_map(|n| match n {
            TNode::Op {
                op: o,
                attrs,
                children,
            } if *o == op && *attrs != super::ANY_ATTRS => Some((
                eg.analysis.attrs_of(*attrs),
                children.iter().map(|&x| eg.find(x)).collect(),
            )),
            _ => None,
        })
        .collect()
}

fn same(eg: &TGraph, a: Id, b: Id) -> bool {
    eg.find(a) == eg.find(b)
}

/// Ways class `c` is `broadcast(reduce(y, axes, keepdims))` back to `y`'s
/// shape (keepdims, or a reshape/expand_dims of a plain reduction):
/// returns `(y, axes)` for each.
fn row_stat(eg: &TGraph, c: Id, reduce: Opcode) -> Vec<(Id, Vec<i64>)> {
    let mut out = Vec::new();
    let Some(ct) = ty(eg, c) else { return out };
    let mut inners = Vec::new();
    for (a, ch) in nodes_of(eg, c, Opcode::Broadcast) {
        if a.ints("shape").ok() == Some(&ct.shape[..]) {
            inners.push(ch[0]);
        }
    }
    for inner in inners {
        let Some(it) = ty(eg, inner) else { continue };
        let mut cands: Vec<(Id, Vec<i64>, bool)> = nodes_of(eg, inner, reduce)
            .into_iter()
            .filter_map(|(a, ch)| {
                Some((
                    ch[0],
                    a.ints("axes").ok()?.to_vec(),
                    a.bool("keepdims").unwrap_or(false),
                ))
            })
            .filter(|(_, _, k)| *k)
            .collect();
        for op in [Opcode::Reshape, Opcode::ExpandDims] {
            for (_, ch) in nodes_of(eg, inner, op) {
                for (a, rch) in nodes_of(eg, ch[0], reduce) {
                    if !a.bool("keepdims").unwrap_or(false) {
                        if let Ok(ax) = a.ints("axes") {
                            cands.push((rch[0], ax.to_vec(), false));
                        }
                    }
                }
            }
        }
        for (y, axes, _) in cands {
            let Some(yt) = ty(eg, y) else { continue };
            let mut kept = yt.shape.clone();
            for &a in &axes {
                if let Some(d) = kept.get_mut(a as usize) {
                    *d = 1;
                }
            }
            if yt.shape == ct.shape && kept == it.shape {
                out.push((eg.find(y), axes));
            }
        }
    }
    out
}

fn is_real_float(d: Option<DType>) -> bool {
    d.is_some_and(|d| d.is_float())
}

/// Power of two whose reciprocal is a normal number of `d`.
fn exact_reciprocal(c: f64, d: DType) -> bool {
    if c == 0.0 || !c.is_finite() {
        return false;
    }
    let (m, _) = frexp(c.abs());
    let r = 1.0 / c;
    let back = psionic_ir::kernel::scalar::round_to(d, r);
    m == 0.5 && back == r && back.is_normal()
}

fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let e = x.abs().log2().floor() as i32 + 1;
    (x / 2f64.powi(e), e)
}

fn algebra() -> Vec<Rewrite<TNode, TAnalysis>> {
    let (x, y, z, a, b) = (var("?x"), var("?y"), var("?z"), var("?a"), var("?b"));
    let id_if = move |want: f64, keep: Var, other: Var| {
        move |eg: &mut TGraph, c: Id, s: &Subst| {
            (is_splat(eg, s[other], want) && ty(eg, s[keep]) == ty(eg, c)).then_some(s[keep])
        }
    };
    vec![
        rule("add-zero", "(tensor.add ?x ?z)", id_if(0.0, x, z)),
        rule("zero-add", "(tensor.add ?z ?x)", id_if(0.0, x, z)),
        rule("sub-zero", "(tensor.subtract ?x ?z)", id_if(0.0, x, z)),
        rule("mul-one", "(tensor.multiply ?x ?z)", id_if(1.0, x, z)),
        rule("one-mul", "(tensor.multiply ?z ?x)", id_if(1.0, x, z)),
        rule("div-one", "(tensor.divide ?x ?z)", id_if(1.0, x, z)),
        rule(
            "mul-zero-int",
            "(tensor.multiply ?x ?z)",
            move |eg, c, s| {
                (is_splat(eg, s[z], 0.0)
                    && dtype(eg, c).is_some_and(|d| d.is_integral())
                    && ty(eg, s[z]) == ty(eg, c))
                .then_some(s[z])
            },
        ),
        rule(
            "sub-self-int",
            "(tensor.subtract ?x ?x)",
            move |eg, c, _| {
                let t = ty(eg, c)?;
                if !t.dtype.is_integral() {
                    return None;
                }
                full(eg, &t, 0.0)
            },
        ),
        rule(
            "neg-neg",
            "(tensor.negative (tensor.negative ?x))",
            move |_, _, s| Some(s[x]),
        ),
        rule(
            "add-neg",
            "(tensor.add ?x (tensor.negative ?y))",
            move |eg, _, s| add_op(eg, Opcode::Subtract, Attrs::new(), vec![s[x], s[y]]),
        ),
        rule("mul-self", "(tensor.multiply ?x ?x)", move |eg, _, s| {
            add_op(eg, Opcode::Square, Attrs::new(), vec![s[x]])
        }),
        rule("pow-two", "(tensor.power ?x ?z)", move |eg, c, s| {
            (is_splat(eg, s[z], 2.0) && is_real_float(dtype(eg, c))).then_some(())?;
            add_op(eg, Opcode::Square, Attrs::new(), vec![s[x]])
        }),
        rule("div-const", "(tensor.divide ?x ?z)", move |eg, c, s| {
            let t = ty(eg, c)?;
            let v = splat(eg, s[z])?;
            if !t.dtype.is_float() {
                return None;
            }
            let ok = exact_reciprocal(v, t.dtype)
                || (eg.analysis.flags.approx_reciprocal && v != 0.0 && v.is_finite());
            if !ok {
                return None;
            }
            let r = full(eg, &t, 1.0 / v)?;
            add_op(eg, Opcode::Multiply, Attrs::new(), vec![s[x], r])
        }),
        rule(
            "exp-mul",
            "(tensor.multiply (tensor.exp ?a) (tensor.exp ?b))",
            move |eg, c, s| {
                if !matches!(dtype(eg, c), Some(DType::F32 | DType::F64)) {
                    return None;
                }
                let sum = add_op(eg, Opcode::Add, Attrs::new(), vec![s[a], s[b]])?;
                add_op(eg, Opcode::Exp, Attrs::new(), vec![sum])
            },
        ),
        rule(
            "log-exp",
            "(tensor.log (tensor.exp ?x))",
            move |eg, c, s| is_real_float(dtype(eg, c)).then_some(s[x]),
        ),
    ]
}

fn layout() -> Vec<Rewrite<TNode, TAnalysis>> {
    let x = var("?x");
    let same_type = move |eg: &mut TGraph, c: Id, s: &Subst| {
        (ty(eg, s[x]).is_some_and(|t| t.is_static()) && ty(eg, s[x]) == ty(eg, c)).then_some(s[x])
    };
    vec![
        rule(
            "transpose-transpose",
            "(tensor.transpose (tensor.transpose ?x))",
            move |eg, c, s| {
                let xc = eg.find(s[x]);
                for (outer, ch) in nodes_of(eg, c, Opcode::Transpose) {
                    for (inner, ich) in nodes_of(eg, ch[0], Opcode::Transpose) {
                        if !same(eg, ich[0], xc) {
                            continue;
                        }
                        let (q, p) = (
                            outer.ints("perm").ok()?.to_vec(),
                            inner.ints("perm").ok()?.to_vec(),
                        );
                        let r: Vec<i64> = q.iter().map(|&i| p[i as usize]).collect();
                        if r.iter().enumerate().all(|(i, &v)| v == i as i64) {
                            return Some(xc);
                        }
                        return add_op(
                            eg,
                            Opcode::Transpose,
                            Attrs::new().with("perm", Attr::Ints(r)),
                            vec![xc],
                        );
                    }
                }
                None
            },
        ),
        // Only a transpose that keeps every axis longer than 1 in order is the
        // identity: equal types alone are not enough (a square matrix).
        rule(
            "transpose-identity",
            "(tensor.transpose ?x)",
            move |eg, c, s| {
                same_type(eg, c, s)?;
                let xc = eg.find(s[x]);
                let shape = ty(eg, xc)?.shape.clone();
                for (attrs, ch) in nodes_of(eg, c, Opcode::Transpose) {
                    if !same(eg, ch[0], xc) {
                        continue;
                    }
                    let perm = attrs.ints("perm").ok()?.to_vec();
                    let moved: Vec<i64> = perm
                        .iter()
                        .copied()
                        .filter(|&a| shape.get(a as usize).is_some_and(|&d| d != 1))
                        .collect();
                    if moved.windows(2).all(|w| w[0] < w[1]) {
                        return Some(xc);
                    }
                }
                None
            },
        ),
        rule(
            "reshape-reshape",
            "(tensor.reshape (tensor.reshape ?x))",
            move |eg, c, s| {
                let t = ty(eg, c)?;
                if !t.is_static() {
                    return None;
                }
                add_op(
                    eg,
                    Opcode::Reshape,
                    Attrs::new().with("shape", Attr::Ints(t.shape.clone())),
                    vec![s[x]],
                )
            },
        ),
        rule("reshape-identity", "(tensor.reshape ?x)", same_type),
        rule(
            "broadcast-broadcast",
            "(tensor.broadcast (tensor.broadcast ?x))",
            move |eg, c, s| {
                let t = ty(eg, c)?;
                add_op(
                    eg,
                    Opcode::Broadcast,
                    Attrs::new().with("shape", Attr::Ints(t.shape.clone())),
                    vec![s[x]],
                )
            },
        ),
        rule("broadcast-identity", "(tensor.broadcast ?x)", same_type),
        rule("cast-identity", "(tensor.cast ?x)", same_type),
    ]
}

fn keep_attrs(axes: &[i64], keep: bool) -> Attrs {
    Attrs::new()
        .with("axes", Attr::Ints(axes.to_vec()))
        .with("keepdims", Attr::Bool(keep))
}

/// `x - broadcast(logsumexp(x, axes, keepdims))`: the stable log-softmax.
fn stable_log_softmax(eg: &mut TGraph, x: Id, axes: &[i64]) -> Option<Id> {
    let t = ty(eg, x)?;
    let lse = add_op(eg, Opcode::LogSumExp, keep_attrs(axes, true), vec![x])?;
    let b = add_op(
        eg,
        Opcode::Broadcast,
        Attrs::new().with("shape", Attr::Ints(t.shape.clone())),
        vec![lse],
    )?;
    add_op(eg, Opcode::Subtract, Attrs::new(), vec![x, b])
}

/// Classes `e` equal to `exp(x - row_max(x))` (or `exp(x)`): the `x`s and axes
/// (axes None for plain `exp(x)`).
fn shifted_exp(eg: &TGraph, e: Id) -> Vec<(Id, Option<Vec<i64>>)> {
    let mut out = Vec::new();
    let mut plain = Vec::new();
    for (_, ch) in nodes_of(eg, e, Opcode::Exp) {
        plain.push((ch[0], None));
        for (_, sub) in nodes_of(eg, ch[0], Opcode::Subtract) {
            for (y, axes) in row_stat(eg, sub[1], Opcode::ReduceMax) {
                if same(eg, y, sub[0]) {
                    out.push((sub[0], Some(axes)));
                }
            }
        }
    }
    // Prefer the unshifted operand: softmax(x - max(x)) = softmax(x).
    out.extend(plain);
    out
}

fn fusion() -> Vec<Rewrite<TNode, TAnalysis>> {
    let (e, s, d, l) = (var("?e"), var("?s"), var("?d"), var("?l"));
    vec![
        rule("softmax", "(tensor.divide ?e ?s)", move |eg, c, sb| {
            if !is_real_float(dtype(eg, c)) {
                return None;
            }
            for (y, axes) in row_stat(eg, sb[s], Opcode::ReduceSum) {
                if !same(eg, y, sb[e]) {
                    continue;
                }
                for (x, max_axes) in shifted_exp(eg, sb[e]) {
                    // exp(x - max(x)) / sum(...) or the unshifted exp(x) / sum(exp(x)).
                    if max_axes.is_some_and(|a| a != axes) {
                        continue;
                    }
                    return add_op(
                        eg,
                        Opcode::Softmax,
                        Attrs::new().with("axes", Attr::Ints(axes.clone())),
                        vec![x],
                    );
                }
            }
            None
        }),
        rule(
            "log-softmax",
            "(tensor.subtract ?d ?l)",
            move |eg, c, sb| {
                if !is_real_float(dtype(eg, c)) {
                    return None;
                }
                // d = x - broadcast(max(x)), l = broadcast(log(sum(exp(d), keepdims)))
                for (_, sub) in nodes_of(eg, sb[d], Opcode::Subtract) {
                    let x = sub[0];
                    let Some(max_axes) = row_stat(eg, sub[1], Opcode::ReduceMax)
                        .into_iter()
                        .find(|(y, _)| same(eg, *y, x))
                        .map(|(_, a)| a)
                    else {
                        continue;
                    };
                    for (ba, bch) in nodes_of(eg, sb[l], Opcode::Broadcast) {
                        let _ = ba;
                        for (_, lch) in nodes_of(eg, bch[0], Opcode::Log) {
                            for (ra, rch) in nodes_of(eg, lch[0], Opcode::ReduceSum) {
                                if ra.ints("axes").ok() != Some(&max_axes[..])
                                    || !ra.bool("keepdims").unwrap_or(false)
                                {
                                    continue;
                                }
                                let exp_of_d = nodes_of(eg, rch[0], Opcode::Exp)
                                    .iter()
                                    .any(|(_, ech)| same(eg, ech[0], sb[d]));
                                if exp_of_d {
                                    return stable_log_softmax(eg, x, &max_axes);
                                }
                            }
                        }
                    }
                }
                None
            },
        ),
        rule("log-of-softmax", "(tensor.log ?s)", move |eg, _, sb| {
            for (a, ch) in nodes_of(eg, sb[s], Opcode::Softmax) {
                let axes = a.ints("axes").ok()?.to_vec();
                if let Some(r) = stable_log_softmax(eg, ch[0], &axes) {
                    return Some(r);
                }
            }
            None
        }),
        rule("logsumexp", "(tensor.log ?s)", move |eg, c, sb| {
            if !is_real_float(dtype(eg, c)) {
                return None;
            }
            for (a, ch) in nodes_of(eg, sb[s], Opcode::ReduceSum) {
                if let Some((_, ech)) = nodes_of(eg, ch[0], Opcode::Exp).into_iter().next() {
                    return add_op(eg, Opcode::LogSumExp, a.clone(), vec![ech[0]]);
                }
            }
            None
        }),
    ]
}

fn ac() -> Vec<Rewrite<TNode, TAnalysis>> {
    let (a, b, c) = (var("?a"), var("?b"), var("?c"));
    let may_reassociate = |eg: &TGraph, id: Id| {
        dtype(eg, id).is_some_and(|d| {
            d.is_integral() || (eg.analysis.flags.reassociate_floats && d.is_float())
        })
    };
    let assoc = move |op: Opcode| {
        move |eg: &mut TGraph, id: Id, s: &Subst| {
            if !may_reassociate(eg, id) {
                return None;
            }
            let ab = add_op(eg, op, Attrs::new(), vec![s[a], s[b]])?;
            add_op(eg, op, Attrs::new(), vec![ab, s[c]])
        }
    };
    let comm = move |op: Opcode| {
        move |eg: &mut TGraph, _: Id, s: &Subst| add_op(eg, op, Attrs::new(), vec![s[b], s[a]])
    };
    vec![
        rule("add-comm", "(tensor.add ?a ?b)", comm(Opcode::Add)),
        rule(
            "mul-comm",
            "(tensor.multiply ?a ?b)",
            comm(Opcode::Multiply),
        ),
        rule(
            "add-assoc",
            "(tensor.add ?a (tensor.add ?b ?c))",
            assoc(Opcode::Add),
        ),
        rule(
            "mul-assoc",
            "(tensor.multiply ?a (tensor.multiply ?b ?c))",
            assoc(Opcode::Multiply),
        ),
    ]
}

/// The rules of a ruleset, by name.
pub fn ruleset(name: &str) -> Option<Vec<Rewrite<TNode, TAnalysis>>> {
    match name {
        ALGEBRA => Some(algebra()),
        LAYOUT => Some(layout()),
        FUSION => Some(fusion()),
        AC => Some(ac()),
        _ => None,
    }
}

/// Names of the rules of a ruleset.
pub fn rule_names(set: &str) -> Vec<String> {
    ruleset(set)
        .unwrap_or_default()
        .iter()
        .map(|r| r.name.to_string())
        .collect()
}
