//! `tamis bench fuse`: every classical fuser on synthetic lists, single thread.

use std::time::Instant;

use tamis_core::fuse::{fuse, FusionMethod, Normalization, RankedItem, RankedList};

use crate::error::CliError;

/// `lists` lists of `items` items drawn from a pool of 2 x `items` ids, with distinct scores.
fn synthetic_lists(lists: usize, items: usize) -> Vec<RankedList> {
    (0..lists)
        .map(|l| {
            // A different stride per list, coprime with the pool so ids stay distinct, gives
            // partly overlapping lists.
            let pool = 2 * items;
            let stride = (2 * l + 1..).find(|&s| gcd(s, pool) == 1).unwrap_or(1);
            let items = (0..items)
                .map(|i| {
                    let id = format!("doc{}", (i * stride + l) % (2 * items));
                    RankedItem::scored(id, (items - i) as f64 + l as f64 / 10.0)
                })
                .collect();
            RankedList::new(format!("list{l}"), items)
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Prints mean milliseconds per fusion for every method, min-max normalization.
pub fn bench_fuse(lists: usize, items: usize, repeats: usize) -> Result<String, CliError> {
    let input = synthetic_lists(lists, items);
    let mut table = format!(
        "tamis bench fuse: {lists} lists x {items} items, min-max normalization, one thread, \
         mean of {repeats} runs\n| method | ms per fusion |\n|---|---:|\n"
    );
    for (name, method) in FusionMethod::NAMED {
        fuse(&input, Normalization::MinMax, method)?;
        let start = Instant::now();
        for _ in 0..repeats {
            fuse(&input, Normalization::MinMax, method)?;
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / repeats.max(1) as f64;
        table.push_str(&format!("| {name} | {ms:.3} |\n"));
    }
    Ok(table)
}
