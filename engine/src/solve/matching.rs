//! Bipartite b-matching by augmenting paths: left vertices are needs (each wants
//! one unit), right vertices are resources with a capacity (1 for an exclusive
//! provide or a reserved name, the free count of a pool region, unbounded for
//! shared provides and providers).
//!
//! Why augmenting paths and not first-fit: first-fit gives a need the first free
//! candidate and never revisits the choice, so it dead-ends when an earlier need
//! took the only candidate a later one could use. An augmenting path moves
//! earlier needs to other candidates instead. By Berge's theorem, if the needs
//! already matched plus the new one can all be matched, an augmenting path from
//! the new one exists and this search finds it; that is what makes the solver
//! exact. Matched needs are moved, never unmatched, by an augmentation.
//!
//! The search runs over resources, not needs: an edge r -> r2 exists when some
//! need matched to r could use r2 instead ("movers"). A breadth-first search
//! from the new need's candidates to a resource with free capacity is then an
//! augmenting path, and its cost depends on the number of resources (a few
//! dozen pools and provides), not on how many needs each pool serves. Movers are
//! recorded when a need is matched and dropped lazily when found stale.
//!
//! Preference: the new need takes its first candidate with free capacity (file
//! order); only when all are full does the search move others. Everything is
//! deterministic: lists are visited in insertion order.
//!
//! Shared: the solver builds one matcher per plan; fleet placement keeps one
//! per host and grows it need by need ([`Matcher::push_left`],
//! [`Matcher::pop_left`] to take back a container that does not fit), so a
//! host's pools are decided by this same code in both.

/// Capacity of a right vertex that any number of needs may share.
pub(crate) const UNBOUNDED: usize = usize::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    cap: Vec<usize>,
    assigned: Vec<Vec<u32>>,
    /// Per left: (right, position in `assigned[right]`).
    mate: Vec<Option<(u32, u32)>>,
    /// Adjacency, flat: left `l`'s right vertices are
    /// `adj_data[adj_at[l].0..adj_at[l].1]` (one allocation for all, and
    /// growing by a left vertex allocates nothing in steady state).
    adj_at: Vec<(u32, u32)>,
    adj_data: Vec<u32>,
    /// Per right r: (r2, needs that were matched to r and can use r2). Entries
    /// whose need has left r since are stale and skipped.
    movers: Vec<Vec<(u32, Vec<u32>)>>,
    seen: Vec<u32>,
    parent: Vec<(u32, u32)>,
    stamp: u32,
}

impl Matcher {
    /// `cap[r]` per right vertex; `adj[l]` lists left `l`'s right vertices in
    /// preference order.
    pub(crate) fn new(cap: Vec<usize>, adj: Vec<Vec<u32>>) -> Matcher {
        let nr = cap.len();
        let nl = adj.len();
        let mut adj_at = Vec::with_capacity(nl);
        let mut adj_data = Vec::with_capacity(adj.iter().map(Vec::len).sum());
        for a in &adj {
            let start = adj_data.len() as u32;
            adj_data.extend_from_slice(a);
            adj_at.push((start, adj_data.len() as u32));
        }
        Matcher {
            cap,
            assigned: vec![Vec::new(); nr],
            mate: vec![None; nl],
            adj_at,
            adj_data,
            movers: vec![Vec::new(); nr],
            seen: vec![0; nr],
            parent: vec![(0, 0); nr],
            stamp: 0,
        }
    }

    /// How many left vertices there are.
    pub(crate) fn lefts(&self) -> u32 {
        self.adj_at.len() as u32
    }

    /// Adds a left vertex (unmatched) with its right vertices in preference
    /// order; returns its index.
    pub(crate) fn push_left(&mut self, adj: &[u32]) -> u32 {
        let start = self.adj_data.len() as u32;
        self.adj_data.extend_from_slice(adj);
        self.adj_at.push((start, self.adj_data.len() as u32));
        self.mate.push(None);
        self.adj_at.len() as u32 - 1
    }

    /// Removes the last left vertex, unmatching it first, and forgets it as
    /// a mover (its index will be reused).
    pub(crate) fn pop_left(&mut self) {
        let l = self.adj_at.len() as u32 - 1;
        self.unmatch(l);
        let (lo, hi) = self.adj_at.pop().expect("a left vertex");
        self.mate.pop();
        for k in lo..hi {
            let r = self.adj_data[k as usize];
            for (_, list) in &mut self.movers[r as usize] {
                list.retain(|&x| x != l);
            }
        }
        self.adj_data.truncate(lo as usize);
    }

    /// Free capacity left on `r` (`UNBOUNDED` stays unbounded).
    pub(crate) fn free_slots(&self, r: u32) -> usize {
        self.cap[r as usize].saturating_sub(self.assigned[r as usize].len())
    }

    fn free(&self, r: u32) -> bool {
        self.assigned[r as usize].len() < self.cap[r as usize]
    }

    fn assign(&mut self, l: u32, r: u32) {
        let list = &mut self.assigned[r as usize];
        self.mate[l as usize] = Some((r, list.len() as u32));
        list.push(l);
        let (lo, hi) = self.adj_at[l as usize];
        for k in lo..hi {
            let r2 = self.adj_data[k as usize];
            if r2 == r || self.cap[r2 as usize] == 0 {
                continue;
            }
            let m = &mut self.movers[r as usize];
            match m.iter_mut().find(|(x, _)| *x == r2) {
                Some((_, v)) => v.push(l),
                None => m.push((r2, vec![l])),
            }
        }
    }

