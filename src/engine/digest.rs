//! The default weights' fingerprint: the page checks the file it downloads (or finds in the
//! browser's cache) against the SHA-256 recorded when this build was made, so a damaged or
//! foreign file is refused instead of silently used.

use sha2::{Digest, Sha256};

/// `weights/ct-mask-net-default.sha256` as committed: `<hex digest>  <file name>`.
const RECORD: &str = include_str!("../../weights/ct-mask-net-default.sha256");

/// The SHA-256 (64 lowercase hex digits) the default weights of this build must have.
pub fn expected_default_sha256() -> &'static str {
    RECORD.split_whitespace().next().unwrap_or_default()
}

/// SHA-256 of `bytes`, 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks that `bytes` are this build's default weights.
///
/// # Errors
/// A plain-words message naming both digests when they differ.
pub fn verify_default_weights(bytes: &[u8]) -> Result<(), String> {
    let found = sha256_hex(bytes);
    let expected = expected_default_sha256();
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "the default weights file is damaged or is not the one this page was built with \
             ({} bytes, SHA-256 {}… instead of {}…)",
            bytes.len(),
            &found[..12],
            &expected[..expected.len().min(12)]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_and_mismatches_are_refused() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(expected_default_sha256().len(), 64);
        let err = verify_default_weights(b"not the weights").unwrap_err();
        assert!(err.contains("damaged"), "{err}");
    }
}
