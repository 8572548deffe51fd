//! The response variable of a study's statistics: which test accuracy of a
//! run the report and `sooth tune` analyse.

use super::load::{Metrics, ReportedResult};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Which test accuracy of a run is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// The best test accuracy over the epochs (the study's response; it
    /// selects the epoch on the test set, so it is optimistic).
    Peak,
    /// The test accuracy at the epoch with the best validation accuracy
    /// (needs a validation split).
    Selected,
    /// The test accuracy after the last epoch.
    Final,
}

impl Response {
    /// Every response, in the order of `--response`'s help.
    pub const ALL: [Response; 3] = [Response::Peak, Response::Selected, Response::Final];

    /// The flag value (`peak`, `selected`, `final`).
    pub fn name(self) -> &'static str {
        match self {
            Response::Peak => "peak",
            Response::Selected => "selected",
            Response::Final => "final",
        }
    }

    /// What it is, for documents, e.g. `peak test accuracy`.
    pub fn words(self) -> &'static str {
        match self {
            Response::Peak => "peak test accuracy",
            Response::Selected => "selected test accuracy",
            Response::Final => "final test accuracy",
        }
    }

    /// The short name in tables and formulas, e.g. `peak accuracy`.
    pub fn short(self) -> &'static str {
        match self {
            Response::Peak => "peak accuracy",
            Response::Selected => "selected accuracy",
            Response::Final => "final accuracy",
        }
    }

    /// How it is measured, for documents.
    pub fn definition(self) -> &'static str {
        match self {
            Response::Peak => {
                "the best test accuracy over a run's epochs (the study's response; the epoch is \
                 chosen on the test set, so it is optimistic)"
            }
            Response::Selected => {
                "the test accuracy at the epoch with the best validation accuracy (the epoch is \
                 chosen without the test set)"
            }
            Response::Final => "the test accuracy after a run's last epoch",
        }
    }

    /// The value of an ok run, as a fraction; `None` when the run has no
    /// such value (`selected` without a validation split).
    pub fn of(self, m: &Metrics) -> Option<f64> {
        match self {
            Response::Peak => Some(m.peak_test_accuracy),
            Response::Selected => m.selected_test_accuracy,
            Response::Final => Some(m.final_test_accuracy),
        }
    }

    /// The value of a `runs.jsonl` result as read leniently (any field may
    /// be absent), as a fraction.
    pub fn of_reported(self, r: &ReportedResult) -> Option<f64> {
        match self {
            Response::Peak => r.peak_test_accuracy,
            Response::Selected => r.selected_test_accuracy,
            Response::Final => r.final_test_accuracy,
        }
    }

    /// The response to use: `requested`, or by default `selected` when
    /// every ok run has a selected test accuracy (the study has a
    /// validation split) and `peak` otherwise, so that sweeps without one
    /// read as before. `runs` are the ok runs' metrics.
    ///
    /// # Errors
    /// [`ResponseError`] when `selected` is asked for and some ok run has
    /// none.
    pub fn resolve<'a>(
        requested: Option<Response>,
        runs: impl IntoIterator<Item = &'a Metrics>,
    ) -> Result<Response, ResponseError> {
        Self::resolve_by(
            requested,
            runs.into_iter().map(|m| m.selected_test_accuracy.is_some()),
        )
    }

    /// [`Response::resolve`] on one flag per ok run: whether it has a
    /// selected test accuracy.
    ///
    /// # Errors
    /// As [`Response::resolve`].
    pub fn resolve_by(
        requested: Option<Response>,
        has_selected: impl IntoIterator<Item = bool>,
    ) -> Result<Response, ResponseError> {
        let (mut ok, mut without) = (0usize, 0usize);
        for has in has_selected {
            ok += 1;
            if !has {
                without += 1;
            }
        }
        match requested {
            Some(Response::Selected) if without > 0 => Err(ResponseError { without, ok }),
            Some(r) => Ok(r),
            None if ok > 0 && without == 0 => Ok(Response::Selected),
            None => Ok(Response::Peak),
        }
    }
}

/// `--response selected` on runs without a validation split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--response selected: {without} of the {ok} ok runs have no selected_test_accuracy (the study \
     has no validation split; give it one with validation_fraction); use --response peak or final"
)]
pub struct ResponseError {
    /// Ok runs without a selected test accuracy.
    pub without: usize,
    /// Ok runs.
    pub ok: usize,
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Response {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Response::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("expected peak, selected or final, not '{s}'"))
    }
}
