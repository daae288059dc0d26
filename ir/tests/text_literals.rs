//! Golden tests of the printed form of attributes and dense literals, and of
//! what the parser accepts beyond what the printer writes.

use half::{bf16, f16};
use psionic_ir::text::{parse_func, print_attr, print_func, print_literal};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode};

fn lit(dtype: DType, shape: Vec<usize>, bytes: Vec<u8>) -> Literal {
    Literal::from_bytes(dtype, shape, bytes).unwrap()
}

/// Parses `dense<...> : TYPE` through a constant op and returns the literal.
fn parse_lit(text: &str, ty: &str) -> Result<Literal, String> {
    let src = format!(
        "func @f() -> ({ty}) {{\n  %0 = tensor.constant {{value = {text}}} : {ty}\n  return %0\n}}\n"
    );
    let f = parse_func(&src).map_err(|e| e.to_string())?;
    f.ops[0].attrs.dense("value").cloned()
}

fn round_trip(l: &Literal) {
    let text = print_literal(l);
    let back = parse_lit(&text, &l.ty().to_string()).unwrap();
    assert_eq!(&back, l, "{text}");
}

#[test]
fn floats_print_shortest_round_trip() {
    let l = Literal::f32s(vec![5], &[1.0, 0.1, -0.0, 1e-7, f32::INFINITY]).unwrap();
    assert_eq!(
        print_literal(&l),
        "dense<[1.0, 0.1, -0.0, 1e-7, inf]> : tensor<5xf32>"
    );
    round_trip(&l);
    let l = Literal::from_f64(DType::F64, vec![3], &[0.1, 1e300, f64::NEG_INFINITY]).unwrap();
    assert_eq!(
        print_literal(&l),
        "dense<[0.1, 1e300, -inf]> : tensor<3xf64>"
    );
    round_trip(&l);
}

#[test]
fn half_types_print_their_exact_f32_value() {
    let h = f16::from_f64(0.1);
    let l = lit(
        DType::F16,
        vec![2],
        [h.to_le_bytes(), f16::MAX.to_le_bytes()].concat(),
    );
    assert_eq!(
        print_literal(&l),
        "dense<[0.099975586, 65504.0]> : tensor<2xf16>"
    );
    round_trip(&l);
    let b = bf16::from_f64(0.1);
    let l = lit(DType::BF16, vec![], b.to_le_bytes().to_vec());
    assert_eq!(print_literal(&l), "dense<0.100097656> : tensor<bf16>");
    round_trip(&l);
    // Every f16 and every bf16 bit pattern that is not NaN round-trips in decimal.
    for bits in 0..=u16::MAX {
        for d in [DType::F16, DType::BF16] {
            let l = lit(d, vec![], bits.to_le_bytes().to_vec());
            if !l.get_f64(0).is_nan() {
                let text = print_literal(&l);
                assert!(!text.contains("0x"), "{text}");
                round_trip(&l);
            }
        }
    }
}

#[test]
fn integers_and_bools() {
    let l = Literal::from_i64(DType::I64, vec![2], &[i64::MIN, i64::MAX]).unwrap();
    assert_eq!(
        print_literal(&l),
        "dense<[-9223372036854775808, 9223372036854775807]> : tensor<2xi64>"
    );
    round_trip(&l);
    let l = lit(DType::U64, vec![1], u64::MAX.to_le_bytes().to_vec());
    assert_eq!(
        print_literal(&l),
        "dense<[18446744073709551615]> : tensor<1xu64>"
    );
    round_trip(&l);
    let l = lit(DType::Bool, vec![2, 1], vec![1, 0]);
    assert_eq!(
        print_literal(&l),
        "dense<[[true], [false]]> : tensor<2x1xbool>"
    );
    round_trip(&l);
}

