//! Per-slice time of the web page's engine, natively: the same [`Engine`], placeholder model,
//! warm-up and requests as the page's worker, on the CPU backend. Its figures are the native
//! side of the browser-against-native comparison (the browser's come from the page's batch
//! table or `tests/web/run.sh`).
//!
//! `cargo run --release --example engine_bench -- [--runs N] SLICE.png...`
//!
//! Natively the CPU backend uses every core; `RAYON_NUM_THREADS=1` gives the single-thread
//! figure the page's one worker corresponds to.

use ct_mask_net::backend;
use ct_mask_net::engine::{Engine, Reply, Request};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 3;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(runs);
        args.drain(i..(i + 2).min(args.len()));
    }
    if args.is_empty() {
        eprintln!("usage: engine_bench [--runs N] SLICE.png...");
        std::process::exit(2);
    }

    let mut engine = Engine::new(backend::cpu(), "CPU (native)");
    match pollster::block_on(engine.handle(Request::UsePlaceholder)) {
        Reply::ModelReady(info) => println!("model: {}", info.label),
        other => panic!("placeholder: {other:?}"),
    }
    match pollster::block_on(engine.handle(Request::WarmUp)) {
        Reply::WarmedUp { ms } => println!("warm-up: {ms:.0} ms"),
        other => panic!("warm-up: {other:?}"),
    }
    for path in &args {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let request = Request::Analyse {
                name: path.clone(),
                bytes: bytes.clone(),
                window: "lung".into(),
            };
            match pollster::block_on(engine.handle(request)) {
                Reply::Analysed(slice) => times.push(slice.total_ms),
                other => panic!("{path}: {other:?}"),
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{path}: median {:.0} ms per slice over {runs} runs (min {:.0}, max {:.0})",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
}
