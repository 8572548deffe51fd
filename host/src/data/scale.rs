//! Feature scaling, fitted on the training part and applied to both parts.

use super::error::DataError;
use super::table::Table;
use std::fmt;
use std::str::FromStr;

/// How features are rescaled, column by column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scaling {
    /// Features as read.
    #[default]
    None,
    /// `(x - min) / (max - min)` with the training part's min and max, so
    /// training features lie in `[0, 1]`.
    MinMax,
    /// `(x - mean) / sd` with the training part's mean and population
    /// standard deviation (like scikit-learn's `StandardScaler`).
    Standardize,
}

impl FromStr for Scaling {
    type Err = DataError;
    /// `none`, `min-max` (or `minmax`), `standardize` (or `standard`,
    /// `z-score`); anything else is an options error
    /// ([`DataError::options`]).
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Scaling::None),
            "min-max" | "minmax" => Ok(Scaling::MinMax),
            "standardize" | "standard" | "z-score" | "zscore" => Ok(Scaling::Standardize),
            _ => Err(DataError::options(format!(
                "unknown scaling {s:?}; expected none, min-max or standardize"
            ))),
        }
    }
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scaling::None => "none",
            Scaling::MinMax => "min-max",
            Scaling::Standardize => "standardize",
        })
    }
}

/// A fitted scaling: feature `j` becomes `(x - offset[j]) / divisor[j]`,
/// computed in f64 and rounded once to f32. Constant training columns get
/// `offset` = their value and `divisor` = 1, so they become 0, never NaN.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaler {
    /// The method.
    pub scaling: Scaling,
    /// Subtracted from each column.
    pub offset: Vec<f64>,
    /// Then divided into each column (never 0).
    pub divisor: Vec<f64>,
}

impl Scaler {
    /// Fits `scaling` on the rows of `train` (which must hold finite values).
    pub fn fit(scaling: Scaling, train: &Table) -> Scaler {
        let width = train.width;
        let mut offset = vec![0.0; width];
        let mut divisor = vec![1.0; width];
        let rows = || train.features.chunks_exact(width.max(1));
        if scaling != Scaling::None && !train.is_empty() {
            let mut min = vec![f64::INFINITY; width];
            let mut max = vec![f64::NEG_INFINITY; width];
            let mut sum = vec![0.0f64; width];
            for row in rows() {
                for j in 0..width {
                    let x = f64::from(row[j]);
                    min[j] = min[j].min(x);
                    max[j] = max[j].max(x);
                    sum[j] += x;
                }
            }
            let n = train.len() as f64;
            let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
            let mut squares = vec![0.0f64; width];
            if scaling == Scaling::Standardize {
                for row in rows() {
                    for j in 0..width {
                        let d = f64::from(row[j]) - mean[j];
                        squares[j] += d * d;
                    }
                }
            }
            for j in 0..width {
                if min[j] == max[j] {
                    offset[j] = min[j];
                    continue;
                }
                match scaling {
                    Scaling::MinMax => {
                        offset[j] = min[j];
                        divisor[j] = max[j] - min[j];
                    }
                    _ => {
                        offset[j] = mean[j];
                        let sd = (squares[j] / n).sqrt();
                        divisor[j] = if sd > 0.0 { sd } else { 1.0 };
                    }
                }
            }
        }
        Scaler {
            scaling,
            offset,
            divisor,
        }
    }

    /// Rescales `table` in place. On a value that would not be finite in
    /// f32, stops and returns its `(row, column)` with the unscaled value.
    pub fn apply(&self, table: &mut Table) -> Result<(), (usize, usize, f32)> {
        if self.scaling == Scaling::None || table.width != self.offset.len() {
            return Ok(());
        }
        let width = table.width.max(1);
        for (i, row) in table.features.chunks_exact_mut(width).enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                let scaled = ((f64::from(*x) - self.offset[j]) / self.divisor[j]) as f32;
                if !scaled.is_finite() {
                    return Err((i, j, *x));
                }
                *x = scaled;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(features: Vec<f32>, width: usize) -> Table {
        let n = features.len() / width;
        Table {
            features,
            labels: vec![0; n],
            width,
            classes: 2,
        }
    }

    #[test]
    fn min_max_maps_training_range_to_unit_interval() {
        let mut train = table(vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0], 2);
        let s = Scaler::fit(Scaling::MinMax, &train);
        assert_eq!(s.offset, vec![1.0, 5.0]);
        assert_eq!(s.divisor, vec![4.0, 1.0]);
        s.apply(&mut train).unwrap();
        assert_eq!(train.features, vec![0.0, 0.0, 0.5, 0.0, 1.0, 0.0]);
        let mut test = table(vec![9.0, 4.0], 2);
        s.apply(&mut test).unwrap();
        assert_eq!(test.features, vec![2.0, -1.0]);
    }

    #[test]
    fn standardize_matches_numpy() {
        // Reference (numpy 1.x/2.x, population sd as sklearn's StandardScaler):
        //   x = np.array([1, 2, 4, 7.0]); x.std() -> 2.29128784747792
        //   (x - x.mean()) / x.std() -> [-1.09108945, -0.65465367, 0.21821789, 1.52752523]
        let mut train = table(vec![1.0, 2.0, 4.0, 7.0], 1);
        let s = Scaler::fit(Scaling::Standardize, &train);
        assert_eq!(s.offset, vec![3.5]);
        assert!((s.divisor[0] - 2.291_287_847_477_92).abs() < 1e-12);
        s.apply(&mut train).unwrap();
        let expected = [
            -1.091_089_451_179_962,
            -0.654_653_670_707_977,
            0.218_217_890_235_992,
            1.527_525_231_651_947,
        ];
        for (got, want) in train.features.iter().zip(expected) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn constant_columns_become_zero_not_nan() {
        for scaling in [Scaling::MinMax, Scaling::Standardize] {
            let mut train = table(vec![0.1, 0.1, 0.1], 1);
            let s = Scaler::fit(scaling, &train);
            s.apply(&mut train).unwrap();
            assert_eq!(train.features, vec![0.0; 3], "{scaling}");
            let mut test = table(vec![1.1], 1);
            s.apply(&mut test).unwrap();
            assert_eq!(test.features, vec![(1.1f64 - f64::from(0.1f32)) as f32]);
        }
    }

    #[test]
    fn overflow_is_reported_not_stored() {
        let train = table(vec![0.0, 1e-30], 1);
        let s = Scaler::fit(Scaling::MinMax, &train);
        let mut test = table(vec![0.5, 3e38], 1);
        assert_eq!(s.apply(&mut test), Err((1, 0, 3e38)));
    }

    #[test]
    fn none_changes_nothing_and_names_parse() {
        let mut t = table(vec![3.0, -7.0], 1);
        Scaler::fit(Scaling::None, &t).apply(&mut t).unwrap();
        assert_eq!(t.features, vec![3.0, -7.0]);
        assert_eq!("min-max".parse(), Ok(Scaling::MinMax));
        assert_eq!("Standardize".parse(), Ok(Scaling::Standardize));
        assert_eq!("none".parse(), Ok(Scaling::None));
        assert!("log".parse::<Scaling>().is_err());
    }
}
