//! vmap as a named pass (`psionic opt --pass 'vmap{in_axes=0:none,out_axes=0,size=3}'`).
//! Lists are separated by `:`; defaults: axis 0 for every input and output,
//! symbolic batch size.

use super::vmap_with_size;
use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use psionic_ir::Func;

struct VmapPass {
    in_axes: Option<Vec<Option<i64>>>,
    out_axes: Option<Vec<i64>>,
    size: Option<i64>,
}

fn parse_axes(key: &str, v: &str) -> Result<Vec<Option<i64>>, String> {
    v.split(':')
        .map(|s| {
            let s = s.trim();
            if s == "none" || s == "None" {
                Ok(None)
            } else {
                s.parse::<i64>()
                    .map(Some)
                    .map_err(|_| format!("option `{key}`: `{s}` is not an axis or `none`"))
            }
        })
        .collect()
}

impl Pass for VmapPass {
    fn name(&self) -> &str {
        "vmap"
    }
    fn run(&self, func: &mut Func, _ctx: &PassContext) -> Result<PassStats, String> {
        let in_axes = self
            .in_axes
            .clone()
            .unwrap_or_else(|| vec![Some(0); func.params.len()]);
        let out_axes = self
            .out_axes
            .clone()
            .unwrap_or_else(|| vec![0; func.results.len()]);
        let mut g = vmap_with_size(func, &in_axes, &out_axes, self.size).map_err(|e| e.message)?;
        g.name = func.name.clone();
        *func = g;
        Ok(PassStats::default())
    }
}

pub fn create(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    o.expect_only("vmap", &["in_axes", "out_axes", "size"])?;
    let in_axes = o
        .get("in_axes")
        .map(|v| parse_axes("in_axes", v))
        .transpose()?;
    let out_axes = match o.get("out_axes") {
        None => None,
        Some(v) => Some(
            parse_axes("out_axes", v)?
                .into_iter()
                .map(|a| {
                    a.ok_or_else(|| "option `out_axes`: every output needs an axis".to_string())
                })
                .collect::<Result<Vec<i64>, String>>()?,
        ),
    };
    let size = match o.get("size") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|&s| s >= 0)
                .ok_or_else(|| format!("option `size`: `{v}` is not a batch size"))?,
        ),
    };
    Ok(Box::new(VmapPass {
        in_axes,
        out_axes,
        size,
    }))
}
