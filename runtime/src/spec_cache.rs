//! Compiled specializations of one function, keyed by argument types: the
//! cache behind every backend's executable (CPU, CUDA, wgpu).

use crate::interp::RuntimeError;
use psionic_ir::TensorType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Map<T> = HashMap<Vec<TensorType>, Arc<T>>;

/// One compiled value per list of argument types, built on first use.
pub struct SpecCache<T> {
    map: Mutex<Map<T>>,
}

impl<T> Default for SpecCache<T> {
    fn default() -> Self {
        SpecCache {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> SpecCache<T> {
    /// The entry for `types`, from `compile` the first time. The lock is
    /// not held while compiling: two threads asking for the same new
    /// types both compile, and the first insert wins.
    pub fn get_or_compile(
        &self,
        types: &[TensorType],
        compile: impl FnOnce() -> Result<T, RuntimeError>,
    ) -> Result<Arc<T>, RuntimeError> {
        if let Some(c) = self.lock()?.get(types) {
            return Ok(c.clone());
        }
        let c = Arc::new(compile()?);
        Ok(self.lock()?.entry(types.to_vec()).or_insert(c).clone())
    }
    /// Number of specializations compiled so far.
    pub fn len(&self) -> usize {
        self.map.lock().map(|c| c.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Map<T>>, RuntimeError> {
        self.map.lock().map_err(|_| RuntimeError {
            op_index: None,
            op_name: None,
            loc: Default::default(),
            message: "compile cache poisoned".into(),
        })
    }
}
