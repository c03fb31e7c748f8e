//! A mutation fuzzer for the input readers: slice decoding (PNG, JPEG, DICOM) and the
//! checkpoint reader. Seeds are the bad-input corpus and small good files made here; each
//! round flips, inserts, deletes or overwrites bytes of a seed (seeded SplitMix, so a run can be
//! repeated) and feeds the result to `decode_slice` or `read_checkpoint`, catching panics.
//! Not coverage-guided (no nightly toolchain or libFuzzer here); it finds panics and hangs on
//! inputs near the seeds.
//!
//! Run: `cargo run --release --example fuzz_inputs -- [SECONDS] [SEED]` (default 60 s, seed 1);
//! `-- --replay FILE...` decodes saved inputs again and prints the time and the outcome.
//! Prints rounds per target, every input that panicked (written to /tmp/fuzz-crash-*) and every
//! input that took over a second (/tmp/fuzz-slow-*).

#[path = "../tests/support/bad_inputs.rs"]
mod bad_inputs;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use ct_mask_net::model::SplitMix;

fn mutate(seed: &[u8], rng: &mut SplitMix) -> Vec<u8> {
    let mut v = seed.to_vec();
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        let len = v.len();
        match rng.below(5) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = [0x00, 0xFF, 0x7F, 0x80][rng.below(4)];
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if len > 1 => {
                let i = rng.below(len);
                let n = (1 + rng.below(64)).min(len - i);
                v.drain(i..i + n);
            }
            _ if len > 4 => {
                // Overwrite a 4-byte field with a large or edge value (sizes, offsets, counts).
                let i = rng.below(len - 3);
                let value: u32 = [0, 1, 0xFFFF, 0xFFFF_FFFF, 0x7FFF_FFFF, 65_536][rng.below(6)];
                v[i..i + 4].copy_from_slice(&value.to_le_bytes());
            }
            _ => {}
        }
    }
    v
}

/// `--replay FILE...`: decodes each file as a slice (as a checkpoint when its name says
/// `checkpoint`, as the fuzzer names them), printing the time and the outcome.
fn replay(files: &[String]) {
    for file in files {
        let bytes = std::fs::read(file).expect("a readable file");
        let started = Instant::now();
        if file.contains("checkpoint") {
            let outcome = ct_mask_net::importer::read_checkpoint(&bytes);
            let took = started.elapsed().as_secs_f64() * 1e3;
            match outcome {
                Ok(c) => println!("{file}: {took:.1} ms, read {} tensors", c.weights.tensors.len()),
                Err(e) => println!("{file}: {took:.1} ms, refused: {e}"),
            }
            continue;
        }
        let outcome = ct_mask_net::imaging::decode_slice(&bytes);
        let took = started.elapsed().as_secs_f64() * 1e3;
        match outcome {
            Ok(image) => println!("{file}: {took:.1} ms, decoded {}x{}", image.width(), image.height()),
            Err(e) => println!("{file}: {took:.1} ms, refused: {e}"),
        }
    }
}

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().map(String::as_str) == Some("--replay") {
        replay(&all[1..]);
        return;
    }
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    std::panic::set_hook(Box::new(|_| {}));

    let corpus = bad_inputs::corpus();
    let mut slices: Vec<Vec<u8>> = corpus
        .iter()
        .filter(|c| c.used_as == bad_inputs::Use::Slice)
        .map(|c| c.bytes.clone())
        .collect();
    let mut weights: Vec<Vec<u8>> = corpus
        .iter()
        .filter(|c| c.used_as == bad_inputs::Use::Weights)
        .map(|c| c.bytes.clone())
        .collect();
    slices.push(bad_inputs::good_png());
    slices.push(bad_inputs::good_jpeg());
    slices.push(bad_inputs::good_dicom());
    for fixture in ["legacy_authors_layout.pth", "zip_authors_layout.pth"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/checkpoints")
            .join(fixture);
        weights.push(std::fs::read(path).expect("test checkpoint fixture"));
    }

    let mut rng = SplitMix::new(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut slice_rounds, mut weight_rounds, mut crashes, mut slow) = (0u64, 0u64, 0u64, 0u64);
    let mut slowest = (Duration::ZERO, String::new());
    while Instant::now() < deadline {
        let on_slices = rng.below(2) == 0;
        let pool = if on_slices { &slices } else { &weights };
        let input = mutate(&pool[rng.below(pool.len())], &mut rng);
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if on_slices {
                let _ = ct_mask_net::imaging::decode_slice(&input);
            } else {
                let _ = ct_mask_net::importer::read_checkpoint(&input);
            }
        }));
        let took = started.elapsed();
        let target = if on_slices { "slice" } else { "checkpoint" };
        if took > slowest.0 {
            slowest = (took, format!("{target} input of {} bytes", input.len()));
        }
        if took > Duration::from_secs(1) {
            slow += 1;
            let path = format!("/tmp/fuzz-slow-{target}-{slow}.bin");
            let _ = std::fs::write(&path, &input);
            println!("SLOW ({:.1} s) in the {target} reader: input written to {path}", took.as_secs_f64());
        }
        if on_slices {
            slice_rounds += 1;
        } else {
            weight_rounds += 1;
        }
        if outcome.is_err() {
            crashes += 1;
            let path = format!("/tmp/fuzz-crash-{target}-{crashes}.bin");
            let _ = std::fs::write(&path, &input);
            println!("PANIC in the {target} reader: input written to {path}");
        }
    }
    println!(
        "{seconds} s, seed {seed}: {slice_rounds} slice inputs, {weight_rounds} checkpoint inputs, \
         {crashes} panics, {slow} inputs over 1 s; slowest {:.1} ms ({})",
        slowest.0.as_secs_f64() * 1e3,
        slowest.1
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
