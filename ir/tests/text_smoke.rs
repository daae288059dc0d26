use psionic_ir::text::*;

#[test]
fn smoke() {
    let src = r#"
// comment
func @main(%x: tensor<2x3xf32>, %b: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %2 = tensor.broadcast %b {shape = [2, 3]} : tensor<2x3xf32>
  %3 = tensor.add %x, %2 : tensor<2x3xf32>   // add
  %4, %5 = tensor.divmod %3, %x : tensor<2x3xf32>, tensor<2x3xf32>
  %6 = tensor.constant {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : tensor<3xf32>
  %7 = tensor.constant {value = dense<[[true], [false]]> : tensor<2x1xbool>} : tensor<2x1xbool>
  %8 = tensor.full {dtype = bf16, shape = [2], value = 1} : tensor<2xbf16>
  return %3, %4
}
"#;
    let m = parse_module(src).unwrap();
    let p = print_module(&m);
    println!("{p}");
    let m2 = parse_module(&p).unwrap();
    assert_eq!(m2, m.compact());
    assert_eq!(print_module(&m2), p);
    for bad in [
        "func @f() -> () { %0 = tensor.foo : tensor<f32> return }",
        "func @f(%0: tensor<2xf32>) -> () { %1 = tensor.add %0, %7 : tensor<2xf32>\n return }",
        "func @f(%0: tensor<2xf32>) -> () { %1 = tensor.add %0, %0 tensor<2xf32>\n return }",
    ] {
        println!("{}", parse_module(bad).unwrap_err());
    }
}
