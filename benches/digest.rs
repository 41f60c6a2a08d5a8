//! Digest kernels on an in-memory buffer, one core: the compute bound that `hashsift hash` is
//! measured against (see docs/benchmarks.md). One benchmark per algorithm, all four fed through
//! hashsift's one-pass `MultiHasher`, and that one pass on two threads at once.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hashsift::digest::{Algorithm, AlgorithmSet, MultiHasher};

/// 8 MiB: larger than the L2 cache, as file data arriving from the page cache is.
const LEN: usize = 8 << 20;

fn kernels(c: &mut Criterion) {
    let data: Vec<u8> = (0..LEN)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut group = c.benchmark_group("digest");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(20);
    for alg in Algorithm::ALL {
        let set: AlgorithmSet = [alg].into_iter().collect();
        group.bench_function(alg.name(), |b| {
            b.iter(|| {
                let mut h = MultiHasher::new(set);
                h.update(std::hint::black_box(&data));
                h.finish()
            });
        });
    }
    group.bench_function("all4", |b| {
        b.iter(|| {
            let mut h = MultiHasher::new(AlgorithmSet::all());
            h.update(std::hint::black_box(&data));
            h.finish()
        });
    });
    group.finish();

    // The same one-pass hashing on both cores at once, each thread on its own buffer: what two
    // cores really deliver in memory, next to the prediction of twice the one-core kernels.
    let mut group = c.benchmark_group("digest-2-threads");
    group.throughput(Throughput::Bytes(2 * LEN as u64));
    group.sample_size(20);
    let second = data.clone();
    group.bench_function("all4", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for buf in [&data, &second] {
                    s.spawn(move || {
                        let mut h = MultiHasher::new(AlgorithmSet::all());
                        h.update(std::hint::black_box(buf));
                        h.finish()
                    });
                }
            });
        });
    });
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
