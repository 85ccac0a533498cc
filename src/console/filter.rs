//! The `/` fuzzy filter over up to millions of rows, fast enough to run on
//! every keystroke: one contiguous lowercase haystack, a cheap subsequence
//! pass (split over the cores) to find candidates, then fuzzy-matcher's
//! scores for ranking when the candidates are few enough to sort.

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

/// Above this many candidates, results keep list order instead of score
/// order: ranking a million near-identical matches helps nobody.
pub const RANK_LIMIT: usize = 20_000;

/// Searchable text of every row, with the key that orders the list
/// (newest first: the higher key first).
#[derive(Clone, Default)]
pub struct Haystack {
    text: Vec<u8>,
    /// Start and end of each row's text in `text`.
    spans: Vec<(u32, u32)>,
    keys: Vec<i64>,
    /// Bytes of `text` no row points at any more (rows that grew moved).
    garbage: usize,
}

/// One row's searchable text: its fields lowercased, joined with spaces.
fn encode(fields: &[&str], out: &mut Vec<u8>) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend(f.bytes().map(|b| b.to_ascii_lowercase()));
    }
}

/// A query as the search compares it: lowercase, without spaces.
pub(crate) fn needle(query: &str) -> Vec<u8> {
    query.bytes().filter(|b| !b.is_ascii_whitespace()).map(|b| b.to_ascii_lowercase()).collect()
}

impl Haystack {
    /// Adds one row's fields (joined with spaces, lowercased).
    pub fn push(&mut self, key: i64, fields: &[&str]) {
        let start = self.text.len() as u32;
        encode(fields, &mut self.text);
        self.spans.push((start, self.text.len() as u32));
        self.keys.push(key);
    }

