//! Malformed `.mlxfn` files are refused with one line naming the problem
//! and the byte offset where it was found; nothing panics.

use psionic_ir::{Attr, Attrs, DType, Func, Literal, Module, Opcode, TensorType};
use psionic_mlx::mlxfn::{self, MlxfnError};

/// `exp(x) * 2` over a 1-d f32 input, written by our writer: header
/// (version "0.32.4", no metadata), one function.
fn tiny() -> Vec<u8> {
    let mut f = Func::new("main", vec![TensorType::new(DType::F32, vec![3])]);
    let x = f.params[0];
    let e = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    let c = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with(
                "value",
                Attr::Dense(Literal::f32s(vec![3], &[2.0, 2.0, 2.0]).unwrap()),
            ),
        )
        .unwrap();
    let m = f.push1(Opcode::Multiply, &[e, c], Attrs::new()).unwrap();
    f.results = vec![m];
    mlxfn::write(&Module::new(vec![f])).unwrap()
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("pattern present")
}

fn err(bytes: &[u8]) -> MlxfnError {
    let e = mlxfn::read(bytes).expect_err("must be refused");
    let s = e.to_string();
    assert!(!s.contains('\n'), "error is not one line: {s}");
    e
}

// Offsets of the tiny file's header and first function record.
const VERSION_LEN: usize = 8 + 6;
const COUNT_AT: usize = VERSION_LEN;
const KWARGS_AT: usize = COUNT_AT + 4 + 1 + 8;
const INPUT_IDS_AT: usize = KWARGS_AT + 8;
const INPUT_DESC_AT: usize = INPUT_IDS_AT + 16;
const INPUT_DTYPE_AT: usize = INPUT_DESC_AT + 8 + 8 + 4;

#[test]
fn tiny_file_reads_back() {
    let m = mlxfn::read(&tiny()).unwrap();
    assert_eq!(m.funcs[0].ops.len(), 3);
}

#[test]
fn every_truncation_is_refused_with_an_offset() {
    let b = tiny();
    for n in 0..b.len() {
        let e = err(&b[..n]);
        let off = e.offset.expect("truncation errors carry an offset");
        assert!(off <= n, "offset {off} past the end {n}");
        assert!(e.to_string().starts_with(&format!("byte {off}: ")), "{e}");
        assert!(e.message.contains("truncated"), "cut at {n}: {e}");
    }
}

#[test]
fn unknown_primitive_is_named_at_its_offset() {
    let mut b = tiny();
    let at = find(&b, b"\x03\0\0\0\0\0\0\0Exp");
    b[at + 8..at + 11].copy_from_slice(b"Foo");
    let e = err(&b);
    assert_eq!(
        e.to_string(),
        format!("byte {at}: unknown primitive \"Foo\"")
    );
}

#[test]
fn bad_dtype_codes_are_refused() {
    let mut b = tiny();
    assert_eq!(
        &b[INPUT_DTYPE_AT..INPUT_DTYPE_AT + 5],
        &[10, 0, 0, 0, 4],
        "layout of the test file"
    );
    b[INPUT_DTYPE_AT] = 99;
    let e = err(&b);
    assert_eq!(e.offset, Some(INPUT_DTYPE_AT));
    assert!(e.message.contains("unknown dtype code 99"), "{e}");
    b[INPUT_DTYPE_AT] = 10;
    b[INPUT_DTYPE_AT + 4] = 3;
    let e = err(&b);
    assert!(e.message.contains("item size"), "{e}");
}

#[test]
fn absurd_lengths_are_refused_before_allocating() {
    let mut b = tiny();
    b[KWARGS_AT..KWARGS_AT + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = err(&b);
    assert_eq!(e.offset, Some(KWARGS_AT));
    assert!(e.message.contains("absurd length"), "{e}");
    assert!(e.message.contains("18446744073709551615 elements"), "{e}");

    let mut b = tiny();
    b[0..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(err(&b).message.contains("absurd length"));

    let mut b = tiny();
    b[COUNT_AT..COUNT_AT + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    assert!(err(&b).message.contains("absurd function count"));
    b[COUNT_AT..COUNT_AT + 4].copy_from_slice(&(-1i32).to_le_bytes());
    assert!(err(&b).message.contains("negative function count"));
}

#[test]
fn huge_constant_shapes_are_refused() {
    let mut b = tiny();
    // The constant's descriptor: shape [3] then f32, followed by 12 bytes.
    let data = find(&b, &[0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64]);
    let dim_at = data - 5 - 4;
    b[dim_at..dim_at + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    let e = err(&b);
    assert!(
        e.message.contains("absurd constant: shape [2147483647]"),
        "{e}"
    );
}

#[test]
fn ids_used_before_definition_are_refused() {
    let mut raw = mlxfn::format::parse(&tiny()).unwrap();
    let entry = raw.funcs[0]
        .tape
        .iter_mut()
        .find_map(|e| match &mut e.kind {
            mlxfn::format::EntryKind::Op(op) if op.name == "Exp" => Some(op),
            _ => None,
        })
        .unwrap();
    entry.inputs[0] = 0xdead_beef;
    let bad = mlxfn::format::print(&raw).unwrap();
    let e = err(&bad);
    assert!(
        e.message
            .contains("input id 0xdeadbeef is used before it is defined"),
        "{e}"
    );
    // The offset is the op's input list.
    let at = e.offset.unwrap();
    assert_eq!(
        &bad[at..at + 16],
        &[&1u64.to_le_bytes()[..], &0xdead_beefu64.to_le_bytes()[..]].concat()
    );
}

#[test]
fn undefined_outputs_are_refused() {
    let mut raw = mlxfn::format::parse(&tiny()).unwrap();
    raw.funcs[0].outputs[0] = 0x1234_5678;
    let e = err(&mlxfn::format::print(&raw).unwrap());
    assert!(
        e.message.contains("output id 0x12345678 is not defined"),
        "{e}"
    );
}

#[test]
fn trailing_bytes_are_refused() {
    let mut b = tiny();
    let n = b.len();
    b.extend_from_slice(&[1, 2, 3]);
    let e = err(&b);
    assert_eq!(e.offset, Some(n));
    assert!(e.message.contains("3 unexpected bytes"), "{e}");
}

#[test]
fn ops_with_wrong_operands_are_refused_not_panicking() {
    let mut b = tiny();
    // Multiply given one operand: the op count byte of its input list.
    let at = find(&b, b"\x08\0\0\0\0\0\0\0Multiply");
    // Its input vector (count 2, two ids) sits 12 (stream) + 16 (ids) + 8 bytes before the name.
    let count_at = at - 12 - 16 - 8;
    assert_eq!(&b[count_at..count_at + 8], &2u64.to_le_bytes());
    b[count_at..count_at + 8].copy_from_slice(&1u64.to_le_bytes());
    // The file is now misaligned from that point: still a clean error.
    let e = err(&b);
    assert!(e.offset.is_some(), "{e}");
}
