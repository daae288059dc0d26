//! Algebraic simplification on an e-graph (`egg`).
//!
//! [`simplify`] puts a tensor-level [`Func`] into an e-graph whose analysis
//! carries every class's [`TensorType`] and, where known, its splat constant
//! value (constant folding happens in the analysis: a class whose value is
//! known gets a `tensor.full` node). Rules live in named rulesets
//! ([`rules::ALGEBRA`], [`rules::LAYOUT`], [`rules::FUSION`], and the capped
//! [`rules::AC`]); their contract is in `docs/RULES.md`. Every run is bounded
//! by iterations, nodes and time and reports why it stopped
//! ([`PhaseReport::stop_reason`]). Extraction ([`Extraction`]) picks, per
//! class, the node of least [`op_cost`]: bytes moved plus weighted flops,
//! not node counts. The
//! result is rebuilt as a new `Func` (common subexpressions shared, dead ops
//! gone).
//!
//! ```
//! use psionic_ir::{Attr, Attrs, DType, Func, Opcode, TensorType};
//! use psionic_passes::egraph::{simplify, EgraphOptions};
//!
//! // log(exp(x)) * 1.0
//! let mut f = Func::new("main", vec![TensorType::new(DType::F32, vec![4])]);
//! let x = f.params[0];
//! let e = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
//! let l = f.push1(Opcode::Log, &[e], Attrs::new()).unwrap();
//! let one = f
//!     .push1(
//!         Opcode::Full,
//!         &[],
//!         Attrs::new()
//!             .with("value", Attr::Float(1.0))
//!             .with("shape", Attr::Ints(vec![4]))
//!             .with("dtype", Attr::DType(DType::F32)),
//!     )
//!     .unwrap();
//! let r = f.push1(Opcode::Multiply, &[l, one], Attrs::new()).unwrap();
//! f.results = vec![r];
//!
//! let (g, stats) = simplify(&f, &EgraphOptions::default()).unwrap();
//! assert!(g.ops.is_empty()); // the function returns its parameter
//! assert_eq!(stats.fired("log-exp"), 1);
//! assert_eq!(stats.phases[0].stop_reason, "saturated");
//! ```

pub mod rules;

use egg::{Analysis, DidMerge, EGraph, Id, Language, Runner, StopReason};
use psionic_ir::kernel::scalar;
use psionic_ir::{Attr, Attrs, DType, Func, IrError, Opcode, TensorType, Value};
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// Attribute-table index meaning "any attributes" (patterns only).
pub const ANY_ATTRS: u32 = u32::MAX;
/// Attribute-table index of the empty attribute set.
pub const NO_ATTRS: u32 = 0;

/// An e-node: a parameter, an op (attributes interned in the analysis), or
/// result `index` of a multi-result op.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TNode {
    Param(u32),
    Op {
        op: Opcode,
        attrs: u32,
        children: Vec<Id>,
    },
    Get(u32, [Id; 1]),
}

impl Language for TNode {
    type Discriminant = (u8, Option<Opcode>, u32);
    fn discriminant(&self) -> Self::Discriminant {
        match self {
            TNode::Param(i) => (0, None, *i),
            TNode::Op { op, .. } => (1, Some(*op), 0),
            TNode::Get(i, _) => (2, None, *i),
        }
    }
    fn matches(&self, other: &Self) -> bool {
        match (self, other) {
            (TNode::Param(a), TNode::Param(b)) => a == b,
            (TNode::Get(a, _), TNode::Get(b, _)) => a == b,
            (
                TNode::Op {
                    op: a,
                    attrs: x,
                    children: c,
                },
                TNode::Op {
                    op: b,
                    attrs: y,
                    children: d,
                },
            ) => a == b && c.len() == d.len() && (x == y || *x == ANY_ATTRS || *y == ANY_ATTRS),
            _ => false,
        }
    }
    fn children(&self) -> &[Id] {
        match self {
            TNode::Param(_) => &[],
            TNode::Op { children, .. } => children,
            TNode::Get(_, c) => c,
        }
    }
    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            TNode::Param(_) => &mut [],
            TNode::Op { children, .. } => children,
            TNode::Get(_, c) => c,
        }
    }
}

impl fmt::Display for TNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TNode::Param(i) => write!(f, "param{i}"),
            TNode::Op { op, .. } => f.write_str(op.name()),
            TNode::Get(i, _) => write!(f, "get{i}"),
        }
    }
}

