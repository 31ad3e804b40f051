//! Condorcet fusion orders candidates by pairwise majority. Majorities can be cyclic, and
//! then any order depends on the sorting algorithm (ranx's even on Python's hash seed, as it
//! starts from a set). tamis is deterministic: candidates start in order of first appearance
//! and a stable merge sort orders them, which never panics on an inconsistent comparison.

/// `before(x, y)`: whether `x` wins its comparison against `y`.
pub(crate) fn condorcet_order(count: usize, before: impl Fn(usize, usize) -> bool) -> Vec<usize> {
    let mut items: Vec<usize> = (0..count).collect();
    let mut scratch = items.clone();
    merge_sort(&mut items, &mut scratch, &before);
    items
}

/// Stable top-down merge sort; `scratch` is as long as `items`.
fn merge_sort(items: &mut [usize], scratch: &mut [usize], less: &impl Fn(usize, usize) -> bool) {
    if items.len() < 2 {
        return;
    }
    let middle = items.len() / 2;
    merge_sort(&mut items[..middle], &mut scratch[..middle], less);
    merge_sort(&mut items[middle..], &mut scratch[middle..], less);
    scratch.copy_from_slice(items);
    let (left, right) = scratch.split_at(middle);
    let (mut l, mut r) = (0, 0);
    for slot in items.iter_mut() {
        let take_right = l == left.len() || (r < right.len() && less(right[r], left[l]));
        if take_right {
            *slot = right[r];
            r += 1;
        } else {
            *slot = left[l];
            l += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consistent_order_is_sorted() {
        let values: Vec<usize> = (0..100).map(|i| (i * 37) % 100).collect();
        let order = condorcet_order(values.len(), |x, y| values[x] < values[y]);
        let sorted: Vec<usize> = order.iter().map(|&i| values[i]).collect();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_cycle_still_gives_a_permutation() {
        // rock < paper < scissors < rock
        let order = condorcet_order(3, |x, y| (x + 1) % 3 == y);
        let mut seen = order.clone();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2]);
        let big = condorcet_order(200, |x, y| (x + 1) % 200 == y || x % 7 < y % 7);
        let mut seen = big.clone();
        seen.sort();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }
}
