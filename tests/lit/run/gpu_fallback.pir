// `psionic run --backend wgpu` on values WGSL has no type for: the
// backend's executable runs the function on the reference interpreter and
// stderr says why. No GPU is touched, so this runs on any machine.
// RUN: psionic run %s --func wide --backend wgpu --out %t.wide.safetensors 2>&1 | FileCheck %s --check-prefix=WIDE
// WIDE: note: wgpu: f64 has no WGSL type; running @wide on the interpreter
// RUN: psionic inspect %t.wide.safetensors | FileCheck %s --check-prefix=WIDEOUT
// WIDEOUT: out.0: tensor<4xf64> = [0.0, 1.0, 4.0, 9.0]
// Complex values are no such case (since session 6): they compile, as f32
// (re, im) pairs, on every backend. On the CPU @cplx runs natively, with no
// note on stderr (the GPUs are checked by runtime/tests/gpu_fallback.rs
// and complex_kernels.rs where a device exists).
// RUN: psionic run %s --func cplx --backend cpu --out %t.cpu.safetensors 2>&1 | FileCheck %s --check-prefix=CPU
// CPU-NOT: note:
// RUN: psionic inspect %t.cpu.safetensors | FileCheck %s --check-prefix=OUT
// OUT: out.0: tensor<4xf32> = [0.0, 1.0, 4.0, 9.0]
func @wide() -> (tensor<4xf64>) {
  %0 = tensor.iota {axis = 0, dtype = f64, shape = [4]} : tensor<4xf64>
  %1 = tensor.multiply %0, %0 : tensor<4xf64>
  return %1
}
func @cplx() -> (tensor<4xf32>) {
  %0 = tensor.iota {axis = 0, dtype = f32, shape = [4]} : tensor<4xf32>
  %1 = tensor.cast %0 {dtype = c64} : tensor<4xc64>
  %2 = tensor.multiply %1, %1 : tensor<4xc64>
  %3 = tensor.real %2 : tensor<4xf32>
  return %3
}
