//! The built-in data sets: `digits` (embedded), and the seeded synthetic
//! `spirals` and `blobs`.

use super::error::DataError;
use super::libsvm::DEFAULT_MAX_VALUES;
use super::table::Table;
use rand_core::Rng;

/// Names of the built-in data sets.
pub const BUILT_IN: [&str; 3] = ["digits", "spirals", "blobs"];

const TRAIN_LEVELS: &[u8] = include_bytes!("../../../data/digits/train-levels.u8");
const TRAIN_LABELS: &[u8] = include_bytes!("../../../data/digits/train-labels.u8");
const TEST_LEVELS: &[u8] = include_bytes!("../../../data/digits/test-levels.u8");
const TEST_LABELS: &[u8] = include_bytes!("../../../data/digits/test-labels.u8");

/// Pixels per digits image (8 x 8).
pub const DIGITS_WIDTH: usize = 64;
/// Training samples of `digits`.
pub const DIGITS_TRAIN: usize = 1347;
/// Test samples of `digits`.
pub const DIGITS_TEST: usize = 450;

const _: () = assert!(TRAIN_LEVELS.len() == DIGITS_TRAIN * DIGITS_WIDTH);
const _: () = assert!(TRAIN_LABELS.len() == DIGITS_TRAIN);
const _: () = assert!(TEST_LEVELS.len() == DIGITS_TEST * DIGITS_WIDTH);
const _: () = assert!(TEST_LABELS.len() == DIGITS_TEST);

/// The `digits` split (see `data/digits/README.md`): 8x8 images, feature =
/// level (0..=16) x 0.0625 exactly, 10 classes; (train, test).
pub fn digits() -> (Table, Table) {
    let table = |levels: &[u8], labels: &[u8]| Table {
        features: levels.iter().map(|&q| f32::from(q) * 0.0625).collect(),
        labels: labels.iter().map(|&l| u16::from(l)).collect(),
        width: DIGITS_WIDTH,
        classes: 10,
    };
    (
        table(TRAIN_LEVELS, TRAIN_LABELS),
        table(TEST_LEVELS, TEST_LABELS),
    )
}

/// The raw `digits` levels and labels, for packing into firmware:
/// (train levels, train labels, test levels, test labels).
pub fn digits_raw() -> (&'static [u8], &'static [u8], &'static [u8], &'static [u8]) {
    (TRAIN_LEVELS, TRAIN_LABELS, TEST_LEVELS, TEST_LABELS)
}

/// Parameters of `spirals`: two interleaved spirals in the plane, 2 classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spirals {
    /// Samples in all (class `i % 2` for sample `i`).
    pub samples: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate
    /// (the spirals have radius 1).
    pub noise: f64,
    /// Turns of each spiral.
    pub turns: f64,
}

impl Default for Spirals {
    fn default() -> Self {
        Spirals {
            samples: 1000,
            noise: 0.05,
            turns: 1.5,
        }
    }
}

/// Parameters of `blobs`: isotropic Gaussian clusters, one per class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blobs {
    /// Samples in all (class `i % classes` for sample `i`).
    pub samples: usize,
    /// Number of classes (= clusters).
    pub classes: usize,
    /// Features per sample.
    pub width: usize,
    /// Standard deviation of each cluster; centers are uniform in `[-5, 5]^width`.
    pub spread: f64,
}

impl Default for Blobs {
    fn default() -> Self {
        Blobs {
            samples: 600,
            classes: 3,
            width: 2,
            spread: 1.0,
        }
    }
}

/// A built-in data set named on the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BuiltIn {
    Digits,
    Spirals(Spirals),
    Blobs(Blobs),
}