impl egg::FromOp for TNode {
    type Error = String;
    /// Pattern nodes: an op name gives a node matching any attributes if
    /// the op has attributes, none otherwise.
    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, String> {
        let opcode =
            Opcode::from_name(op).ok_or_else(|| format!("unknown op `{op}` in a pattern"))?;
        let attrs = if opcode.def().attrs.is_empty() {
            NO_ATTRS
        } else {
            ANY_ATTRS
        };
        Ok(TNode::Op {
            op: opcode,
            attrs,
            children,
        })
    }
}

/// What the analysis knows about a class.
#[derive(Debug, Clone, PartialEq)]
pub struct TData {
    /// The class's type (None for the tuple of a multi-result op).
    pub ty: Option<TensorType>,
    /// Result types of a multi-result op.
    pub tuple: Vec<TensorType>,
    /// Every element equals this value (constant folding).
    pub splat: Option<f64>,
}

/// Flags that widen what rules may do (off by default: see docs/RULES.md).
#[derive(Clone, Debug, Default)]
pub struct RuleFlags {
    /// `x / c -> x * (1/c)` for every finite non-zero `c`, not only powers of two.
    pub approx_reciprocal: bool,
    /// Reassociate float `add`/`multiply` in the AC ruleset (integers always may).
    pub reassociate_floats: bool,
}

/// The analysis: interned attributes, parameter types and rule flags.
#[derive(Debug, Default)]
pub struct TAnalysis {
    pub attrs: Vec<Attrs>,
    attr_ids: HashMap<Attrs, u32>,
    pub params: Vec<TensorType>,
    pub flags: RuleFlags,
}

impl TAnalysis {
    pub fn new(params: Vec<TensorType>, flags: RuleFlags) -> Self {
        let mut a = TAnalysis {
            params,
            flags,
            ..Default::default()
        };
        a.intern(Attrs::new());
        a
    }
    pub fn intern(&mut self, attrs: Attrs) -> u32 {
        if let Some(&i) = self.attr_ids.get(&attrs) {
            return i;
        }
        self.attrs.push(attrs.clone());
        let i = self.attrs.len() as u32 - 1;
        self.attr_ids.insert(attrs, i);
        i
    }
    pub fn attrs_of(&self, i: u32) -> Attrs {
        self.attrs.get(i as usize).cloned().unwrap_or_default()
    }
}

pub type TGraph = EGraph<TNode, TAnalysis>;

fn splat_of_literal(attrs: &Attrs) -> Option<f64> {
    let l = attrs.dense("value").ok()?;
    if l.dtype().is_complex() {
        return None;
    }
    l.splat_value().map(|s| s.get_f64(0))
}

