//! The `/` fuzzy filter over up to millions of rows, fast enough to run on
//! every keystroke: one contiguous lowercase haystack, a cheap subsequence
//! pass (split over the cores) to find candidates, then fuzzy-matcher's
//! scores for ranking when the candidates are few enough to sort.

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

/// Above this many candidates, results keep list order instead of score
/// order: ranking a million near-identical matches helps nobody.
pub const RANK_LIMIT: usize = 20_000;

/// Searchable text of every row, in list order.
#[derive(Clone, Default)]
pub struct Haystack {
    text: Vec<u8>,
    ends: Vec<u32>,
}

impl Haystack {
    /// Adds one row's fields (joined with spaces, lowercased).
    pub fn push(&mut self, fields: &[&str]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.text.push(b' ');
            }
            self.text.extend(f.bytes().map(|b| b.to_ascii_lowercase()));
        }
        self.ends.push(self.text.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn row(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Row indices matching `query`, best first (or in list order when
    /// there are more than `RANK_LIMIT`). `within` narrows a previous
    /// result when the query only grew.
    pub fn search(&self, query: &str, within: Option<&[u32]>) -> Vec<u32> {
        let q: Vec<u8> = query.bytes().filter(|b| !b.is_ascii_whitespace()).map(|b| b.to_ascii_lowercase()).collect();
        if q.is_empty() {
            return (0..self.len() as u32).collect();
        }
        let candidates = match within {
            Some(prev) => prev.iter().copied().filter(|&i| subsequence(&q, self.row(i as usize))).collect(),
            None => self.scan(&q),
        };
        if candidates.len() > RANK_LIMIT {
            return candidates;
        }
        let matcher = SkimMatcherV2::default();
        let query = String::from_utf8_lossy(&q).into_owned();
        let mut scored: Vec<(i64, u32)> = candidates
            .into_iter()
            .filter_map(|i| {
                let row = String::from_utf8_lossy(self.row(i as usize));
                matcher.fuzzy_match(&row, &query).map(|s| (s, i))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, i)| i).collect()
    }

    /// The subsequence pass over every row, split across two threads.
    fn scan(&self, q: &[u8]) -> Vec<u32> {
        let n = self.len();
        if n < 50_000 {
            return (0..n as u32).filter(|&i| subsequence(q, self.row(i as usize))).collect();
        }
        let mid = n / 2;
        std::thread::scope(|s| {
            let upper = s.spawn(|| (mid as u32..n as u32).filter(|&i| subsequence(q, self.row(i as usize))).collect::<Vec<u32>>());
            let mut lower: Vec<u32> = (0..mid as u32).filter(|&i| subsequence(q, self.row(i as usize))).collect();
            lower.extend(upper.join().unwrap_or_default());
            lower
        })
    }
}

/// Whether `q` appears in order (not necessarily adjacent) in `hay`.
fn subsequence(q: &[u8], hay: &[u8]) -> bool {
    let mut qi = 0;
    for &b in hay {
        if b == q[qi] {
            qi += 1;
            if qi == q.len() {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_people_by_fragments_best_first() {
        let mut h = Haystack::default();
        h.push(&["ada.lovelace@example.com", "hn"]);
        h.push(&["bob@example.org", "producthunt"]);
        h.push(&["adam@acme.io", "redeem:ph"]);
        assert_eq!(h.search("", None), vec![0, 1, 2]);
        assert_eq!(h.search("ada", None)[0], 0);
        assert_eq!(h.search("ADA", None).len(), 2);
        assert_eq!(h.search("acme", None)[0], 2, "the tight match ranks first");
        assert_eq!(h.search("producthunt", None), vec![1]);
        assert!(h.search("zzz", None).is_empty());
        let first = h.search("ad", None);
        let narrowed = h.search("adam", Some(&first));
        assert_eq!(narrowed[0], 2);
        assert!(narrowed.iter().all(|i| first.contains(i)));
    }
}