#[test]
fn hex_form_for_c64_nan_and_large() {
    let l = lit(
        DType::C64,
        vec![1],
        [1f32.to_le_bytes(), 2f32.to_le_bytes()].concat(),
    );
    assert_eq!(
        print_literal(&l),
        "dense<\"0x0000803F00000040\"> : tensor<1xc64>"
    );
    round_trip(&l);
    // A NaN with a payload and its sign bit survives.
    let nan = f32::from_bits(0xFFC0_0001);
    let l = Literal::f32s(vec![2], &[1.0, nan]).unwrap();
    assert_eq!(
        print_literal(&l),
        "dense<\"0x0000803F0100C0FF\"> : tensor<2xf32>"
    );
    round_trip(&l);
    let l = Literal::from_f64(DType::I8, vec![257], &[3.0; 257]).unwrap();
    assert!(print_literal(&l).starts_with("dense<\"0x030303"));
    round_trip(&l);
    let l = Literal::from_f64(DType::I8, vec![256], &[3.0; 256]).unwrap();
    assert!(print_literal(&l).starts_with("dense<[3, 3"));
}

#[test]
fn empty_and_scalar_shapes() {
    for shape in [vec![0], vec![2, 0], vec![0, 3], vec![], vec![1, 1, 1]] {
        let n: usize = shape.iter().product();
        let l = Literal::from_f64(DType::F32, shape, &vec![2.5; n]).unwrap();
        round_trip(&l);
    }
    let l = Literal::zeros(DType::F32, vec![2, 0]).unwrap();
    assert_eq!(print_literal(&l), "dense<[[], []]> : tensor<2x0xf32>");
    let l = Literal::zeros(DType::F32, vec![0, 3]).unwrap();
    assert_eq!(print_literal(&l), "dense<[]> : tensor<0x3xf32>");
}

#[test]
fn parser_accepts_splats_hex_and_integer_floats() {
    let l = parse_lit("dense<1> : tensor<2x2xf32>", "tensor<2x2xf32>").unwrap();
    assert_eq!(l.to_f64_vec(), vec![1.0; 4]);
    let l = parse_lit("dense<\"0x0100\"> : tensor<2xbool>", "tensor<2xbool>").unwrap();
    assert_eq!(l.to_f64_vec(), vec![1.0, 0.0]);
    let e = parse_lit("dense<\"0x0200\"> : tensor<2xbool>", "tensor<2xbool>").unwrap_err();
    assert_eq!(e, "2:39: error: bool data must be 0 or 1");
    let l = parse_lit("dense<[nan, -inf]> : tensor<2xf16>", "tensor<2xf16>").unwrap();
    assert!(l.get_f64(0).is_nan() && l.get_f64(1) == f64::NEG_INFINITY);
    let e = parse_lit("dense<[1.0]> : tensor<1xc64>", "tensor<1xc64>").unwrap_err();
    assert_eq!(
        e,
        "2:40: error: c64 literals are written as hex bytes: dense<\"0x...\">"
    );
}

#[test]
fn attributes_print_sorted_and_typed() {
    assert_eq!(print_attr(&Attr::Float(2.0)), "2.0");
    assert_eq!(print_attr(&Attr::Float(f64::NAN)), "nan");
    assert_eq!(print_attr(&Attr::Float(-f64::INFINITY)), "-inf");
    assert_eq!(print_attr(&Attr::Ints(vec![])), "[]");
    assert_eq!(
        print_attr(&Attr::Str("a\"b\\\n\u{1}é".into())),
        "\"a\\\"b\\\\\\n\\u{1}é\""
    );
    assert_eq!(print_attr(&Attr::DType(DType::BF16)), "bf16");

    let mut f = Func::new("odd name", vec![]);
    let v = f
        .push1(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(0.5))
                .with("shape", Attr::Ints(vec![2]))
                .with("dtype", Attr::DType(DType::F16)),
        )
        .unwrap();
    f.results = vec![v];
    f.set_attr("kwargs", Attr::Str("scale".into()));
    f.set_attr("a key", Attr::Int(-3));
    let text = print_func(&f);
    assert_eq!(
        text,
        "func @\"odd name\"() -> (tensor<2xf16>) attributes {\"a key\" = -3, kwargs = \"scale\"} {\n  %0 = tensor.full {dtype = f16, shape = [2], value = 0.5} : tensor<2xf16>\n  return %0\n}\n"
    );
    assert_eq!(parse_func(&text).unwrap(), f);
}