impl Analysis<TNode> for TAnalysis {
    type Data = TData;
    fn make(eg: &mut TGraph, n: &TNode, _id: Id) -> TData {
        let none = TData {
            ty: None,
            tuple: vec![],
            splat: None,
        };
        match n {
            TNode::Param(i) => TData {
                ty: eg.analysis.params.get(*i as usize).cloned(),
                tuple: vec![],
                splat: None,
            },
            TNode::Get(i, [t]) => TData {
                ty: eg[*t].data.tuple.get(*i as usize).cloned(),
                tuple: vec![],
                splat: None,
            },
            TNode::Op {
                op,
                attrs,
                children,
            } => {
                if *attrs == ANY_ATTRS {
                    return none;
                }
                let at = eg.analysis.attrs_of(*attrs);
                let tys: Option<Vec<TensorType>> =
                    children.iter().map(|c| eg[*c].data.ty.clone()).collect();
                let Some(tys) = tys else { return none };
                let refs: Vec<&TensorType> = tys.iter().collect();
                let Ok(mut out) = psionic_ir::ops::infer_types(*op, &refs, &at) else {
                    return none;
                };
                if out.len() != 1 {
                    return TData {
                        ty: None,
                        tuple: out,
                        splat: None,
                    };
                }
                let ty = out.pop();
                let splat = match op {
                    Opcode::Full => at.float("value").ok().map(|v| {
                        scalar::round_to(ty.as_ref().map(|t| t.dtype).unwrap_or(DType::F64), v)
                    }),
                    Opcode::Constant => splat_of_literal(&at),
                    _ if scalar::is_scalar_op(*op) => {
                        let vals: Option<Vec<f64>> =
                            children.iter().map(|c| eg[*c].data.splat).collect();
                        match (vals, &ty) {
                            (Some(v), Some(t)) if !children.is_empty() && !t.dtype.is_complex() => {
                                let argd = if *op == Opcode::Select {
                                    tys[1].dtype
                                } else {
                                    tys[0].dtype
                                };
                                scalar::eval(*op, &at, &v, argd, t.dtype).ok()
                            }
                            _ => None,
                        }
                    }
                    Opcode::Broadcast
                    | Opcode::Reshape
                    | Opcode::Transpose
                    | Opcode::ExpandDims
                    | Opcode::Squeeze => eg[children[0]].data.splat,
                    _ => None,
                };
                TData {
                    ty,
                    tuple: vec![],
                    splat,
                }
            }
        }
    }
    fn merge(&mut self, a: &mut TData, b: TData) -> DidMerge {
        let mut changed_a = false;
        if a.ty.is_none() && b.ty.is_some() {
            a.ty = b.ty.clone();
            changed_a = true;
        }
        if a.tuple.is_empty() && !b.tuple.is_empty() {
            a.tuple = b.tuple.clone();
            changed_a = true;
        }
        let changed_b =
            (b.splat.is_some() && a.splat.is_none()) || (b.ty.is_none() && a.ty.is_some());
        if a.splat.is_none() && b.splat.is_some() {
            a.splat = b.splat;
            changed_a = true;
        }
        DidMerge(
            changed_a,
            changed_b || a.splat.is_some() && b.splat.is_none(),
        )
    }
    fn modify(eg: &mut TGraph, id: Id) {
        // Constant folding: a class with a known value gets a `full` node.
        let d = eg[id].data.clone();
        let (Some(v), Some(ty)) = (d.splat, d.ty) else {
            return;
        };
        if !ty.is_static() || ty.dtype.is_complex() {
            return;
        }
        if eg[id].nodes.iter().any(|n| {
            matches!(
                n,
                TNode::Op {
                    op: Opcode::Full,
                    ..
                }
            )
        }) {
            return;
        }
        let attrs = Attrs::new()
            .with("value", Attr::Float(v))
            .with("shape", Attr::Ints(ty.shape.clone()))
            .with("dtype", Attr::DType(ty.dtype));
        let a = eg.analysis.intern(attrs);
        let full = eg.add(TNode::Op {
            op: Opcode::Full,
            attrs: a,
            children: vec![],
        });
        eg.union(id, full);
    }
}

fn numel(t: &TensorType) -> f64 {
    t.shape
        .iter()
        .map(|&d| if d < 0 { 1024.0 } else { d as f64 })
        .product()
}
fn nbytes(t: &TensorType) -> f64 {
    numel(t) * t.dtype.size() as f64
}

/// Weighted flops of one element of an elementwise op.
pub fn flop_weight(op: Opcode) -> f64 {
    use Opcode as O;
    match op {
        O::Divide | O::Sqrt | O::Rsqrt | O::Reciprocal | O::FloorDivide | O::Remainder => 4.0,
        O::Exp
        | O::Expm1
        | O::Log
        | O::Log1p
        | O::Log2
        | O::Log10
        | O::Sin
        | O::Cos
        | O::Tan
        | O::Arcsin
        | O::Arccos
        | O::Arctan
        | O::Sinh
        | O::Cosh
        | O::Tanh
        | O::Arcsinh
        | O::Arccosh
        | O::Arctanh
        | O::Sigmoid
        | O::Erf
        | O::Erfinv
        | O::LogAddExp
        | O::Arctan2 => 8.0,
        O::Power => 16.0,
        _ => 1.0,
    }
}