/// Reads `digits`, `spirals[:key=value,...]` or `blobs[:key=value,...]`;
/// `None` if `name` names no built-in set (then it is a path).
pub(crate) fn parse_builtin(name: &str) -> Option<Result<BuiltIn, DataError>> {
    let (base, params) = match name.split_once(':') {
        Some((base, params)) => (base, Some(params)),
        None => (name, None),
    };
    let pairs =
        || -> Result<Vec<(&str, &str)>, DataError> {
            let Some(params) = params else {
                return Ok(Vec::new());
            };
            params
                .split(',')
                .map(|pair| {
                    pair.split_once('=').map(|(k, v)| (k.trim(), v.trim())).ok_or_else(|| {
                    DataError::options(format!(
                        "{base}: parameter {pair:?} is not KEY=VALUE (as in {base}:samples=500)"
                    ))
                })
                })
                .collect()
        };
    match base {
        "digits" if params.is_none() => Some(Ok(BuiltIn::Digits)),
        "digits" => Some(Err(DataError::options(
            "digits takes no parameters; it is a fixed split of 1347 training and 450 test samples",
        ))),
        "spirals" => Some(pairs().and_then(|pairs| {
            let mut s = Spirals::default();
            for (key, value) in pairs {
                match key {
                    "samples" => s.samples = number(base, key, value)?,
                    "noise" => s.noise = number(base, key, value)?,
                    "turns" => s.turns = number(base, key, value)?,
                    _ => return Err(unknown(base, key, "samples, noise, turns")),
                }
            }
            check(
                base,
                "samples",
                s.samples >= 4 && s.samples <= DEFAULT_MAX_VALUES / 2,
                "4 to 134217728",
            )?;
            check(
                base,
                "noise",
                s.noise.is_finite() && s.noise >= 0.0,
                "a finite number >= 0",
            )?;
            check(
                base,
                "turns",
                s.turns > 0.0 && s.turns <= 100.0,
                "above 0, at most 100",
            )?;
            Ok(BuiltIn::Spirals(s))
        })),
        "blobs" => Some(pairs().and_then(|pairs| {
            let mut b = Blobs::default();
            for (key, value) in pairs {
                match key {
                    "samples" => b.samples = number(base, key, value)?,
                    "classes" => b.classes = number(base, key, value)?,
                    "width" => b.width = number(base, key, value)?,
                    "spread" => b.spread = number(base, key, value)?,
                    _ => return Err(unknown(base, key, "samples, classes, width, spread")),
                }
            }
            check(
                base,
                "classes",
                (2..=65536).contains(&b.classes),
                "2 to 65536",
            )?;
            check(base, "width", b.width >= 1, "at least 1")?;
            check(
                base,
                "samples",
                b.samples >= 2 * b.classes,
                "at least 2 per class (2 x classes)",
            )?;
            check(
                base,
                "samples",
                b.samples.saturating_mul(b.width) <= DEFAULT_MAX_VALUES,
                "at most 268435456 values (samples x width)",
            )?;
            check(
                base,
                "spread",
                b.spread.is_finite() && b.spread >= 0.0,
                "a finite number >= 0",
            )?;
            Ok(BuiltIn::Blobs(b))
        })),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(base: &str, key: &str, value: &str) -> Result<T, DataError> {
    value
        .parse()
        .map_err(|_| DataError::options(format!("{base}: {key}={value:?} is not a valid number")))
}

fn unknown(base: &str, key: &str, known: &str) -> DataError {
    DataError::options(format!(
        "{base}: unknown parameter {key:?}; expected {known}"
    ))
}

fn check(base: &str, key: &str, ok: bool, expected: &str) -> Result<(), DataError> {
    if ok {
        Ok(())
    } else {
        Err(DataError::options(format!(
            "{base}: {key} must be {expected}"
        )))
    }
}

/// A uniform f64 in `[0, 1)` from the top 53 bits of a draw.
fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// A standard normal draw (Box-Muller, one of the pair, libm math).
fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]
    let u2 = uniform(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
}

/// Generates `spirals`: sample `i` has class `i % 2`, angle
/// `t = 2 pi turns sqrt(u)` for uniform `u`, and lies at radius
/// `t / (2 pi turns)` in direction `t + class * pi`, plus Gaussian noise.
pub fn spirals<R: Rng + ?Sized>(params: &Spirals, rng: &mut R) -> Table {
    let full = 2.0 * core::f64::consts::PI * params.turns;
    let mut features = Vec::with_capacity(params.samples * 2);
    let mut labels = Vec::with_capacity(params.samples);
    for i in 0..params.samples {
        let class = i % 2;
        let t = full * libm::sqrt(uniform(rng));
        let radius = t / full;
        let angle = t + class as f64 * core::f64::consts::PI;
        let x = radius * libm::cos(angle) + params.noise * normal(rng);
        let y = radius * libm::sin(angle) + params.noise * normal(rng);
        features.extend([x as f32, y as f32]);
        labels.push(class as u16);
    }
    Table {
        features,
        labels,
        width: 2,
        classes: 2,
    }
}

/// Generates `blobs`: one center per class, uniform in `[-5, 5]^width`
/// (drawn first, class by class), then sample `i` of class `i % classes` at
/// its center plus Gaussian noise of standard deviation `spread`.
pub fn blobs<R: Rng + ?Sized>(params: &Blobs, rng: &mut R) -> Table {
    let centers: Vec<f64> = (0..params.classes * params.width)
        .map(|_| 10.0 * uniform(rng) - 5.0)
        .collect();
    let mut features = Vec::with_capacity(params.samples * params.width);
    let mut labels = Vec::with_capacity(params.samples);
    for i in 0..params.samples {
        let class = i % params.classes;
        let center = &centers[class * params.width..(class + 1) * params.width];
        features.extend(
            center
                .iter()
                .map(|c| (c + params.spread * normal(rng)) as f32),
        );
        labels.push(class as u16);
    }
    Table {
        features,
        labels,
        width: params.width,
        classes: params.classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn digits_are_the_documented_split() {
        let (train, test) = digits();
        assert_eq!((train.len(), test.len()), (1347, 450));
        assert_eq!((train.width, train.classes), (64, 10));
        assert!(train.dataset().is_ok() && test.dataset().is_ok());
        // Levels 0..=16 map to multiples of 1/16 in [0, 1], exactly.
        for &x in train.features.iter().chain(&test.features) {
            assert!((0.0..=1.0).contains(&x) && (x * 16.0).fract() == 0.0);
        }
        assert_eq!(
            train.features[..8],
            [0.0, 0.0, 0.0, 0.625, 0.75, 0.9375, 1.0, 0.8125]
        );
        assert_eq!(train.labels[..5], [7, 3, 6, 6, 7]);
        // Reference: numpy on the label files,
        //   np.bincount(np.fromfile("data/digits/train-labels.u8", np.uint8)), same for test;
        //   first row: np.fromfile("data/digits/train-levels.u8", np.uint8)[:8] / 16.
        assert_eq!(
            train.class_counts(),
            vec![133, 136, 133, 137, 136, 136, 136, 134, 131, 135]
        );
        assert_eq!(
            test.class_counts(),
            vec![45, 46, 44, 46, 45, 46, 45, 45, 43, 45]
        );
    }

    #[test]
    fn spirals_are_seeded_and_interleaved() {
        let s = Spirals::default();
        let a = spirals(&s, &mut Xoshiro256PlusPlus::seed_from_u64(5));
        let b = spirals(&s, &mut Xoshiro256PlusPlus::seed_from_u64(5));
        let c = spirals(&s, &mut Xoshiro256PlusPlus::seed_from_u64(6));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!((a.len(), a.width, a.classes), (1000, 2, 2));
        assert_eq!(a.class_counts(), vec![500, 500]);
        // Without noise every point is on its spiral: radius = angle / (2 pi turns).
        let clean = Spirals { noise: 0.0, ..s };
        let t = spirals(&clean, &mut Xoshiro256PlusPlus::seed_from_u64(5));
        for i in 0..t.len() {
            let row = t.row(i).unwrap();
            let (x, y) = (f64::from(row[0]), f64::from(row[1]));
            let r = (x * x + y * y).sqrt();
            assert!(r <= 1.0 + 1e-6);
            let full = 2.0 * std::f64::consts::PI * clean.turns;
            let t_angle = r * full;
            let class_angle = t_angle + f64::from(t.labels[i]) * std::f64::consts::PI;
            let dx = r * class_angle.cos() - x;
            let dy = r * class_angle.sin() - y;
            assert!(dx.abs() < 1e-5 && dy.abs() < 1e-5, "sample {i}");
        }
    }

    #[test]
    fn blobs_cluster_around_their_centers() {
        let b = Blobs {
            samples: 3000,
            classes: 3,
            width: 4,
            spread: 0.5,
        };
        let t = blobs(&b, &mut Xoshiro256PlusPlus::seed_from_u64(1));
        assert_eq!((t.len(), t.width, t.classes), (3000, 4, 3));
        assert_eq!(t.class_counts(), vec![1000; 3]);
        // Per class and feature, the sample sd is spread within 10% (n = 1000).
        for class in 0..3u16 {
            for j in 0..4 {
                let xs: Vec<f64> = (0..t.len())
                    .filter(|&i| t.labels[i] == class)
                    .map(|i| f64::from(t.row(i).unwrap()[j]))
                    .collect();
                let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                let sd =
                    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
                assert!(
                    (sd - 0.5).abs() < 0.05,
                    "class {class} feature {j}: sd {sd}"
                );
                assert!(mean.abs() <= 5.1);
            }
        }
        assert_eq!(t, blobs(&b, &mut Xoshiro256PlusPlus::seed_from_u64(1)));
    }

    #[test]
    fn names_and_parameters() {
        assert_eq!(parse_builtin("digits"), Some(Ok(BuiltIn::Digits)));
        assert_eq!(parse_builtin("digits.csv"), None);
        assert_eq!(parse_builtin("./digits"), None);
        assert_eq!(
            parse_builtin("blobs"),
            Some(Ok(BuiltIn::Blobs(Blobs::default())))
        );
        let b = parse_builtin("blobs:samples=90, classes=9,width=5,spread=0.1");
        assert_eq!(
            b,
            Some(Ok(BuiltIn::Blobs(Blobs {
                samples: 90,
                classes: 9,
                width: 5,
                spread: 0.1
            })))
        );
        let s = parse_builtin("spirals:turns=2,noise=0").unwrap().unwrap();
        assert_eq!(
            s,
            BuiltIn::Spirals(Spirals {
                turns: 2.0,
                noise: 0.0,
                samples: 1000
            })
        );
        let err = |s: &str| parse_builtin(s).unwrap().unwrap_err().to_string();
        assert_eq!(
            err("blobs:colour=3"),
            "blobs: unknown parameter \"colour\"; expected samples, classes, width, spread"
        );
        assert_eq!(
            err("blobs:samples"),
            "blobs: parameter \"samples\" is not KEY=VALUE (as in blobs:samples=500)"
        );
        assert_eq!(
            err("blobs:samples=-4"),
            "blobs: samples=\"-4\" is not a valid number"
        );
        assert_eq!(err("blobs:classes=1"), "blobs: classes must be 2 to 65536");
        assert_eq!(
            err("blobs:samples=5,classes=3"),
            "blobs: samples must be at least 2 per class (2 x classes)"
        );
        assert_eq!(
            err("blobs:spread=nan"),
            "blobs: spread must be a finite number >= 0"
        );
        assert_eq!(
            err("spirals:turns=0"),
            "spirals: turns must be above 0, at most 100"
        );
        assert_eq!(
            err("spirals:samples=3"),
            "spirals: samples must be 4 to 134217728"
        );
        assert!(err("digits:samples=3").starts_with("digits takes no parameters"));
    }
}
