//! Devices: where compiled functions run (MLX's `mx.Device`,
//! `mx.set_default_device`, `mx.default_device`).
//!
//! MLX names one GPU (`mx.gpu`, Metal); Psionic has two GPU backends, so a
//! [`Device`] names the API: [`Device::Cuda`] (PTX through the NVIDIA
//! driver, cargo feature `cuda`) or [`Device::Wgpu`] (WGSL through wgpu on
//! Vulkan, feature `wgpu`; Mesa's lavapipe runs it on a CPU).
//! [`Device::gpu`] picks the first one available, as `mx.gpu` would.
//!
//! [`crate::compile()`] runs on [`CompileOptions::device`](crate::compile::CompileOptions::device)
//! or, when that is `None`, on the default device at the time of the call,
//! which [`set_default_device`] changes (process-wide, like
//! [`crate::set_default_backend`]). [`crate::eval`] follows it too: a graph
//! that [`crate::Backend`] gives to native code runs on the default device
//! (a GPU one included; `EvalStats::on_gpu` counts those), and the
//! interpreter runs the rest.
//!
//! ```
//! use psionic_mlx::{default_device, set_default_device, Device};
//! # fn main() -> Result<(), psionic_mlx::Error> {
//! assert_eq!(default_device(), Device::Cpu);
//! if let Ok(gpu) = Device::gpu() {
//!     let before = set_default_device(gpu)?; // compiled functions now run there
//!     set_default_device(before)?;
//! }
//! # Ok(())
//! # }
//! ```

use crate::error::Error;
use psionic_runtime::exec::Backend;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where compiled code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Native CPU code (Cranelift). Always available; the default.
    Cpu,
    /// An NVIDIA GPU through the CUDA driver (feature `cuda`).
    Cuda,
    /// A GPU through wgpu on Vulkan (feature `wgpu`).
    Wgpu,
}

impl Device {
    /// `cpu`, `cuda` or `wgpu`.
    pub fn name(self) -> &'static str {
        self.backend().name()
    }

    /// The runtime backend that runs this device's code.
    pub fn backend(self) -> Backend {
        match self {
            Device::Cpu => Backend::Cpu,
            Device::Cuda => Backend::Cuda,
            Device::Wgpu => Backend::Wgpu,
        }
    }

    /// What this device is here (the card's or adapter's name), or an
    /// error naming the device and why it cannot be used: no driver, no
    /// adapter, or a build without the device's cargo feature.
    pub fn availability(self) -> Result<String, Error> {
        let why = match self {
            Device::Cpu => return Ok("cpu (Cranelift native code)".into()),
            Device::Cuda => cuda_availability(),
            Device::Wgpu => wgpu_availability(),
        };
        // The runtime's reasons name the backend: "CUDA backend unavailable: ...".
        why.map_err(|e| Error::new("device", e))
    }

    /// True when [`Device::availability`] is `Ok`.
    pub fn is_available(self) -> bool {
        self.availability().is_ok()
    }

    /// MLX's `mx.gpu`: CUDA where it is available, else wgpu; an error
    /// giving both reasons when neither is.
    pub fn gpu() -> Result<Device, Error> {
        let cuda = match Device::Cuda.availability() {
            Ok(_) => return Ok(Device::Cuda),
            Err(e) => e.message,
        };
        let wgpu = match Device::Wgpu.availability() {
            Ok(_) => return Ok(Device::Wgpu),
            Err(e) => e.message,
        };
        Err(Error::new("device", format!("no GPU: {cuda}; {wgpu}")))
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "cuda")]
fn cuda_availability() -> Result<String, String> {
    psionic_runtime::cuda::availability()
}
#[cfg(not(feature = "cuda"))]
fn cuda_availability() -> Result<String, String> {
    Err("CUDA backend unavailable: psionic-mlx was built without the `cuda` feature".into())
}

#[cfg(feature = "wgpu")]
fn wgpu_availability() -> Result<String, String> {
    psionic_runtime::wgpu::gpu()
        .map(|g| g.adapter.clone())
        .map_err(|e| e.message)
}
#[cfg(not(feature = "wgpu"))]
fn wgpu_availability() -> Result<String, String> {
    Err("wgpu backend unavailable: psionic-mlx was built without the `wgpu` feature".into())
}

static DEVICE: AtomicU8 = AtomicU8::new(0);

fn encode(d: Device) -> u8 {
    match d {
        Device::Cpu => 0,
        Device::Cuda => 1,
        Device::Wgpu => 2,
    }
}

fn decode(v: u8) -> Device {
    match v {
        1 => Device::Cuda,
        2 => Device::Wgpu,
        _ => Device::Cpu,
    }
}

/// Makes `d` the default device of [`crate::compile()`] (MLX's
/// `mx.set_default_device`) and returns the previous one. A device that
/// cannot be used here is an error, and the default stays as it was.
pub fn set_default_device(d: Device) -> Result<Device, Error> {
    d.availability()?;
    Ok(decode(DEVICE.swap(encode(d), Ordering::Relaxed)))
}

/// The device compiled functions run on when their options name none
/// (MLX's `mx.default_device()`); [`Device::Cpu`] unless changed.
pub fn default_device() -> Device {
    decode(DEVICE.load(Ordering::Relaxed))
}