/// Cost of one op run alone: bytes read and written plus weighted flops.
/// Layout ops cost 1 (fusion turns them into index maps), as do fills.
pub fn op_cost(op: Opcode, ins: &[&TensorType], out: Option<&TensorType>) -> f64 {
    let out_b = out.map(nbytes).unwrap_or(0.0);
    let in_b: f64 = ins.iter().map(|t| nbytes(t)).sum();
    let elems = ins
        .iter()
        .map(|t| numel(t))
        .fold(out.map(numel).unwrap_or(0.0), f64::max);
    use psionic_ir::OpClass as C;
    match op.class() {
        C::Layout
            if !matches!(
                op,
                Opcode::Concatenate | Opcode::Pad | Opcode::SliceUpdate | Opcode::Split
            ) =>
        {
            1.0
        }
        C::Creation if op == Opcode::Full => 1.0,
        C::Creation => out_b,
        C::Contraction => {
            let k = ins
                .first()
                .and_then(|t| t.shape.last().copied())
                .unwrap_or(1)
                .max(1) as f64;
            out_b + in_b + 2.0 * out.map(numel).unwrap_or(0.0) * k
        }
        _ if op == Opcode::Softmax || op == Opcode::LogSumExp => {
            out_b + in_b + elems * (flop_weight(Opcode::Exp) + 2.0)
        }
        _ => out_b + in_b + elems * flop_weight(op),
    }
}

/// [`op_cost`] of an e-node.
pub fn node_cost(eg: &TGraph, n: &TNode) -> f64 {
    let TNode::Op { op, children, .. } = n else {
        return 0.0;
    };
    let ins: Vec<&TensorType> = children
        .iter()
        .filter_map(|c| eg[*c].data.ty.as_ref())
        .collect();
    let out = eg.lookup(n.clone()).and_then(|id| eg[id].data.ty.as_ref());
    op_cost(*op, &ins, out)
}

/// Picks the node of least tree cost ([`node_cost`] plus the children's
/// costs) in every class. Classes are swept in id order (children mostly
/// come first), repeated until nothing improves, so deep traces settle in a
/// few sweeps. Shared subterms count once per use; costs beyond f64 range
/// saturate to infinity and keep the earlier choice.
pub struct Extraction {
    best: HashMap<Id, (f64, TNode)>,
}

