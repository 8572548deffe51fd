//! Reading one number: a feature value or a class label, from text or from an
//! already-decoded number, with the reason when it is not acceptable.

use super::error::quoted;

/// Why the text of a cell or field is not a feature value. The quoted text
/// is shown at most 40 characters long.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FeatureError {
    /// Not a decimal or scientific number.
    #[error("{0} is not a number; expected a number like 0.5, -3 or 1e-3")]
    NotANumber(String),
    /// An empty (or blank) cell.
    #[error("empty cell, expected a number (missing values are not supported)")]
    Empty,
    /// NaN or an infinity, spelled out.
    #[error("{0} is not a finite number; features must be finite (no NaN or infinity)")]
    NotFinite(String),
    /// A number beyond the range of f32.
    #[error("{0} is too large for f32 (largest magnitude about 3.4e38)")]
    TooLarge(String),
}

/// Why a decoded number is not a class label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LabelValueError {
    /// NaN or an infinity.
    #[error("not finite; expected a class number 0, 1, 2, ...")]
    NotFinite,
    /// Has a fractional part.
    #[error("not a whole number; expected a class number 0, 1, 2, ...")]
    NotWhole,
    /// Below 0.
    #[error(
        "negative; labels are class numbers 0, 1, 2, ... (for -1/+1 labels, map -1 to 0 first)"
    )]
    Negative,
    /// Above [`MAX_LABEL`].
    #[error("too large; labels go up to {MAX_LABEL}")]
    TooLarge,
}

/// Why the text of a cell or field is not a class label. The quoted text is
/// shown at most 40 characters long.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LabelError {
    /// Only whitespace, or not UTF-8.
    #[error("label {0} is not a class number; expected a whole number 0, 1, 2, ...")]
    Blank(String),
    /// Nothing at all.
    #[error("empty label, expected a class number 0, 1, 2, ...")]
    Empty,
    /// A number, but not a class number.
    #[error("label {text}: {why}")]
    Value {
        /// The quoted text.
        text: String,
        /// What is wrong with the number.
        why: LabelValueError,
    },
    /// Not a number (such as a class name).
    #[error(
        "label {0} is not a class number; expected a whole number 0, 1, 2, ... (map class \
         names to numbers first)"
    )]
    NotANumber(String),
}

/// Largest label a table can hold (labels are `u16`).
pub const MAX_LABEL: u16 = u16::MAX;

/// A feature value from the text of a cell: any decimal or scientific
/// number that is finite in f32 (rounded to nearest).
pub(crate) fn parse_feature(text: &[u8]) -> Result<f32, FeatureError> {
    let Some(s) = std::str::from_utf8(text).ok().map(str::trim) else {
        return Err(FeatureError::NotANumber(quoted(text)));
    };
    if s.is_empty() {
        return Err(FeatureError::Empty);
    }
    let Ok(value) = s.parse::<f32>() else {
        return Err(FeatureError::NotANumber(quoted(text)));
    };
    if value.is_finite() {
        Ok(value)
    } else if is_literal_non_finite(s) {
        Err(FeatureError::NotFinite(quoted(text)))
    } else {
        Err(FeatureError::TooLarge(quoted(text)))
    }
}

/// True for the spellings of NaN and infinity that Rust's parser accepts.
fn is_literal_non_finite(s: &str) -> bool {
    let unsigned = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    unsigned.starts_with("inf") || unsigned.starts_with("nan")
}

/// A class label from text: a whole number `0..=65535` (`3`, `+3`, `3.0`
/// and `3e0` all mean class 3).
pub(crate) fn parse_label(text: &[u8]) -> Result<u16, LabelError> {
    let s = std::str::from_utf8(text).ok().map(str::trim).unwrap_or("");
    if s.is_empty() && !text.is_empty() {
        return Err(LabelError::Blank(quoted(text)));
    }
    if s.is_empty() {
        return Err(LabelError::Empty);
    }
    match s.parse::<f64>() {
        Ok(value) => label_from_f64(value).map_err(|why| LabelError::Value {
            text: quoted(text),
            why,
        }),
        Err(_) => Err(LabelError::NotANumber(quoted(text))),
    }
}

/// A class label from a decoded number, or why it is not one.
pub(crate) fn label_from_f64(value: f64) -> Result<u16, LabelValueError> {
    if !value.is_finite() {
        Err(LabelValueError::NotFinite)
    } else if value.fract() != 0.0 {
        Err(LabelValueError::NotWhole)
    } else if value < 0.0 {
        Err(LabelValueError::Negative)
    } else if value > f64::from(MAX_LABEL) {
        Err(LabelValueError::TooLarge)
    } else {
        Ok(value as u16)
    }
}

