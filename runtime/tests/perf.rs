//! Linear-time guard: large ops must stay well under a second in a release
//! build. Ignored by default (debug builds are slower); run with
//! `cargo test -p psionic-runtime --release --test perf -- --ignored`.

mod common;
use common::*;
use psionic_ir::{Attr, DType, Literal, Opcode::*};
use std::time::{Duration, Instant};

/// CPU time of this thread (Linux), which a busy shared machine does not
/// inflate the way it inflates wall time; `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `f`, prints wall and CPU time, and checks the CPU time against
/// `limit` when given.
fn timed(what: &str, limit: Option<Duration>, f: impl FnOnce() -> Literal) -> Literal {
    let (t, c) = (Instant::now(), thread_cpu());
    let r = f();
    let wall = t.elapsed();
    let cpu = c
        .and_then(|c0| thread_cpu().map(|c1| c1 - c0))
        .unwrap_or(wall);
    eprintln!("{what}: cpu {cpu:?}, wall {wall:?}");
    if let Some(limit) = limit {
        assert!(cpu < limit, "{what} took {cpu:?} of CPU");
    }
    r
}

const SECOND: Option<Duration> = Some(Duration::from_secs(1));

#[test]
#[ignore]
fn large_ops_are_fast_in_release() {
    let n = 4096;
    let x = Literal::f32s(vec![n, n], &vec![1.0f32; n * n]).unwrap();
    for axes in [vec![0], vec![1], vec![0, 1]] {
        let r = timed(&format!("reduce_sum {n}x{n} axes {axes:?}"), SECOND, || {
            op(ReduceSum, &[("axes", Attr::Ints(axes.clone()))], &[&x])
        });
        let want = if axes.len() == 2 {
            (n * n) as f64
        } else {
            n as f64
        };
        assert_eq!(r.get_f64(0), want);
    }
    timed("reduce_max 4096x4096 axis 0", SECOND, || {
        op(ReduceMax, &[("axes", Attr::Ints(vec![0]))], &[&x])
    });
    timed("transpose 4096x4096", None, || {
        op(Transpose, &[("perm", ints_attr(&[1, 0]))], &[&x])
    });
    timed("exp 4096x4096", None, || op(Exp, &[], &[&x]));
    timed("add 4096x4096", None, || op(Add, &[], &[&x, &x]));
    timed("cumsum 4096x4096 axis 0", None, || {
        op(Cumsum, &[("axis", Attr::Int(0))], &[&x])
    });
    let i = ints(DType::I32, &[n, n], &vec![3; n * n]);
    timed("reduce_sum i32 4096x4096", SECOND, || {
        op(ReduceSum, &[("axes", Attr::Ints(vec![0, 1]))], &[&i])
    });
    let m = 512;
    let a = Literal::f32s(vec![m, m], &vec![0.5f32; m * m]).unwrap();
    let c = timed("matmul 512^3", SECOND, || op(Matmul, &[], &[&a, &a]));
    assert_eq!(c.get_f64(0), 128.0);
    let s = Literal::f32s(
        vec![1 << 20],
        &(0..1 << 20)
            .map(|i| ((i * 7919) % 1000) as f32)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    timed("sort 1M", None, || {
        op(Sort, &[("axis", Attr::Int(0))], &[&s])
    });
}
