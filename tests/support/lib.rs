//! Shared helpers of the project-wide integration tests and benches.

pub mod problems;

/// The digits training split: features as `level / 16` f32 rows, labels.
pub fn digits_train() -> (Vec<f32>, Vec<u16>) {
    digits(
        include_bytes!("../../data/digits/train-levels.u8"),
        include_bytes!("../../data/digits/train-labels.u8"),
    )
}

/// The digits test split: features as `level / 16` f32 rows, labels.
pub fn digits_test() -> (Vec<f32>, Vec<u16>) {
    digits(
        include_bytes!("../../data/digits/test-levels.u8"),
        include_bytes!("../../data/digits/test-labels.u8"),
    )
}

fn digits(levels: &[u8], labels: &[u8]) -> (Vec<f32>, Vec<u16>) {
    (
        levels.iter().map(|&q| f32::from(q) * 0.0625).collect(),
        labels.iter().map(|&y| u16::from(y)).collect(),
    )
}
