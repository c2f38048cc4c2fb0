//! Seeds: every random choice of a run follows from one number.
//!
//! One function, [`derive()`], makes a child seed from a parent seed and a
//! label. The run seed (`--seed`, or the clock) gives each test its seed
//! (labelled by the test's name); a test seed gives each node its seed
//! (the node's name) and each link of the proxy the seed of its fault
//! generator (`FROM->TO`). Labels are names, not positions, so reordering
//! tests or nodes in a spec changes no seed, and `-t NAME --seed S` replays
//! exactly what the full run with `--seed S` did.

/// A seed derived from `parent` and `label`: FNV-1a of the label, mixed
/// with the parent through the handout's generator. The same pair always
/// gives the same seed; different labels give unrelated ones.
pub fn derive(parent: u64, label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    handout::Rng::new(parent ^ h).next_u64()
}

/// The seed of test `name` in a run with seed `run`.
pub fn test_seed(run: u64, name: &str) -> u64 {
    derive(run, name)
}

/// The seed `{seed}` stands for in node `node`'s arguments. It is kept
/// below 2^63 so that programs in any language can read it as a signed
/// 64-bit integer.
pub fn node_seed(test: u64, node: &str) -> u64 {
    derive(test, node) >> 1
}

/// The seed of the fault generator of the link `from -> to`.
pub fn link_seed(test: u64, from: &str, to: &str) -> u64 {
    derive(test, &format!("{from}->{to}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_parent_and_label_only() {
        assert_eq!(derive(7, "echo"), derive(7, "echo"));
        assert_ne!(derive(7, "echo"), derive(8, "echo"));
        assert_ne!(derive(7, "echo"), derive(7, "loss"));
        assert!(node_seed(7, "client") < 1 << 63);
        assert_ne!(link_seed(7, "a", "b"), link_seed(7, "b", "a"));
    }
}