impl Extraction {
    pub fn new(eg: &TGraph) -> Self {
        let mut ids: Vec<Id> = eg.classes().map(|c| c.id).collect();
        ids.sort();
        let mut own: HashMap<Id, Vec<(f64, TNode)>> = HashMap::new();
        for &id in &ids {
            own.insert(
                id,
                eg[id]
                    .nodes
                    .iter()
                    .map(|n| (node_cost(eg, n), n.clone()))
                    .collect(),
            );
        }
        let mut best: HashMap<Id, (f64, TNode)> = HashMap::new();
        for _ in 0..1000 {
            let mut changed = false;
            for &id in &ids {
                for (c, n) in &own[&id] {
                    let mut total = *c;
                    let mut ok = true;
                    for ch in n.children() {
                        match best.get(&eg.find(*ch)) {
                            Some((cc, _)) => total += cc,
                            None => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok && best.get(&id).is_none_or(|(b, _)| total < *b) {
                        best.insert(id, (total, n.clone()));
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        Extraction { best }
    }
    pub fn node(&self, eg: &TGraph, id: Id) -> Option<&TNode> {
        self.best.get(&eg.find(id)).map(|(_, n)| n)
    }
}

/// Bounds and rulesets of one [`simplify`] run.
#[derive(Clone, Debug)]
pub struct EgraphOptions {
    /// Rulesets of the main phase, by name (see [`rules::ruleset`]).
    pub rulesets: Vec<String>,
    pub iter_limit: usize,
    pub node_limit: usize,
    pub time_limit: Duration,
    /// Run the commutativity/associativity ruleset (a separate phase with
    /// its own, smaller bounds), then the main rulesets again.
    pub ac: bool,
    pub ac_iter_limit: usize,
    /// The AC phase may grow the e-graph by at most this factor.
    pub ac_growth: f64,
    pub flags: RuleFlags,
}

impl Default for EgraphOptions {
    fn default() -> Self {
        EgraphOptions {
            rulesets: vec![
                rules::ALGEBRA.into(),
                rules::LAYOUT.into(),
                rules::FUSION.into(),
            ],
            iter_limit: 30,
            node_limit: 100_000,
            time_limit: Duration::from_secs(5),
            ac: true,
            ac_iter_limit: 3,
            ac_growth: 2.0,
            flags: RuleFlags::default(),
        }
    }
}

/// One bounded run of the runner.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseReport {
    pub rulesets: Vec<String>,
    pub iterations: usize,
    pub nodes: usize,
    pub classes: usize,
    /// `saturated`, `iteration limit N`, `node limit N`, `time limit Ns` or other.
    pub stop_reason: String,
    pub seconds: f64,
    /// How many times each rule changed the e-graph, by rule name.
    pub applied: Vec<(String, usize)>,
}

/// What [`simplify`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct EgraphStats {
    pub ops_before: usize,
    pub ops_after: usize,
    pub cost_before: f64,
    pub cost_after: f64,
    pub phases: Vec<PhaseReport>,
}

impl EgraphStats {
    /// Total applications of a rule over all phases.
    pub fn fired(&self, rule: &str) -> usize {
        self.phases
            .iter()
            .flat_map(|p| &p.applied)
            .filter(|(n, _)| n == rule)
            .map(|(_, c)| c)
            .sum()
    }
}

/// Why the e-graph pass failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgraphError(pub String);

impl fmt::Display for EgraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "egraph: {}", self.0)
    }
}
impl std::error::Error for EgraphError {}

impl From<IrError> for EgraphError {
    fn from(e: IrError) -> Self {
        EgraphError(format!("extracted an invalid op: {e}"))
    }
}

fn stop_reason(r: &Option<StopReason>) -> String {
    match r {
        Some(StopReason::Saturated) => "saturated".into(),
        Some(StopReason::IterationLimit(n)) => format!("iteration limit {n}"),
        Some(StopReason::NodeLimit(n)) => format!("node limit {n}"),
        Some(StopReason::TimeLimit(s)) => format!("time limit {s}s"),
        Some(StopReason::Other(s)) => s.clone(),
        None => "not run".into(),
    }
}

/// The e-graph of a function and the class of each of its values.
pub fn to_egraph(f: &Func, flags: RuleFlags) -> (TGraph, Vec<Option<Id>>) {
    let mut eg = TGraph::new(TAnalysis::new(f.param_types(), flags));
    let mut class: Vec<Option<Id>> = vec![None; f.value_types.len()];
    for (i, &p) in f.params.iter().enumerate() {
        class[p.index()] = Some(eg.add(TNode::Param(i as u32)));
    }
    for op in &f.ops {
        let children: Vec<Id> = op
            .operands
            .iter()
            .map(|v| class[v.index()].expect("operands defined before use"))
            .collect();
        let attrs = eg.analysis.intern(op.attrs.clone());
        let id = eg.add(TNode::Op {
            op: op.opcode,
            attrs,
            children,
        });
        if op.results.len() == 1 {
            class[op.results[0].index()] = Some(id);
        } else {
            for (k, r) in op.results.iter().enumerate() {
                class[r.index()] = Some(eg.add(TNode::Get(k as u32, [id])));
            }
        }
    }
    eg.rebuild();
    (eg, class)
}

/// Rebuilds a function from the chosen node of each needed class.
fn extract(f: &Func, eg: &TGraph, roots: &[Id]) -> Result<Func, EgraphError> {
    let ex = Extraction::new(eg);
    let mut out = Func::new(f.name.clone(), f.param_types());
    out.attrs = f.attrs.clone();
    let mut done: HashMap<Id, Value> = HashMap::new();
    let mut tuples: HashMap<Id, Vec<Value>> = HashMap::new();
    // Iterative post-order: traces may be deep chains.
    for &root in roots {
        let mut stack = vec![(eg.find(root), false)];
        while let Some((c, expanded)) = stack.pop() {
            if done.contains_key(&c) || tuples.contains_key(&c) {
                continue;
            }
            let node = ex
                .node(eg, c)
                .ok_or_else(|| EgraphError("a class has no finite-cost node".into()))?;
            if !expanded {
                stack.push((c, true));
                for &ch in node.children() {
                    let ch = eg.find(ch);
                    if !done.contains_key(&ch) && !tuples.contains_key(&ch) {
                        stack.push((ch, false));
                    }
                }
                continue;
            }
            match node {
                TNode::Param(i) => {
                    done.insert(c, out.params[*i as usize]);
                }
                TNode::Get(i, [t]) => {
                    let t = eg.find(*t);
                    let v = tuples
                        .get(&t)
                        .and_then(|vs| vs.get(*i as usize))
                        .copied()
                        .ok_or_else(|| EgraphError("result of a missing tuple".into()))?;
                    done.insert(c, v);
                }
                TNode::Op {
                    op,
                    attrs,
                    children,
                } => {
                    let args: Vec<Value> = children
                        .iter()
                        .map(|ch| {
                            done.get(&eg.find(*ch)).copied().ok_or_else(|| {
                                EgraphError(format!("cycle through `{op}` in extraction"))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    let vs = out.push(*op, &args, eg.analysis.attrs_of(*attrs))?;
                    if vs.len() == 1 {
                        done.insert(c, vs[0]);
                    } else {
                        tuples.insert(c, vs);
                    }
                }
            }
        }
    }
    out.results = roots
        .iter()
        .map(|r| {
            done.get(&eg.find(*r))
                .copied()
                .ok_or_else(|| EgraphError("a result was not extracted".into()))
        })
        .collect::<Result<_, _>>()?;
    Ok(out.compact())
}

fn run_phase(
    eg: TGraph,
    names: &[String],
    rules: &[egg::Rewrite<TNode, TAnalysis>],
    iters: usize,
    nodes: usize,
    time: Duration,
) -> (TGraph, PhaseReport) {
    let start = Instant::now();
    let runner = Runner::default()
        .with_egraph(eg)
        .with_iter_limit(iters)
        .with_node_limit(nodes)
        .with_time_limit(time)
        .run(rules);
    let mut applied: std::collections::BTreeMap<String, usize> = Default::default();
    for it in &runner.iterations {
        for (k, v) in &it.applied {
            *applied.entry(k.to_string()).or_default() += v;
        }
    }
    let report = PhaseReport {
        rulesets: names.to_vec(),
        iterations: runner.iterations.len(),
        nodes: runner.egraph.total_number_of_nodes(),
        classes: runner.egraph.number_of_classes(),
        stop_reason: stop_reason(&runner.stop_reason),
        seconds: start.elapsed().as_secs_f64(),
        applied: applied.into_iter().filter(|(_, c)| *c > 0).collect(),
    };
    (runner.egraph, report)
}

/// Total cost of a function: [`op_cost`] of every op (each value once).
pub fn func_cost(f: &Func) -> f64 {
    f.ops
        .iter()
        .map(|op| {
            let ins: Vec<&TensorType> = op.operands.iter().map(|&v| f.ty(v)).collect();
            op_cost(op.opcode, &ins, op.results.first().map(|&r| f.ty(r)))
        })
        .sum()
}

/// Runs the rulesets of `opts` on `f` and extracts the cheapest equivalent.
pub fn simplify(f: &Func, opts: &EgraphOptions) -> Result<(Func, EgraphStats), EgraphError> {
    let mut main_rules = Vec::new();
    for name in &opts.rulesets {
        main_rules.extend(rules::ruleset(name).ok_or_else(|| {
            EgraphError(format!(
                "unknown ruleset `{name}` (known: {})",
                rules::RULESETS.join(", ")
            ))
        })?);
    }
    let (eg, class) = to_egraph(f, opts.flags.clone());
    let roots: Vec<Id> = f
        .results
        .iter()
        .map(|r| class[r.index()].expect("results are defined"))
        .collect();
    let mut phases = Vec::new();
    let (mut eg, rep) = run_phase(
        eg,
        &opts.rulesets,
        &main_rules,
        opts.iter_limit,
        opts.node_limit,
        opts.time_limit,
    );
    phases.push(rep);
    if opts.ac {
        let cap =
            ((eg.total_number_of_nodes() as f64 * opts.ac_growth) as usize).min(opts.node_limit);
        let ac = rules::ruleset(rules::AC).unwrap_or_default();
        let (g, rep) = run_phase(
            eg,
            &[rules::AC.to_string()],
            &ac,
            opts.ac_iter_limit,
            cap,
            opts.time_limit,
        );
        phases.push(rep);
        let (g, rep) = run_phase(
            g,
            &opts.rulesets,
            &main_rules,
            opts.iter_limit,
            opts.node_limit,
            opts.time_limit,
        );
        phases.push(rep);
        eg = g;
    }
    let out = extract(f, &eg, &roots)?;
    let stats = EgraphStats {
        ops_before: f.ops.len(),
        ops_after: out.ops.len(),
        cost_before: func_cost(f),
        cost_after: func_cost(&out),
        phases,
    };
    Ok((out, stats))
}

/// [`simplify`] with the default options.
pub fn run(f: &Func) -> Result<(Func, EgraphStats), EgraphError> {
    simplify(f, &EgraphOptions::default())
}
