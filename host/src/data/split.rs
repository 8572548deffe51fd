//! The seeded, stratified train/test split for files without a test file.

use rand_core::Rng;
use sooth_core::sampler::shuffle;

/// Why rows could not be split.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// More rows than the split's `u32` row indices can hold.
    #[error("{rows} rows are too many to split (limit {})", u32::MAX)]
    TooManyRows {
        /// The number of rows.
        rows: usize,
    },
}

/// Splits rows `0..labels.len()` into (train, test) index lists, both in
/// ascending order, keeping each class's share in the test part.
///
/// The test part has `ceil(fraction * n)` rows (as in scikit-learn's
/// `train_test_split`), shared among the classes in proportion to their
/// sizes, the remainders going to the classes with the largest fractional
/// shares (lower class first on ties). A class never gives its last row to
/// the test part, so every class present keeps a training row (the test
/// part can then be a little smaller). Which rows of a class go to the test
/// part is a Fisher-Yates shuffle of them with `rng` (classes in order).
///
/// `fraction` is clamped to `[0, 1]`; more than `u32::MAX` rows is
/// [`SplitError::TooManyRows`].
pub fn stratified_split<R: Rng + ?Sized>(
    labels: &[u16],
    fraction: f64,
    rng: &mut R,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    let n = labels.len();
    if u32::try_from(n).is_err() {
        return Err(SplitError::TooManyRows { rows: n });
    }
    let fraction = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    let wanted = fraction * n as f64;
    // ceil, but a product a hair above a whole number counts as that number.
    let n_test = ((wanted - 1e-9).ceil().max(0.0) as usize).min(n);
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        let label = usize::from(label);
        if members.len() <= label {
            members.resize_with(label + 1, Vec::new);
        }
        members[label].push(i as u32);
    }
    // Proportional quotas by largest remainder.
    let mut quota: Vec<usize> = Vec::with_capacity(members.len());
    let mut remainder: Vec<(u128, usize)> = Vec::with_capacity(members.len());
    for (class, rows) in members.iter().enumerate() {
        let share = rows.len() as u128 * n_test as u128;
        quota.push((share / n.max(1) as u128) as usize);
        remainder.push((share % n.max(1) as u128, class));
    }
    let mut left = n_test - quota.iter().sum::<usize>();
    remainder.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(rest, class) in &remainder {
        if left == 0 {
            break;
        }
        if rest > 0 {
            quota[class] += 1;
            left -= 1;
        }
    }
    let mut train = Vec::with_capacity(n - n_test);
    let mut test = Vec::with_capacity(n_test);
    for (rows, &quota) in members.iter_mut().zip(&quota) {
        let take = quota.min(rows.len().saturating_sub(1));
        shuffle(rng, rows);
        test.extend(rows[..take].iter().map(|&i| i as usize));
        train.extend(rows[take..].iter().map(|&i| i as usize));
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn split(labels: &[u16], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        stratified_split(
            labels,
            fraction,
            &mut Xoshiro256PlusPlus::seed_from_u64(seed),
        )
        .unwrap()
    }

    #[test]
    fn too_many_rows_say_the_limit() {
        assert_eq!(
            SplitError::TooManyRows {
                rows: 5_000_000_000
            }
            .to_string(),
            "5000000000 rows are too many to split (limit 4294967295)"
        );
    }

    fn count(labels: &[u16], rows: &[usize], class: u16) -> usize {
        rows.iter().filter(|&&i| labels[i] == class).count()
    }

    #[test]
    fn keeps_class_shares_and_covers_every_row_once() {
        // 60 of class 0, 30 of class 1, 10 of class 2; 25% test -> 25 rows:
        // quotas 15, 7.5, 2.5 -> 15, 8, 2 (the tie at .5 goes to the lower class).
        let labels: Vec<u16> = (0..100)
            .map(|i| {
                if i < 60 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let (train, test) = split(&labels, 0.25, 1);
        assert_eq!(test.len(), 25);
        assert_eq!([0, 1, 2].map(|c| count(&labels, &test, c)), [15, 8, 2]);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert!(test.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn seeded_and_deterministic() {
        let labels: Vec<u16> = (0..50).map(|i| (i % 3) as u16).collect();
        assert_eq!(split(&labels, 0.3, 7), split(&labels, 0.3, 7));
        assert_ne!(split(&labels, 0.3, 7), split(&labels, 0.3, 8));
    }

    #[test]
    fn test_size_rounds_up_like_scikit_learn() {
        // digits: 1797 rows, test_size=0.25 -> sklearn takes ceil(449.25) = 450.
        let labels: Vec<u16> = (0..1797).map(|i| (i % 10) as u16).collect();
        assert_eq!(split(&labels, 0.25, 0).1.len(), 450);
        // 0.55 * 100 is 55.00000000000001 in f64 (Python: 0.55*100), still 55 rows.
        let labels: Vec<u16> = (0..100).map(|i| (i % 2) as u16).collect();
        assert_eq!(split(&labels, 0.55, 0).1.len(), 55);
    }

    #[test]
    fn classes_that_keep_their_last_row_shrink_the_test_part_not_grow_others() {
        // 90% of 10 rows -> 9 wanted: class 0 (5 rows) 4.5 -> 4, each
        // singleton 0.9 -> 1 by remainder, but a singleton keeps its row, so
        // the test part is class 0's 4 rows (found by the property test in
        // host/tests/data_props.rs, whose bound had used the actual size).
        let labels = [0u16, 0, 0, 0, 0, 1, 2, 3, 4, 5];
        let (train, test) = split(&labels, 0.9, 3);
        assert_eq!(test.len(), 4);
        assert_eq!(count(&labels, &test, 0), 4);
        assert_eq!(train.len(), 6);
    }

    #[test]
    fn every_class_keeps_a_training_row() {
        let labels = [0u16, 1, 1, 2];
        let (train, test) = split(&labels, 0.9, 3);
        for class in 0..3 {
            assert!(count(&labels, &train, class) >= 1);
        }
        assert_eq!(test.len(), 1);
        assert_eq!(labels[test[0]], 1);
    }
}
