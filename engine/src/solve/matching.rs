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
//! Preference: a need's candidates are tried in its adjacency order (file order),
//! and a free candidate is always taken before any displacement is attempted.
//! The search is iterative (no recursion), so long paths cannot overflow the
//! stack; visited marks use a generation stamp so each search costs only what it
//! touches.

/// Capacity of a right vertex that any number of needs may share.
pub(crate) const UNBOUNDED: usize = usize::MAX;

const NONE: u32 = u32::MAX;

pub(crate) struct Matcher {
    cap: Vec<usize>,
    assigned: Vec<Vec<u32>>,
    /// Per left: (right, position in `assigned[right]`).
    mate: Vec<Option<(u32, u32)>>,
    adj: Vec<Vec<u32>>,
    seen_l: Vec<u32>,
    seen_r: Vec<u32>,
    stamp: u32,
}

struct Frame {
    u: u32,
    oi: usize,
    r: u32,
    ai: usize,
}

impl Matcher {
    /// `cap[r]` per right vertex; `adj[l]` lists left `l`'s right vertices in
    /// preference order.
    pub(crate) fn new(cap: Vec<usize>, adj: Vec<Vec<u32>>) -> Matcher {
        let nr = cap.len();
        let nl = adj.len();
        Matcher {
            cap,
            assigned: vec![Vec::new(); nr],
            mate: vec![None; nl],
            adj,
            seen_l: vec![0; nl],
            seen_r: vec![0; nr],
            stamp: 0,
        }
    }

    fn free(&self, r: u32) -> bool {
        self.assigned[r as usize].len() < self.cap[r as usize]
    }

    fn assign(&mut self, l: u32, r: u32) {
        let list = &mut self.assigned[r as usize];
        self.mate[l as usize] = Some((r, list.len() as u32));
        list.push(l);
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
        &self.adj[l as usize]
    }

    /// The needs matched to `r`.
    pub(crate) fn holders(&self, r: u32) -> &[u32] {
        &self.assigned[r as usize]
    }

    /// Tries to match `root` (unmatched) without unmatching anyone. Returns
    /// whether it succeeded; on failure nothing changed.
    pub(crate) fn augment(&mut self, root: u32) -> bool {
        debug_assert!(self.mate[root as usize].is_none());
        if let Some(&r) = self.adj[root as usize].iter().find(|&&r| self.free(r)) {
            self.assign(root, r);
            return true;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen_l.iter_mut().for_each(|s| *s = 0);
            self.seen_r.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        let stamp = self.stamp;
        self.seen_l[root as usize] = stamp;
        let mut stack = vec![Frame {
            u: root,
            oi: 0,
            r: NONE,
            ai: 0,
        }];
        while let Some(top) = stack.last_mut() {
            if top.r != NONE {
                let r = top.r as usize;
                if top.ai >= self.assigned[r].len() {
                    top.r = NONE;
                    continue;
                }
                let v = self.assigned[r][top.ai];
                top.ai += 1;
                if self.seen_l[v as usize] == stamp {
                    continue;
                }
                self.seen_l[v as usize] = stamp;
                let free = self.adj[v as usize]
                    .iter()
                    .copied()
                    .find(|&r2| self.seen_r[r2 as usize] != stamp && self.free(r2));
                if let Some(r2) = free {
                    self.unmatch(v);
                    self.assign(v, r2);
                    self.shift(&stack);
                    return true;
                }
                stack.push(Frame {
                    u: v,
                    oi: 0,
                    r: NONE,
                    ai: 0,
                });
                continue;
            }
            let u = top.u as usize;
            if top.oi >= self.adj[u].len() {
                stack.pop();
                continue;
            }
            let r = self.adj[u][top.oi];
            top.oi += 1;
            if self.seen_r[r as usize] == stamp {
                continue;
            }
            self.seen_r[r as usize] = stamp;
            top.r = r;
            top.ai = 0;
            if self.free(r) {
                self.shift(&stack);
                return true;
            }
        }
        false
    }

    /// Each frame's need moves into the frame's resource, whose slot the next
    /// frame's need (or the final free move) vacated.
    fn shift(&mut self, stack: &[Frame]) {
        for f in stack.iter().rev() {
            self.unmatch(f.u);
            self.assign(f.u, f.r);
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
