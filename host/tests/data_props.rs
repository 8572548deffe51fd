//! Property tests of the data readers: no input panics them, what they
//! accept is a consistent table, and what the writers write reads back to
//! the same bits. (A smoke test; the coverage-guided fuzzing is in `fuzz/`.)

use proptest::prelude::*;
use rand_core::SeedableRng;
use sooth::data::{
    CsvOptions, Header, LabelColumn, LibsvmOptions, Parsed, Scaler, Scaling, Table, parse_csv,
    parse_idx, parse_libsvm, stratified_split, write_csv, write_idx, write_libsvm,
};
use std::io::Write;

/// What every table a reader accepts must satisfy.
fn check_consistent(parsed: &Parsed) {
    let t = &parsed.table;
    assert!(t.width >= 1);
    assert!(!t.is_empty());
    assert_eq!(t.features.len(), t.len() * t.width);
    assert!(t.features.iter().all(|x| x.is_finite()));
    let span = t.labels.iter().map(|&l| usize::from(l) + 1).max().unwrap();
    assert_eq!(t.classes, span);
}

fn csv_options() -> impl Strategy<Value = CsvOptions> {
    let header = prop_oneof![
        Just(Header::Auto),
        Just(Header::Present),
        Just(Header::Absent)
    ];
    let label = prop_oneof![
        Just(LabelColumn::First),
        Just(LabelColumn::Last),
        (1usize..5).prop_map(LabelColumn::Number),
        "[a-z]{0,2}".prop_map(LabelColumn::Name),
    ];
    let delimiter = prop_oneof![Just(b','), Just(b';'), Just(b'\t'), any::<u8>()];
    (header, label, delimiter).prop_map(|(header, label_column, delimiter)| CsvOptions {
        header,
        label_column,
        delimiter,
    })
}

/// Bytes that look like CSV or LIBSVM text often enough to get deep.
fn texty_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"0".to_vec()),
        Just(b"1".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"2.5".to_vec()),
        Just(b"1e39".to_vec()),
        Just(b"nan".to_vec()),
        Just(b",".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"#".to_vec()),
        Just(b"qid:".to_vec()),
        Just(b"x".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>()
            .prop_map(f32::from_bits)
            .prop_filter("finite", |x| x.is_finite()),
        (-1000i32..1000).prop_map(|i| i as f32 / 8.0),
        Just(0.0f32),
        Just(-0.0f32),
    ]
}

/// A table of 1..20 rows, 1..6 features and labels below 300.
fn table() -> impl Strategy<Value = Table> {
    (1usize..6, 1usize..20).prop_flat_map(|(width, rows)| {
        (
            prop::collection::vec(finite_f32(), rows * width),
            prop::collection::vec(0u16..300, rows),
        )
            .prop_map(move |(features, labels)| {
                let classes = labels.iter().map(|&l| usize::from(l) + 1).max().unwrap();
                Table {
                    features,
                    labels,
                    width,
                    classes,
                }
            })
    })
}

