//! PDQ matching cost: the eight dihedral hashes of one image looked up within distance 31 in a
//! multi-index of 1 M known hashes (and 10 M with `PDQ_MATCH_10M=1`, about 1 GB of memory).
//! Known hashes are random 256-bit values (the worst case for the slot buckets: evenly
//! filled), the queries random too. `cargo bench --bench pdq_match`.

use criterion::{Criterion, criterion_group, criterion_main};
use hashsift::knowndb::pdq_index::PdqIndex;
use hashsift::media::pdq::PdqHash;

fn random_hashes(n: usize, mut state: u64) -> Vec<PdqHash> {
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u16
    };
    (0..n)
        .map(|_| PdqHash(std::array::from_fn(|_| next())))
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut sizes = vec![1_000_000usize];
    if std::env::var_os("PDQ_MATCH_10M").is_some() {
        sizes.push(10_000_000);
    }
    let queries = random_hashes(8 * 64, 7);
    for n in sizes {
        let index = PdqIndex::build(
            random_hashes(n, 1)
                .into_iter()
                .enumerate()
                .map(|(i, h)| (i as u32, h)),
        );
        let mut k = 0;
        c.bench_function(&format!("eight variants within 31, {n} known"), |b| {
            b.iter(|| {
                let image = &queries[(k % 64) * 8..(k % 64) * 8 + 8];
                k += 1;
                image
                    .iter()
                    .map(|q| index.within(q, 31).len())
                    .sum::<usize>()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
