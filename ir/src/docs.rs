//! The op reference of `docs/IR.md`, generated from the op table so that it
//! cannot drift from what the parser, printer and verifier accept.
//!
//! `cargo run -p psionic-ir --example gen_ir_docs` rewrites the generated part
//! of `docs/IR.md` (between [`BEGIN_MARKER`] and [`END_MARKER`]); a test fails
//! when the file is stale.

use crate::attr::AttrKind;
use crate::ops::{Arity, OpClass, OpDef, Opcode, OP_DEFS};
use std::fmt::Write;

/// Starts the generated part of `docs/IR.md`.
pub const BEGIN_MARKER: &str = "<!-- BEGIN GENERATED OP REFERENCE -->";
/// Ends the generated part of `docs/IR.md`.
pub const END_MARKER: &str = "<!-- END GENERATED OP REFERENCE -->";

/// Op classes in the order the reference lists them.
const CLASSES: [(OpClass, &str, &str); 11] = [
    (OpClass::Creation, "creation", "Creation"),
    (OpClass::Unary, "unary", "Unary elementwise"),
    (OpClass::Binary, "binary", "Binary elementwise"),
    (OpClass::Compare, "compare", "Comparisons"),
    (OpClass::Reduction, "reduction", "Reductions"),
    (OpClass::Scan, "scan", "Scans"),
    (OpClass::Layout, "layout", "Layout"),
    (OpClass::Indexing, "indexing", "Indexing"),
    (OpClass::Sort, "sort", "Sorting"),
    (OpClass::Contraction, "contraction", "Contractions"),
    (OpClass::Other, "other", "Other"),
];

fn class_name(c: OpClass) -> &'static str {
    CLASSES
        .iter()
        .find(|(k, _, _)| *k == c)
        .map(|(_, n, _)| *n)
        .unwrap_or("other")
}

fn kind_placeholder(k: AttrKind) -> &'static str {
    match k {
        AttrKind::Bool => "<bool>",
        AttrKind::Int => "<int>",
        AttrKind::Float => "<float>",
        AttrKind::Ints => "[<int>, ...]",
        AttrKind::Str => "\"<string>\"",
        AttrKind::DType => "<dtype>",
        AttrKind::Dense => "dense<...> : tensor<...>",
    }
}

/// The text syntax of one op, with placeholders (required attributes only,
/// sorted by name as printed).
pub fn op_syntax(def: &OpDef) -> String {
    let results = match def.opcode {
        Opcode::DivMod => "%q, %r",
        Opcode::Split => "%r0, %r1, ...",
        _ => "%r",
    };
    let types = match def.opcode {
        Opcode::DivMod => "tensor<...>, tensor<...>",
        Opcode::Split => "tensor<...>, tensor<...>, ...",
        _ => "tensor<...>",
    };
    let operands = match def.operands {
        Arity::Exact(0) => String::new(),
        Arity::Exact(1) => " %x".into(),
        Arity::Exact(n) => {
            let names: Vec<String> = (0..n).map(|i| format!("%x{i}")).collect();
            format!(" {}", names.join(", "))
        }
        Arity::AtLeast(n) => {
            let mut names: Vec<String> = (0..n).map(|i| format!("%x{i}")).collect();
            names.push("...".into());
            format!(" {}", names.join(", "))
        }
    };
    // Sorted by name, as the printer writes them.
    let mut specs: Vec<_> = def.attrs.iter().filter(|s| s.required).collect();
    specs.sort_by_key(|s| s.name);
    let required: Vec<String> = specs
        .iter()
        .map(|s| format!("{} = {}", s.name, kind_placeholder(s.kind)))
        .collect();
    let attrs = if required.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", required.join(", "))
    };
    format!("{results} = {}{operands}{attrs} : {types}", def.name)
}

fn operands_doc(a: Arity) -> String {
    match a {
        Arity::Exact(0) => "none".into(),
        other => other.describe(),
    }
}

fn write_op(out: &mut String, def: &OpDef) {
    let _ = writeln!(out, "#### `{}`\n", def.name);
    let _ = writeln!(out, "{}\n", def.summary);
    let _ = writeln!(out, "```text\n{}\n```\n", op_syntax(def));
    let _ = writeln!(
        out,
        "Class: {}. Operands: {}.\n",
        class_name(def.class),
        operands_doc(def.operands)
    );
    if def.attrs.is_empty() {
        out.push_str("Attributes: none.\n\n");
        return;
    }
    out.push_str("| attribute | kind | required | meaning |\n|---|---|---|---|\n");
    for s in def.attrs {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            s.name,
            s.kind.name(),
            if s.required { "yes" } else { "no" },
            s.doc.replace('|', "\\|")
        );
    }
    out.push('\n');
}

/// The op reference in Markdown: an index by class, then one section per op
/// (name, summary, syntax, class, operands, attributes with kind, whether
/// required, and meaning), in table order within each class.
pub fn op_reference_markdown() -> String {
    let mut out = String::new();
    out.push_str(BEGIN_MARKER);
    out.push('\n');
    out.push_str(
        "<!-- Generated from ir/src/ops.rs by `cargo run -p psionic-ir --example gen_ir_docs`. Do not edit by hand. -->\n\n",
    );
    let _ = writeln!(out, "## Op reference\n\n{} ops.\n", OP_DEFS.len());
    for (class, _, title) in CLASSES {
        let names: Vec<String> = OP_DEFS
            .iter()
            .filter(|d| d.class == class)
            .map(|d| format!("`{}`", d.name))
            .collect();
        if !names.is_empty() {
            let _ = writeln!(out, "- {title}: {}", names.join(", "));
        }
    }
    out.push('\n');
    for (class, _, title) in CLASSES {
        let defs: Vec<&OpDef> = OP_DEFS.iter().filter(|d| d.class == class).collect();
        if defs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for d in defs {
            write_op(&mut out, d);
        }
    }
    out.push_str(END_MARKER);
    out.push('\n');
    out
}

/// `doc` with its generated part replaced by the current reference (appended
/// when `doc` has no markers).
pub fn update_ir_md(doc: &str) -> String {
    let reference = op_reference_markdown();
    match (doc.find(BEGIN_MARKER), doc.find(END_MARKER)) {
        (Some(b), Some(e)) if b <= e => {
            let mut end = e + END_MARKER.len();
            if doc[end..].starts_with('\n') {
                end += 1;
            }
            format!("{}{}{}", &doc[..b], reference, &doc[end..])
        }
        _ => {
            let mut out = doc.to_string();
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
            }
            out.push_str(&reference);
            out
        }
    }
}
