//! What every fuzz target checks on a reader's answer.

use sooth::data::{DataError, Parsed};

/// An accepted table is consistent; a rejection names a file and says why.
pub fn check(result: Result<Parsed, DataError>) {
    match result {
        Ok(parsed) => {
            let t = &parsed.table;
            assert!(t.width >= 1, "width 0 accepted");
            assert!(!t.is_empty(), "empty table accepted");
            assert_eq!(t.features.len(), t.len() * t.width, "ragged table");
            assert!(
                t.features.iter().all(|x| x.is_finite()),
                "non-finite feature"
            );
            let span = t.labels.iter().map(|&l| usize::from(l) + 1).max();
            assert_eq!(
                Some(t.classes),
                span,
                "classes is not the largest label + 1"
            );
            if t.classes >= 2 {
                assert!(t.dataset().is_ok(), "the core rejects the table");
            }
        }
        Err(error) => {
            let text = error.to_string();
            assert!(!error.message.is_empty(), "error without a reason");
            assert!(error.file.is_some(), "error without a file: {text}");
        }
    }
}
