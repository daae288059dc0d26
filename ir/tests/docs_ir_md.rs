//! `docs/IR.md` carries the op reference generated from the op table.

use psionic_ir::docs::{op_reference_markdown, op_syntax, update_ir_md};
use psionic_ir::OP_DEFS;

#[test]
fn docs_ir_md_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/IR.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        doc.contains(&op_reference_markdown()),
        "docs/IR.md does not contain the current op reference; regenerate it with\n    cargo run -p psionic-ir --example gen_ir_docs"
    );
}

#[test]
fn reference_documents_every_op_and_attribute() {
    let r = op_reference_markdown();
    for d in OP_DEFS {
        assert!(r.contains(&format!("#### `{}`", d.name)), "{}", d.name);
        assert!(r.contains(d.summary), "{}", d.name);
        assert!(r.contains(&op_syntax(d)), "{}", d.name);
        for a in d.attrs {
            assert!(r.contains(&format!("| `{}` | {} |", a.name, a.kind.name())));
        }
    }
    assert!(op_syntax(psionic_ir::Opcode::ReduceSum.def())
        .starts_with("%r = tensor.reduce_sum %x {axes = [<int>, ...]} : tensor<...>"));
}

#[test]
fn update_replaces_only_the_generated_part() {
    let fresh = update_ir_md("# IR\n\nhand-written\n");
    assert!(fresh.starts_with("# IR\n\nhand-written\n\n"));
    let stale = fresh.replace("#### `tensor.add`", "#### `tensor.old`");
    let again = update_ir_md(&format!("{stale}\n## After\n"));
    assert_eq!(again, format!("{fresh}\n## After\n"));
}

/// Every complete example in docs/IR.md parses and verifies.
#[test]
fn docs_ir_md_examples_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/IR.md");
    let doc = std::fs::read_to_string(path).expect("docs/IR.md exists");
    let mut checked = 0;
    for block in doc.split("```text\n").skip(1) {
        let body = block.split("```").next().unwrap_or("");
        let starts_like_ir = body.starts_with("func @") || body.starts_with("// ");
        if starts_like_ir && !body.contains("...") {
            let m = psionic_ir::text::parse_module(body).unwrap_or_else(|e| panic!("{e}\n{body}"));
            psionic_ir::verify::verify_module(&m).unwrap();
            checked += 1;
        }
    }
    assert!(checked >= 1);
}
