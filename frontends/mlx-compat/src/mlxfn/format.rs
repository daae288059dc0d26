//! The file layout of `.mlxfn` (spec §3-§5) as plain data: header, function
//! records, tapes, and the file-global constant table. Parsing walks every
//! byte (each primitive's state through [`super::prims::schema`]); printing
//! writes the 0.32.4 layout. Mapping to and from IR lives elsewhere.

use super::prims::{self, Field, FieldSpec, Version};
use super::wire::{Reader, Writer};
use super::MlxfnError;
use psionic_ir::{DType, Literal};
use std::collections::{HashMap, HashSet};

/// An array descriptor: shape and dtype, no data.
#[derive(Clone, Debug, PartialEq)]
pub struct Desc {
    pub shape: Vec<i64>,
    pub dtype: DType,
}

/// One primitive application on a tape.
#[derive(Clone, Debug, PartialEq)]
pub struct RawOp {
    pub inputs: Vec<u64>,
    /// (stream index, device type, device index); ignored on import.
    pub stream: (i32, i32, i32),
    pub name: String,
    /// The state in 0.32.4 layout, field names as in the spec.
    pub state: Vec<(&'static str, Field)>,
    /// Every output: the entry's own id is one of them.
    pub outputs: Vec<(u64, Desc)>,
}

impl RawOp {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.state.iter().find(|(n, _)| *n == name).map(|(_, f)| f)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum EntryKind {
    Input,
    /// A constant; its data is in [`RawFile::constants`].
    Constant,
    Op(RawOp),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: u64,
    /// Byte offset of the entry (0 for entries built in memory).
    pub at: usize,
    pub kind: EntryKind,
}

/// One function record (a trace).
#[derive(Clone, Debug, PartialEq)]
pub struct RawFunc {
    pub kwargs: Vec<String>,
    pub inputs: Vec<(u64, Desc)>,
    pub outputs: Vec<u64>,
    pub tape: Vec<Entry>,
    /// Byte offset of the record.
    pub at: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawFile {
    pub version: String,
    pub shapeless: bool,
    pub metadata: String,
    pub funcs: Vec<RawFunc>,
    /// The file-global constant table, keyed by id.
    pub constants: HashMap<u64, Literal>,
}

const MAX_RANK: usize = 64;

fn read_shape(r: &mut Reader, what: &str, allow_neg: bool) -> Result<Vec<i64>, MlxfnError> {
    let at = r.pos();
    let s = r.vec_i32(what)?;
    if s.len() > MAX_RANK {
        return Err(r.err(at, format!("{what}: rank {} is absurd", s.len())));
    }
    if !allow_neg {
        if let Some(d) = s.iter().find(|&&d| d < 0) {
            return Err(r.err(at, format!("{what}: negative dimension {d}")));
        }
    }
    Ok(s)
}

fn read_desc(r: &mut Reader, what: &str) -> Result<Desc, MlxfnError> {
    let shape = read_shape(r, what, false)?;
    let dtype = r.dtype(what)?;
    Ok(Desc { shape, dtype })
}

fn read_ids(r: &mut Reader, what: &str) -> Result<Vec<u64>, MlxfnError> {
    r.vec_u64(what)
}

/// Parses a whole file, checking structure (ids defined before use, known
/// names, sizes in bounds) but not op semantics.
pub fn parse(bytes: &[u8]) -> Result<RawFile, MlxfnError> {
    let mut r = Reader::new(bytes);
    let version = r.string("version string")?;
    let v = Version::parse(&version).unwrap_or(Version::LATEST);
    let at = r.pos();
    let count = r.i32("function count")?;
    if count < 0 {
        return Err(r.err(at, format!("negative function count {count}")));
    }
    // A function record is at least 40 bytes (five empty vectors).
    if (count as usize).saturating_mul(40) > r.remaining() {
        return Err(r.err(
            at,
            format!(
                "truncated file or absurd function count {count}: only {} bytes remain",
                r.remaining()
            ),
        ));
    }
    let shapeless = r.bool("shapeless flag")?;
    let metadata = if v >= Version(0, 32, 1) {
        r.string("metadata")?
    } else {
        String::new()
    };
    let mut constants: HashMap<u64, Literal> = HashMap::new();
    let mut funcs = Vec::with_capacity(count as usize);
    for _ in 0..count {
        funcs.push(parse_func(&mut r, v, &mut constants)?);
    }
    if r.remaining() != 0 {
        return Err(r.err(
            r.pos(),
            format!("{} unexpected bytes after the last function", r.remaining()),
        ));
    }
    Ok(RawFile {
        version,
        shapeless,
        metadata,
        funcs,
        constants,
    })
}

fn parse_func(
    r: &mut Reader,
    v: Version,
    constants: &mut HashMap<u64, Literal>,
) -> Result<RawFunc, MlxfnError> {
    let at = r.pos();
    let nk = r.count(8, "kwarg keys")?;
    let mut kwargs = Vec::with_capacity(nk);
    for _ in 0..nk {
        kwargs.push(r.string("kwarg key")?);
    }
    let ids_at = r.pos();
    let input_ids = read_ids(r, "input ids")?;
    let nd_at = r.pos();
    let nd = r.count(13, "input descriptors")?;
    if nd != input_ids.len() {
        return Err(r.err(
            nd_at,
            format!("{} input descriptors for {} input ids", nd, input_ids.len()),
        ));
    }
    if nk > nd {
        return Err(r.err(at, format!("{nk} kwarg keys but only {nd} inputs")));
    }
    let mut defined: HashSet<u64> = HashSet::new();
    let mut inputs = Vec::with_capacity(nd);
    for &id in &input_ids {
        let d = read_desc(r, "input descriptor")?;
        if !defined.insert(id) {
            return Err(r.err(ids_at, format!("input id {id:#x} appears twice")));
        }
        inputs.push((id, d));
    }
    let input_set = defined.clone();
    let out_at = r.pos();
    let outputs = read_ids(r, "output ids")?;
    let tape_len = r.count(10, "tape")?;
    let mut tape = Vec::with_capacity(tape_len);
    let mut tape_defined: HashSet<u64> = HashSet::new();
    for _ in 0..tape_len {
        let e_at = r.pos();
        let id = r.u64("entry id")?;
        let has_prim = r.bool("has_primitive flag")?;
        let kind = if has_prim {
            let op = parse_op(r, v, &tape_defined, id)?;
            for (oid, _) in &op.outputs {
                if input_set.contains(oid) || !tape_defined.insert(*oid) {
                    return Err(r.err(e_at, format!("id {oid:#x} is defined twice")));
                }
            }
            EntryKind::Op(op)
        } else {
            let is_const = r.bool("is_constant flag")?;
            if is_const {
                if let std::collections::hash_map::Entry::Vacant(slot) = constants.entry(id) {
                    slot.insert(parse_constant(r)?);
                }
                if input_set.contains(&id) {
                    return Err(r.err(e_at, format!("constant id {id:#x} is also an input")));
                }
                tape_defined.insert(id);
                EntryKind::Constant
            } else {
                if !input_set.contains(&id) {
                    return Err(r.err(
                        e_at,
                        format!("tape entry {id:#x} is neither an input, a constant nor an op"),
                    ));
                }
                tape_defined.insert(id);
                EntryKind::Input
            }
        };
        tape.push(Entry { id, at: e_at, kind });
    }
    for &o in &outputs {
        if !tape_defined.contains(&o) && !input_set.contains(&o) {
            return Err(r.err(out_at, format!("output id {o:#x} is not defined")));
        }
    }
    Ok(RawFunc {
        kwargs,
        inputs,
        outputs,
        tape,
        at,
    })
}

fn parse_constant(r: &mut Reader) -> Result<Literal, MlxfnError> {
    let at = r.pos();
    let d = read_desc(r, "constant descriptor")?;
    let n = d
        .shape
        .iter()
        .try_fold(1u64, |a, &x| a.checked_mul(x as u64))
        .and_then(|n| n.checked_mul(d.dtype.size() as u64));
    let n = match n {
        Some(n) if n <= r.remaining() as u64 => n as usize,
        _ => {
            return Err(r.err(
                at,
                format!(
                    "truncated file or absurd constant: shape {:?} of {} needs more bytes than the {} that remain",
                    d.shape,
                    d.dtype,
                    r.remaining()
                ),
            ))
        }
    };
    let data_at = r.pos();
    let bytes = r.take(n, "constant data")?;
    let shape = d.shape.iter().map(|&x| x as usize).collect();
    Literal::from_bytes(d.dtype, shape, bytes.to_vec())
        .map_err(|e| r.err(data_at, format!("constant data: {e}")))
}

fn parse_op(
    r: &mut Reader,
    v: Version,
    defined: &HashSet<u64>,
    id: u64,
) -> Result<RawOp, MlxfnError> {
    let in_at = r.pos();
    let inputs = read_ids(r, "op input ids")?;
    for i in &inputs {
        if !defined.contains(i) {
            return Err(r.err(
                in_at,
                format!("op input id {i:#x} is used before it is defined"),
            ));
        }
    }
    let stream = (
        r.i32("stream index")?,
        r.i32("device type")?,
        r.i32("device index")?,
    );
    let name_at = r.pos();
    let name = r.string("primitive name")?;
    let spec = prims::schema(&name, v)
        .ok_or_else(|| r.err(name_at, format!("unknown primitive {name:?}")))?;
    let state = read_state(r, &name, &spec, v)?;
    let sib_at = r.pos();
    let n_sib = r.count(8, "sibling count")?;
    let outputs = if n_sib == 0 {
        let d = read_desc(r, "output descriptor")?;
        vec![(id, d)]
    } else {
        let ids = read_ids(r, "sibling ids")?;
        let ns = r.count(8, "sibling shapes")?;
        let mut shapes = Vec::with_capacity(ns);
        for _ in 0..ns {
            shapes.push(read_shape(r, "sibling shape", false)?);
        }
        let nd = r.count(5, "sibling dtypes")?;
        let mut dtypes = Vec::with_capacity(nd);
        for _ in 0..nd {
            dtypes.push(r.dtype("sibling dtype")?);
        }
        if ids.len() != shapes.len() || ids.len() != dtypes.len() || ids.len() != n_sib + 1 {
            return Err(r.err(
                sib_at,
                format!(
                    "{name}: {n_sib} siblings but {} ids, {} shapes, {} dtypes",
                    ids.len(),
                    shapes.len(),
                    dtypes.len()
                ),
            ));
        }
        if !ids.contains(&id) {
            return Err(r.err(
                sib_at,
                format!("{name}: entry id {id:#x} is not among its outputs"),
            ));
        }
        ids.into_iter()
            .zip(shapes.into_iter().zip(dtypes))
            .map(|(i, (shape, dtype))| (i, Desc { shape, dtype }))
            .collect()
    };
    Ok(RawOp {
        inputs,
        stream,
        name,
        state,
        outputs,
    })
}

fn read_state(
    r: &mut Reader,
    name: &str,
    spec: &[FieldSpec],
    v: Version,
) -> Result<Vec<(&'static str, Field)>, MlxfnError> {
    let mut state = Vec::with_capacity(spec.len());
    for &(fname, ty) in spec {
        let f = prims::read_field(r, ty, &format!("{name}.{fname}"))?;
        state.push((fname, f));
    }
    // Normalize older layouts to 0.32.4's.
    if v < Version::LATEST {
        let full = prims::schema(name, Version::LATEST).unwrap_or_default();
        if full.len() != spec.len() {
            let mut out = Vec::with_capacity(full.len());
            for &(fname, _) in &full {
                match state.iter().position(|(n, _)| *n == fname) {
                    Some(i) => out.push(state[i].clone()),
                    None => out.push((
                        fname,
                        prims::default_for(name, fname).unwrap_or(Field::Null),
                    )),
                }
            }
            state = out;
        }
    }
    Ok(state)
}

/// Serializes in the 0.32.4 layout. Constant bodies are written the first
/// time their id appears in the file.
pub fn print(f: &RawFile) -> Result<Vec<u8>, MlxfnError> {
    let v = Version::parse(&f.version).unwrap_or(Version::LATEST);
    let mut w = Writer::default();
    w.string(&f.version);
    w.i32(i32::try_from(f.funcs.len()).map_err(|_| MlxfnError::msg("too many functions"))?);
    w.bool(f.shapeless);
    if v >= Version(0, 32, 1) {
        w.string(&f.metadata);
    }
    let mut written: HashSet<u64> = HashSet::new();
    for func in &f.funcs {
        w.len(func.kwargs.len());
        for k in &func.kwargs {
            w.string(k);
        }
        w.len(func.inputs.len());
        for (id, _) in &func.inputs {
            w.u64(*id);
        }
        w.len(func.inputs.len());
        for (_, d) in &func.inputs {
            write_desc(&mut w, d)?;
        }
        w.len(func.outputs.len());
        for o in &func.outputs {
            w.u64(*o);
        }
        w.len(func.tape.len());
        for e in &func.tape {
            w.u64(e.id);
            match &e.kind {
                EntryKind::Input => {
                    w.bool(false);
                    w.bool(false);
                }
                EntryKind::Constant => {
                    w.bool(false);
                    w.bool(true);
                    if written.insert(e.id) {
                        let lit = f.constants.get(&e.id).ok_or_else(|| {
                            MlxfnError::msg(format!("constant {:#x} has no data", e.id))
                        })?;
                        let shape = lit.shape().iter().map(|&d| d as i64).collect();
                        write_desc(
                            &mut w,
                            &Desc {
                                shape,
                                dtype: lit.dtype(),
                            },
                        )?;
                        w.buf.extend_from_slice(lit.bytes());
                    }
                }
                EntryKind::Op(op) => {
                    w.bool(true);
                    w.len(op.inputs.len());
                    for i in &op.inputs {
                        w.u64(*i);
                    }
                    w.i32(op.stream.0);
                    w.i32(op.stream.1);
                    w.i32(op.stream.2);
                    w.string(&op.name);
                    let spec = prims::schema(&op.name, v).ok_or_else(|| {
                        MlxfnError::msg(format!("unknown primitive {:?}", op.name))
                    })?;
                    for &(fname, ty) in &spec {
                        let field = op.field(fname).ok_or_else(|| {
                            MlxfnError::msg(format!("{}: state field {fname} missing", op.name))
                        })?;
                        prims::write_field(&mut w, ty, field)
                            .map_err(|m| MlxfnError::msg(format!("{}.{fname}: {m}", op.name)))?;
                    }
                    if op.outputs.len() == 1 {
                        w.len(0);
                        write_desc(&mut w, &op.outputs[0].1)?;
                    } else {
                        w.len(op.outputs.len() - 1);
                        w.len(op.outputs.len());
                        for (i, _) in &op.outputs {
                            w.u64(*i);
                        }
                        w.len(op.outputs.len());
                        for (_, d) in &op.outputs {
                            write_shape(&mut w, &d.shape)?;
                        }
                        w.len(op.outputs.len());
                        for (_, d) in &op.outputs {
                            w.dtype(d.dtype);
                        }
                    }
                }
            }
        }
    }
    Ok(w.buf)
}

fn write_shape(w: &mut Writer, s: &[i64]) -> Result<(), MlxfnError> {
    w.len(s.len());
    for &d in s {
        w.i32(i32::try_from(d).map_err(|_| MlxfnError::msg(format!("dimension {d} too large")))?);
    }
    Ok(())
}

fn write_desc(w: &mut Writer, d: &Desc) -> Result<(), MlxfnError> {
    write_shape(w, &d.shape)?;
    w.dtype(d.dtype);
    Ok(())
}
