//! Container IDs as vouch makes them and as they are read back from disk.

/// The short form podman prints and names things by: the first 12
/// characters, or the whole string when it is shorter (an ID read from a
/// damaged or foreign state file is never sliced blindly).
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Whether `id` is an ID as vouch (and podman) make them: 64 lowercase hex.
pub fn is_full(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_never_panic() {
        let id = "ab".repeat(32);
        assert_eq!(short(&id), "abababababab");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("ééééééé"), "éééééé");
        assert_eq!(short("aéééééééé"), "aéééééééé");
        assert!(is_full(&id) && !is_full("abc") && !is_full(&"AB".repeat(32)));
    }
}
