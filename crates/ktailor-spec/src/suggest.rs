//! "Did you mean ..." suggestions by edit distance.

/// The candidate closest to `name` (case-insensitive Levenshtein distance
/// at most a third of the name's length), if any.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let n = name.to_ascii_lowercase();
    let limit = (n.len() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = distance(&n, &c.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_near_names_only() {
        let c = ["virtio-guest", "ninep", "container-host"];
        assert_eq!(
            super::closest("virtio-guset", c.iter().copied()).as_deref(),
            Some("virtio-guest")
        );
        assert_eq!(super::closest("zzz", c.iter().copied()), None);
    }
}