    /// Replaces row `i`'s text (a changed row: its status, its codes): in
    /// place when it fits, else at the end; compacted when half is stale.
    pub fn replace(&mut self, i: usize, fields: &[&str]) {
        let (start, end) = self.spans[i];
        let mut row = Vec::new();
        encode(fields, &mut row);
        let old = (end - start) as usize;
        if row.len() <= old {
            self.text[start as usize..start as usize + row.len()].copy_from_slice(&row);
            self.garbage += old - row.len();
            self.spans[i] = (start, start + row.len() as u32);
        } else {
            let at = self.text.len() as u32;
            self.text.extend_from_slice(&row);
            self.garbage += old;
            self.spans[i] = (at, self.text.len() as u32);
        }
        if self.garbage > self.text.len() / 2 {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut text = Vec::with_capacity(self.text.len() - self.garbage);
        for span in &mut self.spans {
            let start = text.len() as u32;
            text.extend_from_slice(&self.text[span.0 as usize..span.1 as usize]);
            *span = (start, text.len() as u32);
        }
        self.text = text;
        self.garbage = 0;
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn row(&self, i: usize) -> &[u8] {
        let (start, end) = self.spans[i];
        &self.text[start as usize..end as usize]
    }

    /// Whether row `i` matches `query`: what `search` would keep (the
    /// byte pass, then the matcher's own verdict, as for ranking).
    pub fn matches(&self, i: usize, query: &str) -> bool {
        let q = needle(query);
        if q.is_empty() {
            return true;
        }
        subsequence(&q, self.row(i))
            && SkimMatcherV2::default()
                .fuzzy_match(&String::from_utf8_lossy(self.row(i)), &String::from_utf8_lossy(&q))
                .is_some()
    }

    /// Row indices matching `query`, best first (or in list order when
    /// there are more than `RANK_LIMIT`); every row in list order for an
    /// empty query. `within` narrows a previous result when the query
    /// only grew.
    pub fn search(&self, query: &str, within: Option<&[u32]>) -> Vec<u32> {
        let q = needle(query);
        if q.is_empty() {
            return self.in_list_order((0..self.len() as u32).collect());
        }
        let all: Vec<u32>;
        let rows = match within {
            Some(prev) => prev,
            None => {
                all = (0..self.len() as u32).collect();
                &all
            }
        };
        let candidates = self.keep_matching(&q, rows);
        if candidates.len() > RANK_LIMIT {
            return self.in_list_order(candidates);
        }
        let query = String::from_utf8_lossy(&q).into_owned();
        let score = |part: &[u32]| {
            let matcher = SkimMatcherV2::default();
            part.iter()
                .filter_map(|&i| {
                    let row = String::from_utf8_lossy(self.row(i as usize));
                    matcher.fuzzy_match(&row, &query).map(|s| (s, i))
                })
                .collect::<Vec<(i64, u32)>>()
        };
        // Scoring is the dearest step per row: two threads when it is worth it.
        let mut scored = if candidates.len() < 4_000 {
            score(&candidates)
        } else {
            let (lower, upper) = candidates.split_at(candidates.len() / 2);
            std::thread::scope(|s| {
                let upper = s.spawn(|| score(upper));
                let mut found = score(lower);
                found.extend(upper.join().unwrap_or_default());
                found
            })
        };
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(self.keys[b.1 as usize].cmp(&self.keys[a.1 as usize])));
        scored.into_iter().map(|(_, i)| i).collect()
    }

    /// Newest first. Rows are mostly pushed in that order, with late
    /// arrivals at the end: two runs, which the sort merges in linear time.
    fn in_list_order(&self, mut rows: Vec<u32>) -> Vec<u32> {
        rows.sort_by_key(|&i| std::cmp::Reverse(self.keys[i as usize]));
        rows
    }

    /// The subsequence pass over `rows` (every row, or the previous
    /// answer when the query only grew), split across two threads when
    /// there are many: the first keystrokes narrow a million rows.
    fn keep_matching(&self, q: &[u8], rows: &[u32]) -> Vec<u32> {
        let keep =
            |part: &[u32]| part.iter().copied().filter(|&i| subsequence(q, self.row(i as usize))).collect::<Vec<u32>>();
        if rows.len() < 50_000 {
            return keep(rows);
        }
        let (lower, upper) = rows.split_at(rows.len() / 2);
        std::thread::scope(|s| {
            let upper = s.spawn(|| keep(upper));
            let mut found = keep(lower);
            found.extend(upper.join().unwrap_or_default());
            found
        })
    }
}

/// Whether `q` appears in order (not necessarily adjacent) in `hay`:
/// the one matcher every view's filter uses.
pub fn subsequence(q: &[u8], hay: &[u8]) -> bool {
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
        h.push(3, &["ada.lovelace@example.com", "hn"]);
        h.push(2, &["bob@example.org", "producthunt"]);
        h.push(1, &["adam@acme.io", "redeem:ph"]);
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

    #[test]
    fn a_changed_row_is_found_by_its_new_text_and_late_rows_list_first() {
        let mut h = Haystack::default();
        h.push(20, &["grace@example.com", "confirmed"]);
        h.push(10, &["linus@example.com", "confirmed"]);
        // A late arrival: newer than everything, pushed last.
        h.push(30, &["late.arrival@example.com", "pending"]);
        assert_eq!(h.search("", None), vec![2, 0, 1], "newest first whatever the push order");
        assert_eq!(h.search("example", None), vec![2, 0, 1]);
        h.replace(1, &["linus@example.com", "approved"]);
        assert_eq!(h.search("approved", None), vec![1]);
        assert!(h.matches(1, "approved") && !h.matches(1, "confirmed"));
        h.replace(0, &["grace@example.com", "invited", "k7qp", "hn-launch"]);
        assert_eq!(h.search("k7qp", None), vec![0], "grown rows move and stay findable");
        for round in 0..50 {
            h.replace(2, &["late.arrival@example.com", if round % 2 == 0 { "a much longer status text" } else { "x" }]);
        }
        assert!(h.garbage <= h.text.len() / 2, "stale text is compacted");
        assert_eq!(h.search("late", None), vec![2]);
        assert_eq!(h.search("k7qp", None), vec![0]);
    }
}
