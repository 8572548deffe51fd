//! The one error type of the statistics engine.

use std::fmt;

/// Why a statistic could not be computed from the given table.
///
/// Every variant names the sample, group, factor or cell it is about, so the message can be shown
/// to a researcher as is. Degenerate-but-valid data (for example zero variance everywhere) is not
/// an error: the affected statistic is reported as `None`, as each result type documents.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StatsError {
    /// A sample, group or cell that must hold observations holds none.
    Empty {
        /// What is empty, e.g. `group 'adam'` or `the sample`.
        location: String,
    },
    /// An observation is NaN or infinite.
    NotFinite {
        /// Where the observation is, e.g. `group 'adam'`.
        location: String,
        /// Position of the observation in its sample, counting from 0.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// The natural log transform met a value that is zero or negative.
    NotPositiveUnderLn {
        /// Where the observation is.
        location: String,
        /// Position of the observation in its sample, counting from 0.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A factor of a factorial design has fewer than two levels, so it has no effect to test.
    TooFewLevels {
        /// Name of the factor.
        factor: String,
        /// How many levels it has.
        levels: usize,
    },
    /// A factor lists the same level twice.
    DuplicateLevel {
        /// Name of the factor.
        factor: String,
        /// The repeated level.
        level: String,
    },
    /// An observation names a level that its factor does not have.
    UnknownLevel {
        /// Name of the factor.
        factor: String,
        /// The level that was asked for.
        level: String,
    },
    /// A cell of a two-factor design has no observations, so the interaction (and with it the
    /// Type III sums of squares) cannot be estimated.
    EmptyCell {
        /// Name of factor A.
        factor_a: String,
        /// Level of factor A of the empty cell.
        level_a: String,
        /// Name of factor B.
        factor_b: String,
        /// Level of factor B of the empty cell.
        level_b: String,
    },
    /// The model has as many parameters as there are observations, so no degrees of freedom are
    /// left to estimate the error variance.
    NoResidualDf {
        /// Number of observations.
        observations: usize,
        /// Number of estimated parameters (cells or groups).
        parameters: usize,
    },
    /// A comparison of groups got too few groups.
    TooFewGroups {
        /// Number of groups given.
        found: usize,
        /// Minimum number of groups the statistic needs.
        needed: usize,
    },
    /// A group has too few observations for the statistic (e.g. a variance needs two).
    GroupTooSmall {
        /// Name of the group.
        group: String,
        /// Its number of observations.
        n: usize,
        /// Minimum the statistic needs.
        needed: usize,
    },
    /// A probability-like argument (percentile, confidence level, p-value) is outside its range.
    OutOfRange {
        /// What the argument is, e.g. `confidence level`.
        what: String,
        /// The value given.
        value: f64,
        /// The allowed range, in words, e.g. `between 0 and 1`.
        expected: &'static str,
    },
    /// Intermediate results overflowed double precision (squares of values beyond about 1e154).
    Overflow {
        /// The quantity being computed, e.g. `the F statistic`.
        what: &'static str,
    },
    /// Samples that must pair up position by position have different lengths.
    LengthMismatch {
        /// What does not pair up, e.g. `paired samples` or `block 3`.
        what: String,
        /// Length of the first (or expected) sample.
        first: usize,
        /// Length of the other.
        second: usize,
    },
    /// statrs refused the parameters of a distribution. Validation before the call should make
    /// this unreachable; it is an error rather than a panic all the same.
    Distribution(String),
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { location } => write!(f, "{location} has no observations"),
            Self::NotFinite {
                location,
                index,
                value,
            } => write!(
                f,
                "observation {} of {location} is {value}; statistics need finite numbers",
                index + 1
            ),
            Self::NotPositiveUnderLn {
                location,
                index,
                value,
            } => write!(
                f,
                "observation {} of {location} is {value}; the ln transform needs values above 0",
                index + 1
            ),
            Self::TooFewLevels { factor, levels } => write!(
                f,
                "factor '{factor}' has {levels} level(s); a factor needs at least 2 levels to have an effect"
            ),
            Self::DuplicateLevel { factor, level } => {
                write!(f, "factor '{factor}' lists level '{level}' more than once")
            }
            Self::UnknownLevel { factor, level } => {
                write!(f, "factor '{factor}' has no level '{level}'")
            }
            Self::EmptyCell {
                factor_a,
                level_a,
                factor_b,
                level_b,
            } => write!(
                f,
                "cell ({factor_a} = {level_a}, {factor_b} = {level_b}) has no observations; \
                 with an empty cell the interaction and the Type III sums of squares are not estimable"
            ),
            Self::NoResidualDf {
                observations,
                parameters,
            } => write!(
                f,
                "{observations} observations for {parameters} cell or group means leave no degrees of \
                 freedom for the error; at least one cell or group needs two or more observations"
            ),
            Self::TooFewGroups { found, needed } => {
                write!(
                    f,
                    "{found} group(s) given; this test needs at least {needed}"
                )
            }
            Self::GroupTooSmall { group, n, needed } => write!(
                f,
                "group '{group}' has {n} observation(s); this test needs at least {needed} per group"
            ),
            Self::OutOfRange {
                what,
                value,
                expected,
            } => write!(f, "{what} is {value}; expected {expected}"),
            Self::Overflow { what } => write!(
                f,
                "the values are too large to compute {what} in double precision; rescale them \
                 (e.g. to units near 1)"
            ),
            Self::LengthMismatch {
                what,
                first,
                second,
            } => write!(
                f,
                "{what}: {second} value(s) where {first} were expected; paired values must pair up"
            ),
            Self::Distribution(message) => {
                write!(f, "invalid distribution parameters: {message}")
            }
        }
    }
}

impl std::error::Error for StatsError {}
