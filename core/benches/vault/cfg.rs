//! The configuration: workload sizes from the environment.

pub(crate) struct Cfg {
    pub(crate) quick: bool,
    /// Saves per store in workload 1, for Full and Normal durability.
    pub(crate) save_edits_full: usize,
    pub(crate) save_edits_normal: usize,
    /// Saves per store before switching to the next store (interleaving).
    pub(crate) block: usize,
    pub(crate) clients: usize,
    pub(crate) notes_per_client: usize,
    pub(crate) open_iters: usize,
    pub(crate) long_edits: usize,
    pub(crate) load_iters: usize,
    /// `None`: the whole trace.
    pub(crate) trace_ops: Option<usize>,
}

impl Cfg {
    pub(crate) fn from_env() -> Cfg {
        let quick = std::env::var("MEND_BENCH_QUICK").map(|v| v == "1").unwrap_or(false);
        let mut c = if quick {
            Cfg {
                quick,
                save_edits_full: 100,
                save_edits_normal: 200,
                block: 20,
                clients: 10,
                notes_per_client: 10,
                open_iters: 3,
                long_edits: 500,
                load_iters: 3,
                trace_ops: Some(2_000),
            }
        } else {
            Cfg {
                quick,
                save_edits_full: 1_000,
                save_edits_normal: 2_000,
                block: 50,
                clients: 100,
                notes_per_client: 100,
                open_iters: 15,
                long_edits: 5_000,
                load_iters: 10,
                trace_ops: Some(50_000),
            }
        };
        match std::env::var("MEND_BENCH_TRACE_OPS").as_deref() {
            Ok("all") => c.trace_ops = None,
            Ok(n) => {
                c.trace_ops = Some(n.parse().expect("MEND_BENCH_TRACE_OPS: a number or 'all'"))
            }
            Err(_) => {}
        }
        c
    }
}
