//! "Did you mean" suggestions: the closest known name by edit distance.

/// The candidate nearest to `word` (case-insensitively), if it is close:
/// same letters in another case, or at most two edits for longer words.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d == 0 || (*d <= 2 && c.len() > 3 && *d < word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes.
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names() {
        assert_eq!(closest("Type", &["type", "keyType"]), Some("type"));
        assert_eq!(closest("dokcer", &["docker", "dir"]), Some("docker"));
        assert_eq!(closest("keyPth", &["keyPath", "keyPaths"]), Some("keyPath"));
        assert_eq!(closest("zzz", &["docker"]), None);
    }
}
