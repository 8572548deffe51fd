//! The sampler against an independent reference (scripts/reference_sampler.py,
//! which implements SplitMix64, xoshiro256++, Lemire's reduction and
//! Fisher-Yates from their published definitions), and its epoch contracts.

use rand_core::Rng;
use sooth_core::{LastBatch, Sampler, Sampling, seed_streams};

fn epoch(sampler: &mut Sampler<'_>) -> Vec<Vec<u32>> {
    sampler.start_epoch();
    let mut out = Vec::new();
    while let Some(b) = sampler.next_batch() {
        out.push(b.to_vec());
    }
    out
}

#[test]
fn init_stream_matches_reference() {
    let (mut init, _) = seed_streams(7);
    let draws: Vec<u32> = (0..4).map(|_| init.next_u32()).collect();
    assert_eq!(draws, [237771264, 739231965, 3081966003, 1834852202]);
}

#[test]
fn shuffle_matches_reference_sequence() {
    let (_, rng) = seed_streams(7);
    let mut storage = [0u32; 10];
    let mut s = Sampler::new(10, 4, Sampling::Shuffle, LastBatch::Keep, rng, &mut storage).unwrap();
    assert_eq!(s.batches_per_epoch(), 3);
    assert_eq!(
        epoch(&mut s),
        [vec![0, 2, 4, 1], vec![8, 5, 6, 7], vec![3, 9]]
    );
    assert_eq!(
        epoch(&mut s),
        [vec![8, 5, 7, 0], vec![3, 6, 9, 4], vec![2, 1]]
    );
}

#[test]
fn shuffle_of_the_digits_size_matches_reference() {
    let (_, rng) = seed_streams(2024);
    let mut storage = vec![0u32; 1347];
    let mut s = Sampler::new(
        1347,
        64,
        Sampling::Shuffle,
        LastBatch::Keep,
        rng,
        &mut storage,
    )
    .unwrap();
    let e = epoch(&mut s);
    assert_eq!(
        e[0][..12],
        [
            1262, 692, 437, 2, 1126, 1269, 363, 287, 1228, 881, 1067, 621
        ]
    );
}

#[test]
fn with_replacement_matches_reference_sequence() {
    let (_, rng) = seed_streams(7);
    let mut storage = [0u32; 4];
    let mut s = Sampler::new(
        10,
        4,
        Sampling::WithReplacement,
        LastBatch::Keep,
        rng,
        &mut storage,
    )
    .unwrap();
    assert_eq!(
        epoch(&mut s),
        [vec![9, 4, 9, 8], vec![8, 6, 2, 4], vec![9, 3]]
    );
}

#[test]
fn shuffle_visits_every_index_exactly_once_per_epoch() {
    for (len, batch) in [(1347usize, 64usize), (10, 3), (7, 7), (5, 1), (100, 99)] {
        let (_, rng) = seed_streams(len as u64);
        let mut storage = vec![0u32; len];
        let mut s = Sampler::new(
            len,
            batch,
            Sampling::Shuffle,
            LastBatch::Keep,
            rng,
            &mut storage,
        )
        .unwrap();
        for _ in 0..3 {
            let batches = epoch(&mut s);
            assert_eq!(batches.len(), len.div_ceil(batch));
            assert!(
                batches[..batches.len() - 1]
                    .iter()
                    .all(|b| b.len() == batch)
            );
            let mut seen: Vec<u32> = batches.concat();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..len as u32).collect::<Vec<_>>(),
                "len {len} batch {batch}"
            );
        }
    }
}

#[test]
fn drop_policy_serves_only_full_batches_of_distinct_indices() {
    let (_, rng) = seed_streams(3);
    let mut storage = vec![0u32; 1347];
    let mut s = Sampler::new(
        1347,
        64,
        Sampling::Shuffle,
        LastBatch::Drop,
        rng,
        &mut storage,
    )
    .unwrap();
    let batches = epoch(&mut s);
    assert_eq!(batches.len(), 21);
    assert!(batches.iter().all(|b| b.len() == 64));
    let mut seen = batches.concat();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 21 * 64);
}

#[test]
fn full_batch_is_every_index_in_order() {
    let (_, rng) = seed_streams(3);
    let mut storage = [0u32; 6];
    let mut s = Sampler::new(6, 6, Sampling::Shuffle, LastBatch::Keep, rng, &mut storage).unwrap();
    assert!(s.is_full_batch());
    for _ in 0..2 {
        assert_eq!(epoch(&mut s), [vec![0, 1, 2, 3, 4, 5]]);
    }
}

#[test]
fn with_replacement_stays_in_range_and_is_roughly_uniform() {
    let mut storage = [0u32; 5];
    let (_, rng) = seed_streams(11);
    let mut s = Sampler::new(
        50,
        5,
        Sampling::WithReplacement,
        LastBatch::Drop,
        rng,
        &mut storage,
    )
    .unwrap();
    let mut counts = [0u32; 50];
    for _ in 0..400 {
        for b in epoch(&mut s) {
            assert_eq!(b.len(), 5);
            for i in b {
                counts[i as usize] += 1;
            }
        }
    }
    // 20 000 draws over 50 values: each count ~ Binomial(20000, 0.02), sd ~ 19.8.
    assert!(
        counts.iter().all(|&c| (280..=520).contains(&c)),
        "{counts:?}"
    );
}