    /// Removes `l` from its resource, if matched.
    pub(crate) fn unmatch(&mut self, l: u32) {
        if let Some((r, pos)) = self.mate[l as usize].take() {
            let list = &mut self.assigned[r as usize];
            list.swap_remove(pos as usize);
            if let Some(&moved) = list.get(pos as usize) {
                self.mate[moved as usize] = Some((r, pos));
            }
        }
    }

    /// The resource `l` is matched to.
    pub(crate) fn mate(&self, l: u32) -> Option<u32> {
        self.mate[l as usize].map(|(r, _)| r)
    }

    /// `l`'s resources in preference order.
    pub(crate) fn adj(&self, l: u32) -> &[u32] {
        let (lo, hi) = self.adj_at[l as usize];
        &self.adj_data[lo as usize..hi as usize]
    }

    /// The needs matched to `r`.
    pub(crate) fn holders(&self, r: u32) -> &[u32] {
        &self.assigned[r as usize]
    }

    /// A need currently matched to `r` that can use `r2`, dropping stale entries.
    fn mover(&mut self, r: u32, k: usize) -> Option<u32> {
        let (_, list) = &mut self.movers[r as usize][k];
        while let Some(&l) = list.last() {
            if self.mate[l as usize].map(|(x, _)| x) == Some(r) {
                return Some(l);
            }
            list.pop();
        }
        None
    }

    /// Tries to match `root` (unmatched) without unmatching anyone. Returns
    /// whether it succeeded; on failure nothing changed.
    pub(crate) fn augment(&mut self, root: u32) -> bool {
        debug_assert!(self.mate[root as usize].is_none());
        if let Some(&r) = self.adj(root).iter().find(|&&r| self.free(r)) {
            self.assign(root, r);
            return true;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        let stamp = self.stamp;
        let mut queue = std::collections::VecDeque::new();
        let (lo, hi) = self.adj_at[root as usize];
        for i in lo..hi {
            let r = self.adj_data[i as usize];
            if self.seen[r as usize] != stamp {
                self.seen[r as usize] = stamp;
                self.parent[r as usize] = (u32::MAX, root);
                queue.push_back(r);
            }
        }
        while let Some(r) = queue.pop_front() {
            for k in 0..self.movers[r as usize].len() {
                let r2 = self.movers[r as usize][k].0;
                if self.seen[r2 as usize] == stamp {
                    continue;
                }
                let Some(l) = self.mover(r, k) else { continue };
                self.seen[r2 as usize] = stamp;
                self.parent[r2 as usize] = (r, l);
                if self.free(r2) {
                    self.shift(r2);
                    return true;
                }
                queue.push_back(r2);
            }
        }
        false
    }

    /// Walks the path back from the free resource `end`: each need moves into
    /// the resource after it, freeing a slot in its own for the one before.
    fn shift(&mut self, end: u32) {
        let mut r = end;
        loop {
            let (from, l) = self.parent[r as usize];
            self.unmatch(l);
            self.assign(l, r);
            if from == u32::MAX {
                return;
            }
            r = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_an_earlier_need_to_its_second_choice() {
        // need 0 prefers r0 but can use r1; need 1 can only use r0.
        let mut m = Matcher::new(vec![1, 1], vec![vec![0, 1], vec![0]]);
        assert!(m.augment(0));
        assert_eq!(m.mate(0), Some(0));
        assert!(m.augment(1));
        assert_eq!(m.mate(1), Some(0));
        assert_eq!(m.mate(0), Some(1));
    }

    #[test]
    fn long_chain_of_displacements() {
        // need i can use r_i and r_{i+1}; each prefers r_i; the last need only r_0.
        let n = 2000u32;
        let mut adj: Vec<Vec<u32>> = (0..n).map(|i| vec![i, i + 1]).collect();
        adj.push(vec![0]);
        let mut m = Matcher::new(vec![1; n as usize + 1], adj);
        for l in 0..=n {
            assert!(m.augment(l), "need {l}");
        }
        assert_eq!(m.mate(n), Some(0));
        assert_eq!(m.mate(0), Some(1));
    }

    #[test]
    fn grows_and_shrinks_by_left_vertices() {
        let mut m = Matcher::new(vec![1, 1], Vec::new());
        let a = m.push_left(&[0, 1]);
        assert!(m.augment(a));
        let b = m.push_left(&[0]);
        assert!(m.augment(b));
        assert_eq!((m.mate(a), m.mate(b)), (Some(1), Some(0)));
        let c = m.push_left(&[0, 1]);
        assert!(!m.augment(c));
        m.pop_left();
        m.pop_left();
        assert_eq!(m.lefts(), 1);
        // `b`'s slot is free again, and its stale mover entry is gone.
        let d = m.push_left(&[1]);
        assert!(m.augment(d));
        assert_eq!((m.mate(a), m.mate(d)), (Some(0), Some(1)));
    }

    #[test]
    fn failure_changes_nothing_and_capacity_counts() {
        let mut m = Matcher::new(vec![2], vec![vec![0], vec![0], vec![0]]);
        assert!(m.augment(0));
        assert!(m.augment(1));
        assert!(!m.augment(2));
        assert_eq!(m.holders(0), &[0, 1]);
        m.unmatch(0);
        assert!(m.augment(2));
        assert_eq!(m.mate(2), Some(0));
    }
}
