//! Numeric ranges of many rules, queried by one number: a segment tree over the elementary
//! pieces cut by all bounds (each bound value, and the open gaps between them), so a query costs
//! O(log n) plus the ranges that contain the number.

use crate::pattern::Range;

use super::levels::Static;

#[derive(Debug)]
pub(crate) struct NumTree {
    bounds: Vec<f64>,
    /// Bottom-up segment tree over `pieces` leaves; node lists hold targets.
    nodes: Vec<Vec<u32>>,
    pieces: usize,
}

impl NumTree {
    /// The piece of `x`: odd `2k+1` is exactly `bounds[k]`, even `2k` the gap below it.
    fn piece(&self, x: f64) -> usize {
        let k = self.bounds.partition_point(|b| *b < x);
        if k < self.bounds.len() && self.bounds[k] == x {
            2 * k + 1
        } else {
            2 * k
        }
    }

    fn index(&self, v: f64) -> usize {
        self.bounds.partition_point(|b| *b < v)
    }

    pub(crate) fn collect(&self, x: f64, out: &mut Vec<u32>) {
        if self.pieces == 0 {
            return;
        }
        let mut i = self.piece(x) + self.pieces;
        while i >= 1 {
            out.extend_from_slice(&self.nodes[i]);
            i >>= 1;
        }
    }
}

impl Static for NumTree {
    type Item = (Range, u32);

    fn build(items: &[(Range, u32)]) -> NumTree {
        let mut bounds: Vec<f64> = items
            .iter()
            .flat_map(|(r, _)| [r.lower.map(|b| b.0), r.upper.map(|b| b.0)])
            .flatten()
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let pieces = 2 * bounds.len() + 1;
        let mut tree = NumTree {
            bounds,
            nodes: vec![Vec::new(); 2 * pieces],
            pieces,
        };
        for (range, target) in items {
            let lo = match range.lower {
                None => 0,
                Some((v, true)) => 2 * tree.index(v) + 1,
                Some((v, false)) => 2 * tree.index(v) + 2,
            };
            let hi = match range.upper {
                None => pieces - 1,
                Some((v, true)) => 2 * tree.index(v) + 1,
                Some((v, false)) => 2 * tree.index(v),
            };
            if lo > hi {
                continue;
            }
            let (mut l, mut r) = (lo + pieces, hi + pieces + 1);
            while l < r {
                if l & 1 == 1 {
                    tree.nodes[l].push(*target);
                    l += 1;
                }
                if r & 1 == 1 {
                    r -= 1;
                    tree.nodes[r].push(*target);
                }
                l >>= 1;
                r >>= 1;
            }
        }
        tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lower: Option<(f64, bool)>, upper: Option<(f64, bool)>) -> Range {
        Range { lower, upper }
    }

    #[test]
    fn agrees_with_range_contains() {
        let ranges = [
            r(Some((0.0, false)), Some((5.0, true))),
            r(None, Some((10.0, false))),
            r(Some((5.0, true)), Some((5.0, true))),
            r(Some((-3.5, true)), None),
            r(Some((5.0, false)), None),
        ];
        let items: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(i, r)| (*r, i as u32))
            .collect();
        let tree = NumTree::build(&items);
        for x in [-10.0, -3.5, -1.0, 0.0, 0.5, 5.0, 5.5, 10.0, 11.0, 1e300] {
            let mut got = Vec::new();
            tree.collect(x, &mut got);
            got.sort_unstable();
            let want: Vec<u32> = ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| r.contains(x))
                .map(|(i, _)| i as u32)
                .collect();
            assert_eq!(got, want, "x = {x}");
        }
    }
}