/// A number for messages: plain if moderate, else in scientific notation
/// (`1e300`, not three hundred digits).
pub(crate) fn show<T>(x: T) -> String
where
    T: Copy + Into<f64> + std::fmt::Display + std::fmt::LowerExp,
{
    let v: f64 = x.into();
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_parse_or_say_why() {
        assert_eq!(parse_feature(b" 1.5 "), Ok(1.5));
        assert_eq!(parse_feature(b"-2e-3"), Ok(-0.002));
        assert_eq!(parse_feature(b"+.25"), Ok(0.25));
        assert_eq!(parse_feature(b"0.1"), Ok(0.1f32));
        assert!(
            parse_feature(b"")
                .unwrap_err()
                .to_string()
                .contains("empty cell")
        );
        assert!(
            parse_feature(b"abc")
                .unwrap_err()
                .to_string()
                .contains("\"abc\" is not a number")
        );
        assert!(
            parse_feature(b"1,5")
                .unwrap_err()
                .to_string()
                .contains("is not a number")
        );
        assert!(
            parse_feature(&[0xC3])
                .unwrap_err()
                .to_string()
                .contains("is not a number")
        );
        for bad in [&b"NaN"[..], b"nan", b"inf", b"-Infinity", b"+inf"] {
            assert!(
                parse_feature(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("not a finite number")
            );
        }
        assert!(
            parse_feature(b"1e39")
                .unwrap_err()
                .to_string()
                .contains("too large for f32")
        );
        assert!(
            parse_feature(b"-1e39")
                .unwrap_err()
                .to_string()
                .contains("too large for f32")
        );
    }

    #[test]
    fn numbers_show_short() {
        assert_eq!(show(255.0), "255");
        assert_eq!(show(-0.5), "-0.5");
        assert_eq!(show(1e300), "1e300");
        assert_eq!(show(-3e38), "-3e38");
        assert_eq!(show(1e-30), "1e-30");
        assert_eq!(show(0.0), "0");
        assert_eq!(show(f64::NAN), "NaN");
        assert_eq!(show(3e38f32), "3e38");
        assert_eq!(show(0.1f32), "0.1");
    }

    #[test]
    fn labels_parse_or_say_why() {
        assert_eq!(parse_label(b"3"), Ok(3));
        assert_eq!(parse_label(b" +3 "), Ok(3));
        assert_eq!(parse_label(b"3.0"), Ok(3));
        assert_eq!(parse_label(b"-0"), Ok(0));
        assert_eq!(parse_label(b"65535"), Ok(65535));
        assert!(
            parse_label(b"-1")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(
            parse_label(b"2.5")
                .unwrap_err()
                .to_string()
                .contains("not a whole number")
        );
        assert!(
            parse_label(b"65536")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
        assert!(
            parse_label(b"1e300")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
        assert!(
            parse_label(b"nan")
                .unwrap_err()
                .to_string()
                .contains("not finite")
        );
        assert!(
            parse_label(b"setosa")
                .unwrap_err()
                .to_string()
                .contains("not a class number")
        );
        assert!(
            parse_label(b"")
                .unwrap_err()
                .to_string()
                .contains("empty label")
        );
        assert!(
            parse_label(b"  ")
                .unwrap_err()
                .to_string()
                .contains("not a class number")
        );
    }

    #[test]
    fn messages_keep_their_wording() {
        let shown = |e: &dyn std::fmt::Display| e.to_string();
        assert_eq!(
            shown(&parse_feature(b"abc").unwrap_err()),
            "\"abc\" is not a number; expected a number like 0.5, -3 or 1e-3"
        );
        assert_eq!(
            shown(&parse_feature(b"").unwrap_err()),
            "empty cell, expected a number (missing values are not supported)"
        );
        assert_eq!(
            shown(&parse_feature(b"inf").unwrap_err()),
            "\"inf\" is not a finite number; features must be finite (no NaN or infinity)"
        );
        assert_eq!(
            shown(&parse_feature(b"1e39").unwrap_err()),
            "\"1e39\" is too large for f32 (largest magnitude about 3.4e38)"
        );
        assert_eq!(
            shown(&parse_label(b"-1").unwrap_err()),
            "label \"-1\": negative; labels are class numbers 0, 1, 2, ... (for -1/+1 labels, \
             map -1 to 0 first)"
        );
        assert_eq!(
            shown(&parse_label(b"7e4").unwrap_err()),
            "label \"7e4\": too large; labels go up to 65535"
        );
        assert_eq!(
            shown(&parse_label(b"setosa").unwrap_err()),
            "label \"setosa\" is not a class number; expected a whole number 0, 1, 2, ... (map \
             class names to numbers first)"
        );
        assert_eq!(
            shown(&parse_label(b" ").unwrap_err()),
            "label \" \" is not a class number; expected a whole number 0, 1, 2, ..."
        );
        assert_eq!(
            shown(&parse_label(b"").unwrap_err()),
            "empty label, expected a class number 0, 1, 2, ..."
        );
        assert_eq!(label_from_f64(0.5), Err(LabelValueError::NotWhole));
        assert_eq!(
            shown(&label_from_f64(f64::NAN).unwrap_err()),
            "not finite; expected a class number 0, 1, 2, ..."
        );
    }
}
