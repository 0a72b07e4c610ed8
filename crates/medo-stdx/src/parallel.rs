//! Order-preserving parallel map over a slice, on the machine's cores, with work for the
//! calling side meanwhile. Used where one pass has many independent items: the journal's
//! line checks, a УРОГ query's appeal lookups. rayon's work-stealing pool does the work
//! (its threads are kept between batches and a slow part of a batch is shared out, where
//! one scoped thread per half of the batch left a core idle). Pure: touches nothing but its
//! arguments.

use rayon::prelude::*;

/// Items a pool task takes at least (fewer tasks for cheap items).
const MIN_PER_TASK: usize = 16;

/// `f` applied to every item, results in the items' order, computed on rayon's pool
/// (sequentially below `min_items` items or on one core); `meanwhile` runs alongside.
pub fn map_in_order<T, R, M>(
    items: &[T],
    min_items: usize,
    f: impl Fn(&T) -> R + Sync,
    meanwhile: impl FnOnce() -> M + Send,
) -> (Vec<R>, M)
where
    T: Sync,
    R: Send,
    M: Send,
{
    if items.len() < min_items || rayon::current_num_threads() == 1 {
        let results = items.iter().map(&f).collect();
        return (results, meanwhile());
    }
    rayon::join(
        || {
            items
                .par_iter()
                .with_min_len(MIN_PER_TASK)
                .map(&f)
                .collect()
        },
        meanwhile,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_split() {
        let items: Vec<u64> = (0..10_000).collect();
        for min_items in [0, 100_000] {
            let (squares, other) = map_in_order(&items, min_items, |i| i * i, || "done");
            assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
            assert_eq!(other, "done");
        }
    }
}
