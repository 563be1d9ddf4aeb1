//! Static indexes that still take inserts: the logarithmic method (Bentley and Saxe). Items live
//! in levels of doubling size, each a structure built once; an insert builds a one-item level and
//! merges equal-sized neighbours, so an insert costs O(log² n) amortised and a query asks
//! O(log n) levels. Used where the good structure is static: numeric intervals (a segment tree)
//! and floating wildcards (an Aho-Corasick automaton).

/// A structure built once from its items.
pub(crate) trait Static: Sized + std::fmt::Debug {
    type Item: Clone + std::fmt::Debug;
    fn build(items: &[Self::Item]) -> Self;
}

#[derive(Debug)]
pub(crate) struct Levels<S: Static> {
    levels: Vec<(Vec<S::Item>, S)>,
}

impl<S: Static> Default for Levels<S> {
    fn default() -> Self {
        Levels { levels: Vec::new() }
    }
}

impl<S: Static> Levels<S> {
    pub(crate) fn insert(&mut self, item: S::Item) {
        let mut items = vec![item];
        while let Some((last, _)) = self.levels.last() {
            if last.len() > items.len() {
                break;
            }
            if let Some((mut older, _)) = self.levels.pop() {
                older.extend(items);
                items = older;
            }
        }
        let built = S::build(&items);
        self.levels.push((items, built));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub(crate) fn levels(&self) -> impl Iterator<Item = &(Vec<S::Item>, S)> {
        self.levels.iter()
    }
}
