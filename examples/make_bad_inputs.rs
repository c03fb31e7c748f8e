//! Writes the bad-input corpus (`tests/support/bad_inputs.rs`) into
//! `tests/fixtures/bad-inputs/`, with `expected.tsv` (file, what it is for, words its error
//! must contain). Run: `cargo run --release --example make_bad_inputs`.

#[path = "../tests/support/bad_inputs.rs"]
mod bad_inputs;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad-inputs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create tests/fixtures/bad-inputs");
    let mut tsv = String::from("file\tused_as\texpected_words\n");
    let corpus = bad_inputs::corpus();
    for input in &corpus {
        std::fs::write(dir.join(input.name), &input.bytes).expect("write a corpus file");
        let used = match input.used_as {
            bad_inputs::Use::Slice => "slice",
            bad_inputs::Use::Weights => "weights",
        };
        tsv.push_str(&format!("{}\t{used}\t{}\n", input.name, input.expect));
    }
    std::fs::write(dir.join("expected.tsv"), tsv).expect("write expected.tsv");
    println!("wrote {} files to {}", corpus.len(), dir.display());
}
