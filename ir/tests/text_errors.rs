//! Parse diagnostics: one test per class of error, each asserting the line,
//! the column and what the message says was expected.

use psionic_ir::text::{parse_func, parse_module};

const HEAD: &str = "func @f(%a: tensor<2x3xf32>, %b: tensor<3xi32>) -> (tensor<2x3xf32>) {\n";

/// Parses `HEAD + body + "  return %a\n}\n"` and returns the error text.
fn body_err(body: &str) -> String {
    let src = format!("{HEAD}{body}  return %a\n}}\n");
    match parse_module(&src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e.to_string(),
    }
}

fn err(src: &str) -> String {
    match parse_module(src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn lexer_error() {
    assert_eq!(
        body_err("  %c = tensor.abs %a # : tensor<2x3xf32>\n"),
        "2:22: error: unexpected character `#`"
    );
    assert_eq!(
        err("module attributes {s = \"open\n"),
        "1:24: error: unterminated string: expected a closing `\"`"
    );
    assert_eq!(
        body_err("  %c = tensor.abs %a : tensor<2x3xf32>\n  %d = tensor.full {value = 1e, shape = [], dtype = f32} : tensor<f32>\n"),
        "3:30: error: expected digits in the exponent of a number"
    );
}

#[test]
fn unknown_op() {
    assert_eq!(
        body_err("  %c = tensor.foo %a : tensor<2x3xf32>\n"),
        "2:8: error: unknown op `tensor.foo`"
    );
}

#[test]
fn unknown_attribute() {
    assert_eq!(
        body_err("  %c = tensor.reduce_sum %a {axes = [1], keep = true} : tensor<2xf32>\n"),
        "2:42: error: `tensor.reduce_sum` has no attribute `keep` (it takes axes, keepdims)"
    );
    assert_eq!(
        body_err("  %c = tensor.abs %a {axes = [1]} : tensor<2x3xf32>\n"),
        "2:23: error: `tensor.abs` has no attribute `axes` (it takes none)"
    );
}

#[test]
fn wrong_attribute_kind() {
    assert_eq!(
        body_err("  %c = tensor.reduce_sum %a {axes = 1.5} : tensor<2xf32>\n"),
        "2:37: error: attribute `axes` of `tensor.reduce_sum` must be an int list, found a float"
    );
    assert_eq!(
        body_err("  %c = tensor.cast %a {dtype = f31} : tensor<2x3xf32>\n"),
        "2:32: error: unknown dtype `f31`"
    );
    assert_eq!(
        body_err("  %c = tensor.cast %a {dtype = \"f32\"} : tensor<2x3xf32>\n"),
        "2:32: error: attribute `dtype` of `tensor.cast` must be a dtype, found a string"
    );
}

#[test]
fn duplicate_attribute() {
    assert_eq!(
        body_err("  %c = tensor.reduce_sum %a {axes = [1], axes = [0]} : tensor<2xf32>\n"),
        "2:42: error: duplicate attribute `axes`"
    );
}

#[test]
fn missing_attribute() {
    assert_eq!(
        body_err("  %c = tensor.reduce_sum %a : tensor<2xf32>\n"),
        "2:8: error: `tensor.reduce_sum` needs attribute `axes` (int list)"
    );
}

#[test]
fn undefined_value() {
    assert_eq!(
        body_err("  %c = tensor.add %a, %7 : tensor<2x3xf32>\n"),
        "2:23: error: use of undefined value %7"
    );
    assert_eq!(
        err("func @f(%a: tensor<f32>) -> (tensor<f32>) {\n  return %zz\n}\n"),
        "2:10: error: use of undefined value %zz"
    );
}

#[test]
fn redefined_value() {
    assert_eq!(
        body_err(
            "  %c = tensor.abs %a : tensor<2x3xf32>\n  %c = tensor.abs %a : tensor<2x3xf32>\n"
        ),
        "3:3: error: redefinition of value %c"
    );
    assert_eq!(
        body_err("  %a = tensor.abs %a : tensor<2x3xf32>\n"),
        "2:3: error: redefinition of value %a"
    );
    assert_eq!(
        err("func @f(%x: tensor<f32>, %x: tensor<f32>) -> () {\n  return\n}\n"),
        "1:26: error: redefinition of value %x"
    );
}

#[test]
fn type_mismatch_with_inferred() {
    assert_eq!(
        body_err("  %c = tensor.reduce_sum %a {axes = [1]} : tensor<3xf32>\n"),
        "2:44: error: result 0 of `tensor.reduce_sum` has type tensor<2xf32>, but tensor<3xf32> is written"
    );
    assert_eq!(
        body_err("  %c, %d = tensor.abs %a : tensor<2x3xf32>\n"),
        "2:28: error: 2 result names but 1 result types written"
    );
    assert_eq!(
        body_err("  %c, %d = tensor.abs %a : tensor<2x3xf32>, tensor<2x3xf32>\n"),
        "2:3: error: `tensor.abs` gives 1 results here, but 2 are named"
    );
    // The shape rule itself rejects the operands.
    assert_eq!(
        body_err("  %c = tensor.add %a, %b : tensor<2x3xf32>\n"),
        "2:8: error: `tensor.add`: operand dtypes differ (f32 and i32): insert tensor.cast"
    );
}

#[test]
fn return_mismatch() {
    assert_eq!(
        err("func @f(%a: tensor<f32>) -> (tensor<f32>, tensor<f32>) {\n  return %a\n}\n"),
        "2:3: error: `return` gives 1 values, but the signature of @f declares 2"
    );
    assert_eq!(
        err("func @f(%a: tensor<f32>) -> (tensor<2xf32>) {\n  return %a\n}\n"),
        "2:10: error: result 0 has type tensor<f32>, but the signature declares tensor<2xf32>"
    );
}

#[test]
fn wrong_arity() {
    assert_eq!(
        body_err("  %c = tensor.add %a : tensor<2x3xf32>\n"),
        "2:8: error: `tensor.add` takes 2 operands, got 1"
    );
    assert_eq!(
        body_err("  %c = tensor.concatenate {axis = 0} : tensor<2x3xf32>\n"),
        "2:8: error: `tensor.concatenate` takes at least 1 operands, got 0"
    );
}

#[test]
fn bad_type_syntax() {
    assert_eq!(
        body_err("  %c = tensor.abs %a : tensor<2x3f32>\n"),
        "2:34: error: expected `x` after dimension in tensor type"
    );
    assert_eq!(
        body_err("  %c = tensor.abs %a : tensor<2x3xf31>\n"),
        "2:35: error: unknown dtype `f31`: expected one of bool, u8, u16, u32, u64, i8, i16, i32, i64, f16, f32, f64, bf16, c64"
    );
    assert_eq!(
        body_err("  %c = tensor.abs %a : tensor <2x3xf32>\n"),
        "2:30: error: expected `<` right after `tensor`"
    );
    assert_eq!(
        body_err("  %c = tensor.abs %a : f32\n"),
        "2:24: error: expected a tensor type (`tensor<...>`), found `f32`"
    );
    assert_eq!(
        err("func @f(%a: tensor<-2xf32>) -> () {\n  return\n}\n"),
        "1:20: error: expected a dimension (digits or `?`) or a dtype in tensor type"
    );
}

#[test]
fn expected_colon_after_operands() {
    assert_eq!(
        body_err("  %c = tensor.abs %a tensor<2x3xf32>\n"),
        "2:22: error: expected `:` after operands, found `tensor`"
    );
    assert_eq!(
        body_err("  %c = tensor.reduce_sum %a {axes = [1]} tensor<2xf32>\n"),
        "2:42: error: expected `:` after attributes, found `tensor`"
    );
}

#[test]
fn dense_literal_errors() {
    let c = |lit: &str| {
        body_err(&format!(
            "  %c = tensor.constant {{value = {lit}}} : tensor<2xi8>\n"
        ))
    };
    assert_eq!(
        c("dense<[1, 2, 3]> : tensor<2xi8>"),
        "2:39: error: dense literal has 3 elements along axis 0, but the type says 2"
    );
    assert_eq!(
        c("dense<[1, 300]> : tensor<2xi8>"),
        "2:43: error: integer 300 is out of range for i8"
    );
    assert_eq!(
        c("dense<[1, 2.5]> : tensor<2xi8>"),
        "2:43: error: expected an integer for an element of type i8, found `2.5`"
    );
    assert_eq!(
        c("dense<\"0x0102FF\"> : tensor<2xi8>"),
        "2:39: error: hex literal has 3 bytes, but tensor<2xi8> needs 2"
    );
    assert_eq!(
        c("dense<[1, 2]> : tensor<?xi8>"),
        "2:49: error: a dense literal needs a static type, found tensor<?xi8>"
    );
    assert_eq!(
        c("dense<[true, 2]> : tensor<2xbool>"),
        "2:46: error: expected `true` or `false` for a bool element, found `2`"
    );
}

#[test]
fn trailing_garbage() {
    assert_eq!(
        err("func @f() -> () {\n  return\n}\n}\n"),
        "4:1: error: expected `func` or `module`, found `}`"
    );
    assert_eq!(
        err("module {\n}\nfunc @g() -> () {\n  return\n}\n"),
        "3:1: error: expected end of input after the module, found `func`"
    );
    assert_eq!(
        parse_func("func @f() -> () {\n  return\n}\nfunc @g() -> () {\n  return\n}\n")
            .unwrap_err()
            .to_string(),
        "4:1: error: expected end of input after the function, found `func`"
    );
    assert_eq!(
        err("func @f() -> () {\n  return 1\n}\n"),
        "2:10: error: expected `}` after `return`, found number `1`"
    );
}

#[test]
fn empty_and_comment_only_input() {
    assert_eq!(parse_module("").unwrap().funcs.len(), 0);
    assert_eq!(parse_module("// nothing\n\n   \n").unwrap().funcs.len(), 0);
    assert_eq!(
        parse_func("// nothing\n").unwrap_err().to_string(),
        "2:1: error: expected `func`, found end of input"
    );
}

/// Sizes near the i64 limits must give errors from the shape rules, never a
/// panic from arithmetic overflow.
#[test]
fn extreme_sizes_give_errors_not_panics() {
    let big = "9223372036854775807";
    let cases = [
        "func @f(%a: tensor<2xf32>, %b: tensor<2xf32>) -> () {\n %c = tensor.broadcast_like %a, %b {ignore_axes = [-9223372036854775808]} : tensor<2xf32>\n return\n}".to_string(),
        "func @f(%a: tensor<2xf32>) -> () {\n %c = tensor.slice %a {start = [0], stop = [1], strides = [-9223372036854775808]} : tensor<2xf32>\n return\n}".to_string(),
        format!("func @f(%a: tensor<{big}xf32>) -> () {{\n %c = tensor.slice %a {{start = [0], stop = [{big}], strides = [{big}]}} : tensor<2xf32>\n return\n}}"),
        format!("func @f(%a: tensor<2xf32>, %p: tensor<f32>) -> () {{\n %c = tensor.pad %a, %p {{low = [{big}], high = [{big}]}} : tensor<2xf32>\n return\n}}"),
        format!("func @f(%a: tensor<{big}x3xf32>) -> () {{\n %c = tensor.flatten %a {{start_axis = 0, end_axis = 1}} : tensor<2xf32>\n return\n}}"),
        "func @f(%a: tensor<4611686018427387904xf32>) -> () {\n %c = tensor.bitcast %a {dtype = u8} : tensor<2xf32>\n return\n}".to_string(),
        format!("func @f(%a: tensor<{big}xf32>) -> () {{\n %c = tensor.concatenate %a, %a {{axis = 0}} : tensor<2xf32>\n return\n}}"),
        format!("func @f(%a: tensor<{big}x{big}xf32>) -> () {{\n %c = tensor.reshape %a {{shape = [-1]}} : tensor<2xf32>\n return\n}}"),
        format!("func @f(%a: tensor<{big}xf32>) -> () {{\n %c = tensor.unflatten %a {{axis = 0, shape = [-1, {big}]}} : tensor<2xf32>\n return\n}}"),
        "func @f() -> () {\n %c = tensor.arange {start = -1e308, stop = 1e308, step = 1e-308, dtype = f32} : tensor<2xf32>\n return\n}".to_string(),
        format!("func @f() -> () {{\n %c = tensor.constant {{value = dense<1.0> : tensor<{big}x2xf32>}} : tensor<2xf32>\n return\n}}"),
        "func @f(%a: tensor<99999999999999999999xf32>) -> () {\n return\n}".to_string(),
        "func @f() -> () {\n %c = tensor.iota {shape = [99999999999999999999], axis = 0, dtype = f32} : tensor<2xf32>\n return\n}".to_string(),
    ];
    for c in &cases {
        let e = parse_module(c).expect_err(c);
        assert!(e.line == 1 || e.line == 2, "{e}");
    }
    assert_eq!(
        parse_module(&cases[7]).unwrap_err().to_string(),
        format!("2:7: error: `tensor.reshape`: element count of [{big}, {big}] overflows")
    );
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let src = "\u{feff}func @f(%a: tensor<f32>) -> (tensor<f32>) {\r\n  %b = tensor.abs %a : tensor<f32>\r\n  return %b\r\n}\r\n";
    let f = parse_func(src).unwrap();
    assert_eq!(f.ops[0].loc, psionic_ir::Loc::new(2, 8));
}
