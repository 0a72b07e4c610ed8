//! Order-preserving parallel map over a slice, on the machine's cores (bounded), with work
//! for the calling thread meanwhile. Used where one pass has many independent items: the
//! journal's line checks, a УРОГ query's appeal lookups. Pure: touches nothing but its
//! arguments.

/// `f` applied to every item, results in the items' order, computed on up to `max_threads`
/// scoped threads (sequentially below `min_items` items or on one core); `meanwhile` runs on
/// the calling thread while they work.
pub fn map_in_order<T, R, M>(
    items: &[T],
    max_threads: usize,
    min_items: usize,
    f: impl Fn(&T) -> R + Sync,
    meanwhile: impl FnOnce() -> M,
) -> (Vec<R>, M)
where
    T: Sync,
    R: Send,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, max_threads.max(1));
    if threads == 1 || items.len() < min_items {
        let results = items.iter().map(&f).collect();
        return (results, meanwhile());
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<_>>()))
            .collect();
        let other = meanwhile();
        let results = parts
            .into_iter()
            .flat_map(|h| h.join().expect("a parallel worker panicked"))
            .collect();
        (results, other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_split() {
        let items: Vec<u64> = (0..1000).collect();
        for min_items in [0, 10_000] {
            let (squares, other) = map_in_order(&items, 4, min_items, |i| i * i, || "done");
            assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
            assert_eq!(other, "done");
        }
    }
}
