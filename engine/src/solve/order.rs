//! Orders provider steps by their dependencies (a network before the addresses
//! and ports of the containers on it) with petgraph's toposort, and turns a
//! cycle into the path that closes it, so the report can print it.

use std::collections::VecDeque;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// `edges` are `(before, after)` pairs over `0..n`. Returns the order, or the
/// cycle as a node path whose last element repeats the first.
pub(crate) fn order(n: usize, edges: &[(usize, usize)]) -> Result<Vec<usize>, Vec<usize>> {
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(n, edges.len());
    let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
    for &(a, b) in edges {
        g.add_edge(nodes[a], nodes[b], ());
    }
    match toposort(&g, None) {
        Ok(sorted) => Ok(sorted.into_iter().map(|ix| g[ix]).collect()),
        Err(cycle) => Err(cycle_path(&g, cycle.node_id())),
    }
}

/// A shortest path from `start` back to itself (breadth-first, so the printed
/// cycle has no detours). toposort only reports nodes that lie on a cycle.
fn cycle_path(g: &DiGraph<usize, ()>, start: NodeIndex) -> Vec<usize> {
    let mut parent: Vec<Option<NodeIndex>> = vec![None; g.node_count()];
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for e in g.edges(u) {
            let v = e.target();
            if v == start {
                // Walk parents from u back to start, then read it forwards.
                let mut path = vec![g[u]];
                let mut cur = u;
                while cur != start {
                    cur = parent[cur.index()].expect("visited nodes have parents");
                    path.push(g[cur]);
                }
                path.reverse();
                path.push(g[start]);
                return path;
            }
            if parent[v.index()].is_none() && v != start {
                parent[v.index()] = Some(u);
                queue.push_back(v);
            }
        }
    }
    vec![g[start], g[start]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_before_address() {
        assert_eq!(order(2, &[(1, 0)]), Ok(vec![1, 0]));
    }

    #[test]
    fn cycle_is_reported_as_a_closed_path() {
        // 0 -> 1 -> 2 -> 0, and 3 hanging off 2.
        let err = order(4, &[(0, 1), (1, 2), (2, 0), (2, 3)]).unwrap_err();
        assert_eq!(err.first(), err.last());
        assert_eq!(err.len(), 4);
        for w in err.windows(2) {
            assert!([(0, 1), (1, 2), (2, 0)].contains(&(w[0], w[1])), "{err:?}");
        }
    }

    #[test]
    fn self_loop() {
        assert_eq!(order(1, &[(0, 0)]), Err(vec![0, 0]));
    }
}
