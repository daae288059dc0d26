//! The fault record through which GPU kernels report a gather index out of
//! range (the CPU backend has its own: `cpu::jit::GatherFault`).
//!
//! A program whose kernels gather gets one device buffer of
//! [`FAULT_WORDS`] 32-bit words, zeroed before each run:
//! `[flag, site, value_lo, value_hi]`. An out-of-range index raises the flag
//! atomically; the thread that raised it first writes its [`FaultSite`]
//! number (1-based) and its index value. The kernel reads element 0 of the
//! index's range instead, so nothing is ever read out of bounds, and the
//! runtime reads the record back (before host calls and with the results)
//! and fails the run with the reference interpreter's message.

use psionic_ir::kernel::gather_error;

/// Words of the fault record.
pub const FAULT_WORDS: usize = 4;

/// One checked gather index of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSite {
    /// The kernel it is in.
    pub kernel: String,
    /// The indexed axis, its size and the slice size (see
    /// [`psionic_ir::kernel::DynIndex`]).
    pub axis: u32,
    pub dim: usize,
    pub slice: usize,
    /// The recorded value is signed.
    pub signed: bool,
    /// The recorded value has 64 bits (`value_hi` holds the high word);
    /// otherwise 32 bits in `value_lo`.
    pub wide: bool,
}

/// A program's fault record: the device buffer holding it (a storage index
/// on wgpu, a buffer index on CUDA) and its sites.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub buf: usize,
    pub sites: Vec<FaultSite>,
}

impl Faults {
    /// Registers a site; returns its number in the record.
    pub fn add(&mut self, s: FaultSite) -> u32 {
        self.sites.push(s);
        self.sites.len() as u32
    }

    /// The error a record read back from the device holds, if any.
    pub fn error(&self, words: &[u32]) -> Option<String> {
        let w = |i: usize| words.get(i).copied().unwrap_or(0);
        if w(0) == 0 {
            return None;
        }
        let site = (w(1) as usize)
            .checked_sub(1)
            .and_then(|i| self.sites.get(i));
        Some(match site {
            Some(s) => {
                let v = match (s.wide, s.signed) {
                    (true, true) => ((w(3) as u64) << 32 | w(2) as u64) as i64,
                    (true, false) => {
                        (((w(3) as u64) << 32 | w(2) as u64).min(i64::MAX as u64)) as i64
                    }
                    (false, true) => w(2) as i32 as i64,
                    (false, false) => w(2) as i64,
                };
                format!(
                    "kernel @{}: {}",
                    s.kernel,
                    gather_error(s.axis, v, s.dim, s.slice)
                )
            }
            None => "a gather index is out of range (unknown fault site)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_to_the_interpreters_message() {
        let mut f = Faults::default();
        let site = |signed, wide| FaultSite {
            kernel: "k1".into(),
            axis: 1,
            dim: 37,
            slice: 1,
            signed,
            wide,
        };
        let a = f.add(site(true, false));
        let b = f.add(site(true, true));
        let c = f.add(site(false, false));
        assert_eq!(f.error(&[0, a, 5, 0]), None);
        assert_eq!(
            f.error(&[1, a, (-38i32) as u32, 0]).unwrap(),
            "kernel @k1: index along axis 1 -38 is out of range for axis size 37"
        );
        let v = -(1i64 << 40);
        assert!(f
            .error(&[1, b, v as u64 as u32, ((v as u64) >> 32) as u32])
            .unwrap()
            .contains(&format!(" {v} is out of range")));
        assert!(f
            .error(&[1, c, u32::MAX, 0])
            .unwrap()
            .contains(" 4294967295 is"));
    }
}
