//! `MultiOptimizer`: different optimizers for different parameters, chosen
//! by predicates on the parameter's dotted path and gradient (MLX's
//! `MultiOptimizer`). Its state is `{"states": [state of each optimizer]}`.

use super::Optimizer;
use crate::array::Array;
use crate::error::Error;
use crate::tree::{Dict, Nest};
use crate::utils::{tree_flatten, tree_merge, tree_unflatten};
use std::sync::Arc;

/// A predicate on a parameter's path (`"layers.0.weight"`) and gradient.
pub type Filter = Arc<dyn Fn(&str, &Array) -> bool + Send + Sync>;

/// Delegates each gradient to the first optimizer whose filter accepts it;
/// the last optimizer takes the rest and has no filter.
pub struct MultiOptimizer {
    optimizers: Vec<Box<dyn Optimizer>>,
    filters: Vec<Filter>,
}

impl MultiOptimizer {
    /// `filters` must have one entry fewer than `optimizers`.
    pub fn new(
        optimizers: Vec<Box<dyn Optimizer>>,
        filters: Vec<Filter>,
    ) -> Result<MultiOptimizer, Error> {
        if optimizers.is_empty() || filters.len() + 1 != optimizers.len() {
            return Err(Error::new(
                "MultiOptimizer",
                format!(
                    "Given {} filters but {} needed.",
                    filters.len(),
                    optimizers.len().saturating_sub(1)
                ),
            ));
        }
        Ok(MultiOptimizer {
            optimizers,
            filters,
        })
    }

    /// The optimizers, in order.
    pub fn optimizers(&self) -> &[Box<dyn Optimizer>] {
        &self.optimizers
    }

    /// MLX's `_split_dictionary`: one tree per optimizer (an empty map
    /// where an optimizer gets nothing).
    fn split(&self, grads: &Nest) -> Result<Vec<Nest>, Error> {
        if self.optimizers.len() == 1 {
            return Ok(vec![grads.clone()]);
        }
        let mut parts: Vec<Vec<(String, Array)>> = vec![Vec::new(); self.optimizers.len()];
        for (k, g) in tree_flatten(grads) {
            let i = self
                .filters
                .iter()
                .position(|f| f(&k, &g))
                .unwrap_or(self.optimizers.len() - 1);
            parts[i].push((k, g));
        }
        parts
            .into_iter()
            .map(|p| {
                if p.is_empty() {
                    Ok(Nest::empty())
                } else {
                    tree_unflatten(p)
                }
            })
            .collect()
    }

    fn states_of(state: &Nest, n: usize) -> Result<Vec<Nest>, Error> {
        match state.get("states") {
            Some(Nest::List(l)) if l.len() == n => Ok(l.clone()),
            _ => Err(Error::new("MultiOptimizer", "Invalid state provided")),
        }
    }
}

fn states_nest(states: Vec<Nest>) -> Nest {
    Nest::Dict(Dict::from_iter([("states", Nest::List(states))]))
}

impl Optimizer for MultiOptimizer {
    fn state(&self) -> Nest {
        states_nest(self.optimizers.iter().map(|o| o.state()).collect())
    }
    fn set_state(&mut self, state: Nest) -> Result<(), Error> {
        let states = Self::states_of(&state, self.optimizers.len())?;
        for (o, s) in self.optimizers.iter_mut().zip(states) {
            o.set_state(s)?;
        }
        Ok(())
    }
    fn init_state(&self, params: &Nest) -> Result<Nest, Error> {
        let parts = self.split(params)?;
        let states = self
            .optimizers
            .iter()
            .zip(&parts)
            .map(|(o, p)| o.init_state(p))
            .collect::<Result<_, _>>()?;
        Ok(states_nest(states))
    }
    fn apply_gradients(
        &self,
        grads: &Nest,
        params: &Nest,
        state: &Nest,
    ) -> Result<(Nest, Nest), Error> {
        let states = Self::states_of(state, self.optimizers.len())?;
        let parts = self.split(grads)?;
        let mut tree = Nest::empty();
        let mut new_states = Vec::with_capacity(states.len());
        for ((o, g), s) in self.optimizers.iter().zip(&parts).zip(&states) {
            let (p, s) = o.apply_gradients(g, params, s)?;
            tree = tree_merge(&tree, &p, None)?;
            new_states.push(s);
        }
        Ok((tree, states_nest(new_states)))
    }
    fn set_learning_rate(&mut self, lr: f64) -> Result<(), Error> {
        for o in &mut self.optimizers {
            o.set_learning_rate(lr)?;
        }
        Ok(())
    }
    /// The first optimizer's learning rate, as in MLX.
    fn learning_rate(&self) -> Option<Array> {
        self.optimizers.first()?.learning_rate()
    }
    fn step(&self) -> Option<Array> {
        self.optimizers.first()?.step()
    }
}