fn same_bits(a: &Table, b: &Table) -> bool {
    a.width == b.width
        && a.classes == b.classes
        && a.labels == b.labels
        && a.features.len() == b.features.len()
        && a.features
            .iter()
            .zip(&b.features)
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn csv_never_panics(bytes in prop_oneof![texty_bytes(), prop::collection::vec(any::<u8>(), 0..200)], options in csv_options()) {
        if let Ok(parsed) = parse_csv(&bytes, "f.csv", &options) {
            check_consistent(&parsed);
        }
    }

    #[test]
    fn libsvm_never_panics(bytes in prop_oneof![texty_bytes(), prop::collection::vec(any::<u8>(), 0..200)], width in prop::option::of(1usize..10)) {
        let options = LibsvmOptions { width, max_values: 1 << 16 };
        if let Ok(parsed) = parse_libsvm(&bytes, "f.svm", &options) {
            check_consistent(&parsed);
            if let Some(width) = width {
                prop_assert_eq!(parsed.table.width, width);
            }
        }
    }

    #[test]
    fn idx_never_panics(images in prop::collection::vec(any::<u8>(), 0..64), labels in prop::collection::vec(any::<u8>(), 0..24), kind in prop::sample::select(vec![8u8, 9, 0xB, 0xC, 0xD, 0xE]), dims in prop::collection::vec(0u32..4, 1..4)) {
        // Random bytes, and random data behind a plausible header.
        let _ = parse_idx(&images, "i", &labels, "l").map(|p| check_consistent(&p));
        let mut framed = vec![0, 0, kind, dims.len() as u8];
        for d in &dims {
            framed.extend(d.to_be_bytes());
        }
        framed.extend(&images);
        let mut label_file = vec![0, 0, 8, 1];
        label_file.extend((dims[0]).to_be_bytes());
        label_file.extend(&labels);
        if let Ok(parsed) = parse_idx(&framed, "i", &label_file, "l") {
            check_consistent(&parsed);
        }
    }

    #[test]
    fn mutated_files_never_panic(t in table(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), cut in any::<prop::sample::Index>()) {
        let mut csv = Vec::new();
        write_csv(&t, &mut csv, true).unwrap();
        let mut svm = Vec::new();
        write_libsvm(&t, &mut svm).unwrap();
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        write_idx(&t, &mut images, &mut labels).unwrap();
        let packed = gzip(&csv);
        for file in [&mut csv, &mut svm, &mut images, &mut labels] {
            for (at, byte) in &flips {
                let i = at.index(file.len());
                file[i] = *byte;
            }
        }
        let mut packed_cut = packed.clone();
        packed_cut.truncate(cut.index(packed.len()));
        let _ = parse_csv(&csv, "f.csv", &CsvOptions::default()).map(|p| check_consistent(&p));
        let _ = parse_csv(&packed_cut, "f.csv.gz", &CsvOptions::default()).map(|p| check_consistent(&p));
        let _ = parse_libsvm(&svm, "f.svm", &LibsvmOptions::default()).map(|p| check_consistent(&p));
        let _ = parse_idx(&images, "i", &labels, "l").map(|p| check_consistent(&p));
    }

    #[test]
    fn csv_round_trips(t in table(), header in any::<bool>(), gz in any::<bool>()) {
        let mut out = Vec::new();
        write_csv(&t, &mut out, header).unwrap();
        if gz {
            out = gzip(&out);
        }
        let back = parse_csv(&out, "w.csv", &CsvOptions::default()).unwrap().table;
        prop_assert!(same_bits(&back, &t), "{:?} vs {:?}", back, t);
    }

    #[test]
    fn libsvm_round_trips(t in table()) {
        let mut out = Vec::new();
        write_libsvm(&t, &mut out).unwrap();
        let options = LibsvmOptions { width: Some(t.width), ..LibsvmOptions::default() };
        let back = parse_libsvm(&out, "w.svm", &options).unwrap().table;
        prop_assert!(same_bits(&back, &t), "{:?} vs {:?}", back, t);
    }

    #[test]
    fn idx_round_trips(t in table(), gz in any::<bool>()) {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        write_idx(&t, &mut images, &mut labels).unwrap();
        if gz {
            images = gzip(&images);
        }
        let back = parse_idx(&images, "i", &labels, "l").unwrap().table;
        prop_assert!(same_bits(&back, &t));
    }

    #[test]
    fn split_partitions_and_keeps_every_class(labels in prop::collection::vec(0u16..6, 1..200), fraction in 0.01f64..0.99, seed in any::<u64>()) {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let (train, test) = stratified_split(&labels, fraction, &mut rng).unwrap();
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        let n = labels.len();
        // The requested test size: ceil(fraction * n), as documented.
        let n_test = ((fraction * n as f64 - 1e-9).ceil().max(0.0) as usize).min(n);
        prop_assert!(test.len() <= n_test);
        for class in 0..6u16 {
            let total = labels.iter().filter(|&&l| l == class).count();
            let kept = train.iter().filter(|&&i| labels[i] == class).count();
            prop_assert!(total == 0 || kept >= 1);
            // Each class's test share is its proportional share of the
            // REQUESTED test size, rounded down or up (largest remainder),
            // less what it must keep for training (its last row). The share
            // of the actual test size is no bound: when small classes keep
            // their last row, the test part shrinks, the others' shares not.
            let share = total - kept;
            let (floor, ceil) = ((total * n_test) / n, (total * n_test).div_ceil(n));
            prop_assert!(share <= ceil, "class {} share {} > ceil {}", class, share, ceil);
            prop_assert!(share >= floor.min(total.saturating_sub(1)), "class {} share {} < floor {}", class, share, floor);
        }
    }

    #[test]
    fn scaling_never_makes_nan_on_training_data(t in table(), standardize in any::<bool>()) {
        let scaling = if standardize { Scaling::Standardize } else { Scaling::MinMax };
        let scaler = Scaler::fit(scaling, &t);
        let mut scaled = t.clone();
        // Training values scale to finite numbers (min-max into [0, 1]).
        prop_assert!(scaler.apply(&mut scaled).is_ok());
        prop_assert!(scaled.features.iter().all(|x| x.is_finite()));
        if !standardize {
            prop_assert!(scaled.features.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }
}
