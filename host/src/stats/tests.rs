//! Tests of every statistic against SciPy / statsmodels.
//!
//! The data tables are the literals of `reference.py` (next to this file); the expected numbers
//! were printed by that script (SciPy 1.17.1, statsmodels 0.15.0, pandas 3.1.1, numpy 2.4.6),
//! and each test quotes the call that produced them. Agreement is required to 1e-6 relative, or
//! 1e-9 absolute for values near 0.

use super::anova::{self, Factor, SsType, TwoFactor};
use super::nonparametric::kruskal_wallis;
use super::posthoc::{self, Adjust};
use super::variance::{self, Center};
use super::{Group, StatsError, Summary, Transform, percentile};

#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = (1e-6 * expected.abs()).max(1e-9);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual:e}, reference {expected:e} (difference {:e})",
        (actual - expected).abs()
    );
}

#[track_caller]
fn assert_some_close(actual: Option<f64>, expected: f64, what: &str) {
    match actual {
        Some(a) => assert_close(a, expected, what),
        None => panic!("{what}: got None, reference {expected:e}"),
    }
}

/// Data tables, the same literals as in `reference.py`.
mod data {
    use super::*;

    pub type Cells = &'static [(&'static str, &'static str, &'static [f64])];

    /// `UNBALANCED_3X4`: 3 optimizers x 4 batch sizes, 2..6 runs per cell, with interaction.
    pub const UNBALANCED_3X4: Cells = &[
        ("adam", "b0016", &[0.93, 0.9336, 0.9267]),
        ("adam", "b0064", &[0.9243, 0.9295, 0.9231, 0.9357, 0.9511]),
        ("adam", "b0256", &[0.9141, 0.9126]),
        (
            "adam",
            "b1024",
            &[0.9059, 0.9043, 0.9013, 0.8888, 0.8996, 0.9083],
        ),
        ("lbfgs", "b0016", &[0.9339, 0.9445, 0.9272, 0.9345]),
        ("lbfgs", "b0064", &[0.9329, 0.9522]),
        (
            "lbfgs",
            "b0256",
            &[0.9248, 0.9433, 0.9419, 0.9378, 0.9098, 0.9335],
        ),
        ("lbfgs", "b1024", &[0.8794, 0.8814, 0.8616]),
        ("sgd", "b0016", &[0.8743, 0.8683, 0.8703, 0.8927, 0.8703]),
        ("sgd", "b0064", &[0.9046, 0.9156, 0.898]),
        ("sgd", "b0256", &[0.8887, 0.8913, 0.8908, 0.8753]),
        ("sgd", "b1024", &[0.8709, 0.8863]),
    ];

    /// `BALANCED_2X2`: 3 observations per cell.
    pub const BALANCED_2X2: Cells = &[
        ("cg", "large", &[12.04, 7.44, 10.42]),
        ("cg", "small", &[10.23, 10.35, 10.58]),
        ("sgd", "large", &[9.48, 11.27, 10.63]),
        ("sgd", "small", &[15.62, 12.53, 11.95]),
    ];

    /// `CROSSOVER_2X3`: unbalanced, strong crossover interaction.
    pub const CROSSOVER_2X3: Cells = &[
        ("lbfgs", "b032", &[0.8005, 0.8204]),
        ("lbfgs", "b128", &[0.8784, 0.8523, 0.8555, 0.8521]),
        ("lbfgs", "b512", &[0.9185, 0.9092, 0.9212]),
        ("sgd", "b032", &[0.8723, 0.9235, 0.8986, 0.9102, 0.898]),
        ("sgd", "b128", &[0.8643, 0.8769]),
        ("sgd", "b512", &[0.8324, 0.817, 0.8177]),
    ];

    /// Levels in first-appearance order (= sorted order, as pandas uses).
    fn levels(
        cells: Cells,
        pick: fn(&(&'static str, &'static str, &[f64])) -> &'static str,
    ) -> Vec<String> {
        let mut levels: Vec<String> = Vec::new();
        for cell in cells {
            let level = pick(cell).to_string();
            if !levels.contains(&level) {
                levels.push(level);
            }
        }
        levels
    }

    pub fn two_factor(cells: Cells) -> TwoFactor {
        let mut table = TwoFactor::new(
            Factor::new("a", levels(cells, |c| c.0)),
            Factor::new("b", levels(cells, |c| c.1)),
        )
        .unwrap();
        for (a, b, ys) in cells {
            for &y in *ys {
                table.push(a, b, y).unwrap();
            }
        }
        table
    }

    /// The cells as groups, in table order (`groups(cells)` in reference.py).
    pub fn groups(cells: Cells) -> Vec<Group> {
        two_factor(cells).groups()
    }
}

use data::{BALANCED_2X2, CROSSOVER_2X3, UNBALANCED_3X4, groups, two_factor};

// --- Summary ---------------------------------------------------------------------------------

#[test]
fn summary_matches_numpy_odd_n() {
    // x = np.array([3.5, -1.25, 7.0, 2.0, 2.0, 10.5, 0.75])
    // [len(x), x.mean(), x.std(ddof=1), x.var(ddof=1), x.min(), np.percentile(x, 5),
    //  np.median(x), x.max()]
    let s = Summary::of(&[3.5, -1.25, 7.0, 2.0, 2.0, 10.5, 0.75]).unwrap();
    assert_eq!(s.n, 7);
    assert_close(s.mean, 3.5, "mean");
    assert_some_close(s.sd, 3.9973949850704855, "sd");
    assert_some_close(s.variance, 15.979166666666666, "variance");
    assert_eq!(s.min, -1.25);
    assert_close(s.p5, -0.6499999999999999, "p5");
    assert_eq!(s.median, 2.0);
    assert_eq!(s.max, 10.5);
}

#[test]
fn summary_matches_numpy_even_n() {
    // x = np.array([0.93, 0.9336, 0.9267, 0.9243, 0.9295, 0.9231, 0.9357, 0.9511]); same calls
    let s = Summary::of(&[0.93, 0.9336, 0.9267, 0.9243, 0.9295, 0.9231, 0.9357, 0.9511]).unwrap();
    assert_eq!(s.n, 8);
    assert_close(s.mean, 0.93175, "mean");
    assert_some_close(s.sd, 0.00892348426504866, "sd");
    assert_some_close(s.variance, 7.962857142857102e-05, "variance");
    assert_eq!(s.min, 0.9231);
    assert_close(s.p5, 0.92352, "p5");
    assert_close(s.median, 0.9297500000000001, "median");
    assert_eq!(s.max, 0.9511);
}

#[test]
fn summary_of_one_value_has_no_spread_and_constant_has_zero() {
    let one = Summary::of(&[4.25]).unwrap();
    assert_eq!(
        (one.n, one.mean, one.min, one.p5, one.median),
        (1, 4.25, 4.25, 4.25, 4.25)
    );
    assert_eq!((one.sd, one.variance), (None, None));
    // 0.1 * 3 / 3 != 0.1 in floating point; the constant sample must still have sd exactly 0.
    let constant = Summary::of(&[0.1, 0.1, 0.1]).unwrap();
    assert_eq!((constant.sd, constant.variance), (Some(0.0), Some(0.0)));
}

#[test]
fn summary_rejects_empty_and_non_finite() {
    assert_eq!(
        Summary::of(&[]),
        Err(StatsError::Empty {
            location: "the sample".into()
        })
    );
    let err = Summary::of(&[1.0, f64::NAN]).unwrap_err();
    assert!(
        matches!(err, StatsError::NotFinite { index: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "observation 2 of the sample is NaN; statistics need finite numbers"
    );
    assert!(Summary::of(&[f64::INFINITY]).is_err());
}

#[test]
fn percentile_interpolates_like_numpy() {
    // np.percentile([1, 2, 3, 4], [0, 10, 25, 50, 90, 100])
    // -> [1.0, 1.3, 1.75, 2.5, 3.7, 4.0]
    let x = [4.0, 1.0, 3.0, 2.0];
    for (q, expected) in [
        (0.0, 1.0),
        (10.0, 1.3),
        (25.0, 1.75),
        (50.0, 2.5),
        (90.0, 3.7),
        (100.0, 4.0),
    ] {
        assert_close(percentile(&x, q).unwrap(), expected, &format!("q = {q}"));
    }
    assert!(matches!(
        percentile(&x, 101.0),
        Err(StatsError::OutOfRange { .. })
    ));
    assert!(matches!(
        percentile(&x, f64::NAN),
        Err(StatsError::OutOfRange { .. })
    ));
}

// --- Two-factor ANOVA ------------------------------------------------------------------------

/// Expected `[sum_sq, df, F, p]` for A, B, A:B and Residual (whose F and p are NaN in
/// statsmodels and `None` here).
type Expected = [[f64; 4]; 4];

#[track_caller]
fn check_anova(cells: data::Cells, ss_type: SsType, transform: Transform, expected: Expected) {
    let table = anova::two_way(&two_factor(cells), ss_type, transform).unwrap();
    assert_eq!((table.ss_type, table.transform), (ss_type, transform));
    let n: usize = cells.iter().map(|c| c.2.len()).sum();
    assert_eq!(table.n_observations, n);
    let terms = ["a", "b", "a:b", "Residual"];
    for ((row, want), term) in table.rows().into_iter().zip(expected).zip(terms) {
        assert_eq!(row.term, term);
        assert_eq!(row.df as f64, want[1], "{term} df");
        assert_close(row.sum_sq, want[0], &format!("{term} sum_sq"));
        assert_close(row.mean_sq, want[0] / want[1], &format!("{term} mean_sq"));
        if term == "Residual" {
            assert_eq!((row.f, row.p_value), (None, None));
        } else {
            assert_some_close(row.f, want[2], &format!("{term} F"));
            assert_some_close(row.p_value, want[3], &format!("{term} p"));
        }
    }
}

const NAN: f64 = f64::NAN;

// The ANOVA references come from (reference.py, function `anova`):
//   d = frame(CELLS)                      # columns a, b, y; one row per observation
//   d["y"] = np.log(d["y"])               # only for the Ln cases
//   anova_lm(ols("y ~ C(a) * C(b)", d).fit(), typ=2)
//   anova_lm(ols("y ~ C(a, Sum) * C(b, Sum)", d).fit(), typ=3)
// taking columns [sum_sq, df, F, PR(>F)] of the rows other than Intercept.

#[test]
fn anova_unbalanced_3x4_type2() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [0.014021516709791848, 2.0, 76.67194082615627, 3.938040999837282e-13],
        [0.00967889032288698, 3.0, 35.28383419372438, 2.0852624651399837e-10],
        [0.004424714956875242, 6.0, 8.065021076006536, 2.1006135741911325e-05],
        [0.003017466666666664, 33.0, NAN, NAN],
    ];
    check_anova(UNBALANCED_3X4, SsType::II, Transform::Identity, EXPECTED);
}

#[test]
fn anova_unbalanced_3x4_type3() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [0.009504896558007568, 2.0, 51.97432499904722, 6.342741952430856e-11],
        [0.008423304686365318, 3.0, 30.706669463352895, 1.1438138930348348e-09],
        [0.00442471495687507, 6.0, 8.065021076006222, 2.1006135741918626e-05],
        [0.003017466666666664, 33.0, NAN, NAN],
    ];
    check_anova(UNBALANCED_3X4, SsType::III, Transform::Identity, EXPECTED);
}

#[test]
fn anova_unbalanced_3x4_type2_ln() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [0.01703271107298987, 2.0, 77.25948621730333, 3.550045903846776e-13],
        [0.011735649381480575, 3.0, 35.4881943633512, 1.9402877125129607e-10],
        [0.0054617251775813305, 6.0, 8.258033209780583, 1.6927335496170053e-05],
        [0.00363760809790876, 33.0, NAN, NAN],
    ];
    check_anova(UNBALANCED_3X4, SsType::II, Transform::Ln, EXPECTED);
}

#[test]
fn anova_unbalanced_3x4_type3_ln() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [0.01153109414144113, 2.0, 52.30443967923861, 5.858864433269202e-11],
        [0.010240750353908938, 3.0, 30.9676718494659, 1.0329936256151813e-09],
        [0.005461725177581348, 6.0, 8.258033209780608, 1.692733549616961e-05],
        [0.00363760809790876, 33.0, NAN, NAN],
    ];
    check_anova(UNBALANCED_3X4, SsType::III, Transform::Ln, EXPECTED);
}

#[test]
fn anova_balanced_2x2_type2() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [9.048033333333354, 1.0, 3.5514864860444746, 0.09623126578869105],
        [8.300033333333328, 1.0, 3.2578854576558354, 0.1087252444736275],
        [4.637633333333324, 1.0, 1.8203394598342901, 0.21421264923420563],
        [20.381399999999992, 8.0, NAN, NAN],
    ];
    check_anova(BALANCED_2X2, SsType::II, Transform::Identity, EXPECTED);
}

#[test]
fn anova_balanced_2x2_type3() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [9.048033333333324, 1.0, 3.551486486044463, 0.09623126578869153],
        [8.300033333333287, 1.0, 3.2578854576558194, 0.10872524447362822],
        [4.637633333333349, 1.0, 1.8203394598343, 0.2142126492342045],
        [20.381399999999992, 8.0, NAN, NAN],
    ];
    check_anova(BALANCED_2X2, SsType::III, Transform::Identity, EXPECTED);
}

#[test]
fn anova_balanced_2x2_type2_ln() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [0.07243336682638364, 1.0, 3.238326486511848, 0.10963088182718146],
        [0.0682286392221104, 1.0, 3.0503429456925657, 0.11885973822596564],
        [0.024296054017541646, 1.0, 1.0862197725989078, 0.32777923516421414],
        [0.17894024491497146, 8.0, NAN, NAN],
    ];
    check_anova(BALANCED_2X2, SsType::II, Transform::Ln, EXPECTED);
}

#[test]
fn anova_balanced_2x2_type3_ln() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [0.07243336682638297, 1.0, 3.238326486511819, 0.10963088182718277],
        [0.06822863922210927, 1.0, 3.0503429456925155, 0.11885973822596828],
        [0.024296054017542045, 1.0, 1.0862197725989258, 0.32777923516421037],
        [0.17894024491497143, 8.0, NAN, NAN],
    ];
    check_anova(BALANCED_2X2, SsType::III, Transform::Ln, EXPECTED);
}

#[test]
fn anova_crossover_interaction_type2() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [1.4331524341587079e-06, 1.0, 0.007711923031666341, 0.9313600340047956],
        [0.0003726252476722577, 2.0, 1.002565100966025, 0.3936165011253434],
        [0.02498527658566079, 2.0, 67.2240179624093, 1.3946921050014943e-07],
        [0.0024158671666666704, 13.0, NAN, NAN],
    ];
    check_anova(CROSSOVER_2X3, SsType::II, Transform::Identity, EXPECTED);
}

#[test]
fn anova_crossover_interaction_type3() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [2.4231245406820454e-05, 1.0, 0.13039052586790212, 0.7238278897073149],
        [0.0005843751331470969, 2.0, 1.5722877556621142, 0.24460126063613302],
        [0.02498527658566089, 2.0, 67.22401796240958, 1.3946921050014615e-07],
        [0.0024158671666666704, 13.0, NAN, NAN],
    ];
    check_anova(CROSSOVER_2X3, SsType::III, Transform::Identity, EXPECTED);
}

#[test]
fn anova_crossover_interaction_type2_ln() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [6.340472473413578e-06, 1.0, 0.026259627807477957, 0.8737594583391275],
        [0.00039563493760649566, 2.0, 0.8192785516177786, 0.4622671445765491],
        [0.03360048281921863, 2.0, 69.57968642589245, 1.1368160007649745e-07],
        [0.003138892247776033, 13.0, NAN, NAN],
    ];
    check_anova(CROSSOVER_2X3, SsType::II, Transform::Ln, EXPECTED);
}

#[test]
fn anova_crossover_interaction_type3_ln() {
    #[rustfmt::skip]
    const EXPECTED: Expected = [
        [4.631342887520812e-05, 1.0, 0.1918111638920665, 0.6686024083402388],
        [0.0008269418064765368, 2.0, 1.7124263331772123, 0.21871176904562922],
        [0.033600482819218624, 2.0, 69.57968642589245, 1.1368160007649745e-07],
        [0.0031388922477760327, 13.0, NAN, NAN],
    ];
    check_anova(CROSSOVER_2X3, SsType::III, Transform::Ln, EXPECTED);
}

#[test]
fn anova_does_not_depend_on_level_order() {
    // Sum-to-zero coding makes Type III invariant to which level comes last; check by reversing
    // both factors' levels of the unbalanced table.
    let original = two_factor(UNBALANCED_3X4);
    let reverse = |f: &Factor| Factor::new(f.name.clone(), f.levels.iter().rev().cloned());
    let mut reversed =
        TwoFactor::new(reverse(original.factor_a()), reverse(original.factor_b())).unwrap();
    for (a, b, ys) in UNBALANCED_3X4 {
        for &y in *ys {
            reversed.push(a, b, y).unwrap();
        }
    }
    for ss_type in [SsType::II, SsType::III] {
        let x = anova::two_way(&original, ss_type, Transform::Identity).unwrap();
        let y = anova::two_way(&reversed, ss_type, Transform::Identity).unwrap();
        for (rx, ry) in x.rows().into_iter().zip(y.rows()) {
            assert_close(ry.sum_sq, rx.sum_sq, &format!("{ss_type:?} {}", rx.term));
        }
    }
}

#[test]
fn anova_rejects_a_factor_with_one_level() {
    let mut table = TwoFactor::new(
        Factor::new("optimizer", ["lbfgs"]),
        Factor::new("batch", ["64", "256"]),
    )
    .unwrap();
    for (b, y) in [("64", 0.9), ("64", 0.91), ("256", 0.8), ("256", 0.82)] {
        table.push("lbfgs", b, y).unwrap();
    }
    let err = anova::two_way(&table, SsType::III, Transform::Identity).unwrap_err();
    assert_eq!(
        err,
        StatsError::TooFewLevels {
            factor: "optimizer".into(),
            levels: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "factor 'optimizer' has 1 level(s); a factor needs at least 2 levels to have an effect"
    );
}

#[test]
fn anova_names_the_empty_cell() {
    let mut table = two_factor(BALANCED_2X2);
    // Rebuild without the (sgd, small) cell.
    let mut partial = TwoFactor::new(table.factor_a().clone(), table.factor_b().clone()).unwrap();
    for (a, b, ys) in BALANCED_2X2
        .iter()
        .filter(|c| (c.0, c.1) != ("sgd", "small"))
    {
        for &y in *ys {
            partial.push(a, b, y).unwrap();
        }
    }
    for ss_type in [SsType::II, SsType::III] {
        let err = anova::two_way(&partial, ss_type, Transform::Identity).unwrap_err();
        assert_eq!(
            err,
            StatsError::EmptyCell {
                factor_a: "a".into(),
                level_a: "sgd".into(),
                factor_b: "b".into(),
                level_b: "small".into(),
            }
        );
        assert!(
            err.to_string()
                .starts_with("cell (a = sgd, b = small) has no observations")
        );
    }
    // The complete table works.
    table.push("sgd", "small", 12.0).unwrap();
    assert!(anova::two_way(&table, SsType::III, Transform::Identity).is_ok());
}

#[test]
fn anova_rejects_one_observation_per_cell() {
    let mut table =
        TwoFactor::new(Factor::new("a", ["x", "y"]), Factor::new("b", ["u", "v"])).unwrap();
    for (a, b, y) in [
        ("x", "u", 1.0),
        ("x", "v", 2.0),
        ("y", "u", 3.0),
        ("y", "v", 5.0),
    ] {
        table.push(a, b, y).unwrap();
    }
    assert_eq!(
        anova::two_way(&table, SsType::II, Transform::Identity).unwrap_err(),
        StatsError::NoResidualDf {
            observations: 4,
            parameters: 4
        }
    );
    // One more observation anywhere gives one residual degree of freedom.
    table.push("y", "v", 5.5).unwrap();
    let result = anova::two_way(&table, SsType::II, Transform::Identity).unwrap();
    assert_eq!(result.residual.df, 1);
    assert_close(result.residual.sum_sq, 0.125, "residual of (5, 5.5)");
}

#[test]
fn anova_rejects_non_finite_and_non_positive_under_ln() {
    let mut table = two_factor(BALANCED_2X2);
    table.push("cg", "small", f64::NAN).unwrap();
    let err = anova::two_way(&table, SsType::III, Transform::Identity).unwrap_err();
    assert_eq!(
        err.to_string(),
        "observation 4 of cell (a = cg, b = small) is NaN; statistics need finite numbers"
    );
    assert!(
        matches!(err, StatsError::NotFinite { index: 3, .. }),
        "{err:?}"
    );

    let mut table = two_factor(BALANCED_2X2);
    table.push("sgd", "large", 0.0).unwrap();
    assert!(anova::two_way(&table, SsType::III, Transform::Identity).is_ok());
    let err = anova::two_way(&table, SsType::III, Transform::Ln).unwrap_err();
    assert_eq!(
        err,
        StatsError::NotPositiveUnderLn {
            location: "cell (a = sgd, b = large)".into(),
            index: 3,
            value: 0.0,
        }
    );
    assert_eq!(
        err.to_string(),
        "observation 4 of cell (a = sgd, b = large) is 0; the ln transform needs values above 0"
    );
}

#[test]
fn anova_with_zero_residual_variance_reports_no_f() {
    // Every run identical within its cell: sums of squares are still exact, F and p undefined.
    let mut table =
        TwoFactor::new(Factor::new("a", ["x", "y"]), Factor::new("b", ["u", "v"])).unwrap();
    for (a, b, y) in [
        ("x", "u", 0.1),
        ("x", "v", 0.2),
        ("y", "u", 0.3),
        ("y", "v", 0.7),
    ] {
        for _ in 0..3 {
            table.push(a, b, y).unwrap();
        }
    }
    for ss_type in [SsType::II, SsType::III] {
        let result = anova::two_way(&table, ss_type, Transform::Identity).unwrap();
        assert_eq!(result.residual.sum_sq, 0.0);
        for row in result.rows() {
            assert_eq!((row.f, row.p_value), (None, None), "{}", row.term);
        }
        // anova_lm(ols('y ~ C(a, Sum) * C(b, Sum)', d).fit(), typ=3) and the typ=2 call give
        // sum_sq 0.3675, 0.1875, 0.0675 and a residual of ~3e-31 (rounding), hence F ~ 1e31.
        assert_close(result.a.sum_sq, 0.3675, "A SS");
        assert_close(result.b.sum_sq, 0.1875, "B SS");
        assert_close(result.interaction.sum_sq, 0.0675, "interaction SS");
    }
}

#[test]
fn two_factor_rejects_duplicate_and_unknown_levels() {
    assert_eq!(
        TwoFactor::new(
            Factor::new("batch", ["64", "64"]),
            Factor::new("o", ["x", "y"])
        )
        .unwrap_err(),
        StatsError::DuplicateLevel {
            factor: "batch".into(),
            level: "64".into()
        }
    );
    let mut table = two_factor(BALANCED_2X2);
    assert_eq!(
        table.push("cg", "medium", 1.0).unwrap_err(),
        StatsError::UnknownLevel {
            factor: "b".into(),
            level: "medium".into()
        }
    );
    assert_eq!(table.len(), 12);
    let names: Vec<String> = table.groups().into_iter().map(|g| g.name).collect();
    assert_eq!(names, ["cg:large", "cg:small", "sgd:large", "sgd:small"]);
}

// --- One-way ANOVA -----------------------------------------------------------------------------

#[test]
fn one_way_matches_f_oneway() {
    // stats.f_oneway(*groups(UNBALANCED_3X4)) -> (25.73608324864131, 4.601591140037842e-13)
    let r = anova::one_way(&groups(UNBALANCED_3X4)).unwrap();
    assert_eq!((r.between.df, r.within.df), (11, 33));
    assert_some_close(r.between.f, 25.73608324864131, "F unbalanced");
    assert_some_close(r.between.p_value, 4.601591140037842e-13, "p unbalanced");
    // stats.f_oneway(*groups(BALANCED_2X2)) -> (2.8765704678448643, 0.10317400041925036)
    let r = anova::one_way(&groups(BALANCED_2X2)).unwrap();
    assert_eq!((r.between.df, r.within.df), (3, 8));
    assert_some_close(r.between.f, 2.8765704678448643, "F balanced");
    assert_some_close(r.between.p_value, 0.10317400041925036, "p balanced");
    // The within SS is the two-factor residual SS of the same cells (statsmodels, above).
    assert_close(r.within.sum_sq, 20.381399999999992, "within SS");
}

#[test]
fn one_way_edge_cases() {
    let g = |name: &str, v: &[f64]| Group::new(name, v.to_vec());
    assert_eq!(
        anova::one_way(&[g("x", &[1.0, 2.0])]).unwrap_err(),
        StatsError::TooFewGroups {
            found: 1,
            needed: 2
        }
    );
    assert_eq!(
        anova::one_way(&[g("x", &[1.0]), g("y", &[2.0])]).unwrap_err(),
        StatsError::NoResidualDf {
            observations: 2,
            parameters: 2
        }
    );
    assert_eq!(
        anova::one_way(&[g("x", &[1.0]), g("empty", &[])]).unwrap_err(),
        StatsError::Empty {
            location: "group 'empty'".into()
        }
    );
    let constant = anova::one_way(&[g("x", &[0.1, 0.1]), g("y", &[0.3, 0.3])]).unwrap();
    assert_eq!((constant.between.f, constant.between.p_value), (None, None));
    assert_close(
        constant.between.sum_sq,
        0.04,
        "between SS of constant groups",
    );
}

// --- Levene / Brown-Forsythe -------------------------------------------------------------------

#[test]
fn levene_and_brown_forsythe_match_scipy_unbalanced() {
    // stats.levene(*groups(UNBALANCED_3X4), center='mean')   -> (0.9590631800380044, 0.5003285061756235)
    // stats.levene(*groups(UNBALANCED_3X4), center='median') -> (0.4410367249318557, 0.92528915645986)
    let gs = groups(UNBALANCED_3X4);
    let l = variance::levene(&gs).unwrap();
    assert_eq!(
        (l.center, l.df_between, l.df_within),
        (Center::Mean, 11, 33)
    );
    assert_some_close(l.statistic, 0.9590631800380044, "Levene W");
    assert_some_close(l.p_value, 0.5003285061756235, "Levene p");
    let bf = variance::brown_forsythe(&gs).unwrap();
    assert_eq!(bf.center, Center::Median);
    assert_some_close(bf.statistic, 0.4410367249318557, "Brown-Forsythe W");
    assert_some_close(bf.p_value, 0.92528915645986, "Brown-Forsythe p");
}

#[test]
fn levene_and_brown_forsythe_match_scipy_balanced() {
    // stats.levene(*groups(BALANCED_2X2), center='mean')   -> (3.39502380395525, 0.07409216549676395)
    // stats.levene(*groups(BALANCED_2X2), center='median') -> (0.916441531216322, 0.47527719297613835)
    let gs = groups(BALANCED_2X2);
    let l = variance::levene(&gs).unwrap();
    assert_eq!((l.df_between, l.df_within), (3, 8));
    assert_some_close(l.statistic, 3.39502380395525, "Levene W");
    assert_some_close(l.p_value, 0.07409216549676395, "Levene p");
    let bf = variance::brown_forsythe(&gs).unwrap();
    assert_some_close(bf.statistic, 0.916441531216322, "Brown-Forsythe W");
    assert_some_close(bf.p_value, 0.47527719297613835, "Brown-Forsythe p");
}

#[test]
fn levene_with_no_spread_of_deviations_reports_none() {
    let g = |name: &str, v: &[f64]| Group::new(name, v.to_vec());
    // Two observations per group: both deviations from the centre are equal in every group.
    let pairs = [
        g("x", &[0.91, 0.93]),
        g("y", &[0.85, 0.95]),
        g("z", &[0.9, 0.9]),
    ];
    // All groups constant.
    let constant = [g("x", &[0.3, 0.3, 0.3]), g("y", &[0.7, 0.7])];
    for gs in [&pairs[..], &constant[..]] {
        for test in [
            variance::levene(gs).unwrap(),
            variance::brown_forsythe(gs).unwrap(),
        ] {
            assert_eq!((test.statistic, test.p_value), (None, None), "{gs:?}");
        }
    }
    // One constant group among spread ones is fine.
    let mixed = [g("x", &[0.3, 0.3, 0.3]), g("y", &[0.7, 0.8, 1.0])];
    assert!(variance::levene(&mixed).unwrap().statistic.is_some());
    assert_eq!(
        variance::levene(&[g("x", &[1.0]), g("y", &[2.0])]).unwrap_err(),
        StatsError::NoResidualDf {
            observations: 2,
            parameters: 2
        }
    );
}

// --- Pairwise Welch ----------------------------------------------------------------------------

/// Per pair (i, j): `[t, df, p, diff, ci_low, ci_high, p_holm, p_bonferroni]` from (reference.py,
/// function `pairwise`):
///   res = stats.ttest_ind(gs[i], gs[j], equal_var=False)
///   ci = res.confidence_interval(0.95); diff = gs[i].mean() - gs[j].mean()
///   multipletests([all p], method='holm')[1], multipletests([all p], method='bonferroni')[1]
type PairExpected = (usize, usize, [f64; 8]);

#[track_caller]
fn check_pairwise(gs: &[Group], expected: &[PairExpected]) {
    let holm = posthoc::pairwise_welch(gs, Adjust::Holm).unwrap();
    let bonferroni = posthoc::pairwise_welch(gs, Adjust::Bonferroni).unwrap();
    let none = posthoc::pairwise_welch(gs, Adjust::None).unwrap();
    assert_eq!(holm.comparisons.len(), expected.len());
    assert_eq!(holm.confidence, 0.95);
    for (k, &(i, j, want)) in expected.iter().enumerate() {
        let c = &holm.comparisons[k];
        let what = |s: &str| format!("({i}, {j}) {s}");
        assert_eq!(
            (c.first.as_str(), c.second.as_str()),
            (gs[i].name.as_str(), gs[j].name.as_str())
        );
        assert_some_close(c.t, want[0], &what("t"));
        assert_some_close(c.df, want[1], &what("df"));
        assert_some_close(c.p_value, want[2], &what("p"));
        assert_close(c.mean_difference, want[3], &what("mean difference"));
        assert_some_close(c.ci_low, want[4], &what("ci low"));
        assert_some_close(c.ci_high, want[5], &what("ci high"));
        assert_some_close(c.p_adjusted, want[6], &what("Holm"));
        assert_some_close(
            bonferroni.comparisons[k].p_adjusted,
            want[7],
            &what("Bonferroni"),
        );
        assert_eq!(none.comparisons[k].p_adjusted, c.p_value);
    }
}

#[test]
fn pairwise_welch_matches_scipy_balanced() {
    // pairwise("balanced_2x2", groups(BALANCED_2X2))
    #[rustfmt::skip]
    const EXPECTED: &[PairExpected] = &[
        (0, 1, [-0.3108761829803557, 2.0232413597666143, 0.7850041363081237, -0.41999999999999815, -6.169447639789115, 5.329447639789119, 1.0, 1.0]),
        (0, 2, [-0.34133200801139885, 2.5909715971648435, 0.7586185053203891, -0.49333333333333407, -5.53234490034592, 4.545678233679252, 1.0, 1.0]),
        (0, 3, [-1.9273056506211557, 3.8924537845161624, 0.12816880149944754, -3.3999999999999986, -8.351819844115173, 1.551819844115177, 0.6549670240684567, 0.7690128089966852]),
        (1, 2, [-0.13741950433499303, 2.1535754663630002, 0.9024828065606605, -0.07333333333333591, -2.219438126060643, 2.0727714593939712, 1.0, 1.0]),
        (1, 3, [-2.6056721468712314, 2.032507037772528, 0.11914811386948373, -2.9800000000000004, -7.8261128376547076, 1.8661128376547067, 0.6549670240684567, 0.7148886832169024]),
        (2, 3, [-2.3185586133033893, 2.80932048671776, 0.10916117067807612, -2.9066666666666645, -7.0540050066972775, 1.2406716733639485, 0.6549670240684567, 0.6549670240684567]),
    ];
    check_pairwise(&groups(BALANCED_2X2), EXPECTED);
}

#[test]
fn pairwise_welch_matches_scipy_unbalanced() {
    // pairwise("crossover_2x3", groups(CROSSOVER_2X3))
    #[rustfmt::skip]
    const EXPECTED: &[PairExpected] = &[
        (0, 1, [-4.166956081767261, 1.869180034041341, 0.05951682271426201, -0.049124999999999974, -0.10340840523553144, 0.005158405235531481, 0.2914936676562983, 0.8927523407139302]),
        (0, 2, [-9.992409952353743, 1.273330694437338, 0.03643670845703729, -0.10585, -0.18817330753315203, -0.02352669246684798, 0.2914936676562983, 0.5465506268555593]),
        (0, 3, [-6.899699928103253, 2.621828736136793, 0.009497891667686989, -0.09006999999999998, -0.1352188452545993, -0.04492115474540068, 0.09497891667686989, 0.14246837501530482]),
        (0, 4, [-5.107509032885661, 1.6907763688904058, 0.05070786343558464, -0.06015000000000004, -0.12082557056294878, 0.0005255705629487045, 0.2914936676562983, 0.7606179515337695]),
        (0, 5, [-1.0692420377442766, 1.5246438729252663, 0.4252098693115218, -0.011916666666666575, -0.0774750658854145, 0.05364173255208135, 0.6087870375944158, 1.0]),
        (1, 2, [-7.777681487694956, 4.562746919845374, 0.0008448526053551764, -0.056725000000000025, -0.07602653328455881, -0.037423466715441236, 0.010983083869617292, 0.012672789080327646]),
        (1, 3, [-3.879488561539735, 6.8640811288024155, 0.006292166071598274, -0.04094500000000001, -0.06600230900358754, -0.01588769099641248, 0.06968013123273799, 0.09438249107397412]),
        (1, 4, [-1.235164905146139, 3.0110058733889744, 0.3043935187972079, -0.011025000000000063, -0.03937265536017588, 0.017322655360175757, 0.6087870375944158, 1.0]),
        (1, 5, [4.608392862735611, 4.996307125219247, 0.005806677602728166, 0.0372083333333334, 0.01644874622080468, 0.05796792044586212, 0.06968013123273799, 0.08710016404092248]),
        (2, 3, [1.715426157427133, 5.25700046937329, 0.14405445507595713, 0.015780000000000016, -0.007522967009645488, 0.03908296700964552, 0.43216336522787135, 1.0]),
        (2, 4, [6.283308220421493, 1.683205385660554, 0.03655275323562266, 0.04569999999999996, 0.008024991482953166, 0.08337500851704677, 0.2914936676562983, 0.5482912985343399]),
        (2, 5, [15.15491880844955, 3.6445481048353847, 0.00020058633074201808, 0.09393333333333342, 0.07604178099279738, 0.11182488567386947, 0.0030087949611302713, 0.0030087949611302713]),
        (3, 4, [2.8386100264575505, 4.330719165889921, 0.042802640882865395, 0.029919999999999947, 0.0015158897215045153, 0.05832411027849538, 0.2914936676562983, 0.6420396132429809]),
        (3, 5, [7.950973980062067, 5.861623239352693, 0.00023651888634639942, 0.07815333333333341, 0.053963341306935204, 0.10234332535973162, 0.0033112644088495917, 0.0035477832951959914]),
        (4, 5, [5.987318527771227, 2.224878273730065, 0.020687808925028906, 0.04823333333333346, 0.016721555419472865, 0.07974511124719405, 0.18619028032526017, 0.3103171338754336]),
    ];
    check_pairwise(&groups(CROSSOVER_2X3), EXPECTED);
}

#[test]
fn adjust_p_values_matches_multipletests() {
    // RAW_P = [0.01, 0.04, 0.03, 0.005, 0.04, 0.5, 0.2, 0.0001]
    // multipletests(RAW_P, method='holm')[1]
    //   -> [0.06, 0.16, 0.15, 0.035, 0.16, 0.5, 0.4, 0.0008]
    // multipletests(RAW_P, method='bonferroni')[1]
    //   -> [0.08, 0.32, 0.24, 0.04, 0.32, 1.0, 1.0, 0.0008]
    let raw = [0.01, 0.04, 0.03, 0.005, 0.04, 0.5, 0.2, 0.0001];
    let holm = posthoc::adjust_p_values(&raw, Adjust::Holm).unwrap();
    let bonferroni = posthoc::adjust_p_values(&raw, Adjust::Bonferroni).unwrap();
    let expected_holm = [0.06, 0.16, 0.15, 0.035, 0.16, 0.5, 0.4, 0.0008];
    let expected_bonferroni = [0.08, 0.32, 0.24, 0.04, 0.32, 1.0, 1.0, 0.0008];
    for k in 0..raw.len() {
        assert_close(holm[k], expected_holm[k], &format!("Holm {k}"));
        assert_close(
            bonferroni[k],
            expected_bonferroni[k],
            &format!("Bonferroni {k}"),
        );
    }
    assert_eq!(posthoc::adjust_p_values(&raw, Adjust::None).unwrap(), raw);
    assert_eq!(
        posthoc::adjust_p_values(&[], Adjust::Holm).unwrap(),
        Vec::<f64>::new()
    );
    assert!(matches!(
        posthoc::adjust_p_values(&[0.5, 1.5], Adjust::Holm),
        Err(StatsError::OutOfRange { value: 1.5, .. })
    ));
    assert!(posthoc::adjust_p_values(&[f64::NAN], Adjust::Bonferroni).is_err());
}

#[test]
fn pairwise_welch_edge_cases() {
    let g = |name: &str, v: &[f64]| Group::new(name, v.to_vec());
    assert_eq!(
        posthoc::pairwise_welch(&[g("x", &[1.0, 2.0]), g("single", &[3.0])], Adjust::Holm)
            .unwrap_err(),
        StatsError::GroupTooSmall {
            group: "single".into(),
            n: 1,
            needed: 2
        }
    );
    // Two diverged cells stuck at chance accuracy, one healthy cell.
    let gs = [
        g("diverged1", &[0.1, 0.1, 0.1]),
        g("diverged2", &[0.1, 0.1]),
        g("healthy", &[0.9, 0.92, 0.95]),
    ];
    let r = posthoc::pairwise_welch(&gs, Adjust::Bonferroni).unwrap();
    let between_diverged = &r.comparisons[0];
    assert_eq!(between_diverged.mean_difference, 0.0);
    assert_eq!(
        (
            between_diverged.t,
            between_diverged.df,
            between_diverged.p_value
        ),
        (None, None, None)
    );
    assert_eq!(between_diverged.p_adjusted, None);
    // Against the healthy cell only that cell's variance counts: df = n - 1 = 2, and the two
    // defined tests form the Bonferroni family (m = 2).
    for c in &r.comparisons[1..] {
        assert_some_close(c.df, 2.0, "df with one constant group");
        let p = c.p_value.unwrap();
        assert_some_close(
            c.p_adjusted,
            (2.0 * p).min(1.0),
            "Bonferroni over 2 defined tests",
        );
    }
}

// --- Kruskal-Wallis ----------------------------------------------------------------------------

#[test]
fn kruskal_wallis_matches_scipy() {
    // stats.kruskal(*groups(UNBALANCED_3X4)) -> (38.44601093616178, 6.576883427389152e-05)
    let r = kruskal_wallis(&groups(UNBALANCED_3X4)).unwrap();
    assert_eq!(r.df, 11);
    assert_some_close(r.statistic, 38.44601093616178, "H unbalanced (one tie)");
    assert_some_close(r.p_value, 6.576883427389152e-05, "p unbalanced");
    // stats.kruskal(*groups(BALANCED_2X2)) -> (5.564102564102562, 0.1348544515978525)
    let r = kruskal_wallis(&groups(BALANCED_2X2)).unwrap();
    assert_eq!(r.df, 3);
    assert_some_close(r.statistic, 5.564102564102562, "H balanced");
    assert_some_close(r.p_value, 0.1348544515978525, "p balanced");
}

#[test]
fn kruskal_wallis_corrects_for_ties() {
    // TIED_GROUPS = [[1, 1, 2, 3], [2, 2, 3], [1, 3, 3, 4, 4]]
    // stats.kruskal(*TIED_GROUPS) -> (3.003027465667918, 0.22279265620861033)
    let gs = [
        Group::new("g1", vec![1.0, 1.0, 2.0, 3.0]),
        Group::new("g2", vec![2.0, 2.0, 3.0]),
        Group::new("g3", vec![1.0, 3.0, 3.0, 4.0, 4.0]),
    ];
    let r = kruskal_wallis(&gs).unwrap();
    assert_eq!(r.df, 2);
    assert_some_close(r.statistic, 3.003027465667918, "H with ties");
    assert_some_close(r.p_value, 0.22279265620861033, "p with ties");
}

#[test]
fn kruskal_wallis_edge_cases() {
    let g = |name: &str, v: &[f64]| Group::new(name, v.to_vec());
    // All observations identical: SciPy raises; we report no statistic.
    let r = kruskal_wallis(&[g("x", &[2.0, 2.0]), g("y", &[2.0])]).unwrap();
    assert_eq!((r.statistic, r.p_value), (None, None));
    // Identical rank means: H = 0, p = 1 (stats.kruskal([1, 4], [2, 3]) -> (0.0, 1.0)).
    let r = kruskal_wallis(&[g("x", &[1.0, 4.0]), g("y", &[2.0, 3.0])]).unwrap();
    assert_some_close(r.statistic, 0.0, "H");
    assert_some_close(r.p_value, 1.0, "p");
    assert_eq!(
        kruskal_wallis(&[g("x", &[1.0])]).unwrap_err(),
        StatsError::TooFewGroups {
            found: 1,
            needed: 2
        }
    );
    let err = kruskal_wallis(&[g("x", &[1.0]), g("y", &[f64::INFINITY])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "observation 1 of group 'y' is inf; statistics need finite numbers"
    );
}

// --- Serialisation -----------------------------------------------------------------------------

#[test]
fn results_serialise_to_json_with_null_for_undefined() {
    let table = anova::two_way(&two_factor(BALANCED_2X2), SsType::III, Transform::Ln).unwrap();
    let json = serde_json::to_value(&table).unwrap();
    assert_eq!(json["ss_type"], "III");
    assert_eq!(json["transform"], "ln");
    assert_eq!(json["interaction"]["term"], "a:b");
    assert_eq!(json["residual"]["f"], serde_json::Value::Null);
    assert_eq!(json["a"]["df"], 1);
}

// --- Robustness --------------------------------------------------------------------------------

#[test]
fn huge_values_are_an_overflow_error_not_nan() {
    let gs = [
        Group::new("x", vec![1e200, -1e200, 5e199]),
        Group::new("y", vec![3e200, 1e200]),
    ];
    let overflow = |r: Result<(), StatsError>| matches!(r, Err(StatsError::Overflow { .. }));
    assert!(overflow(anova::one_way(&gs).map(drop)));
    assert!(overflow(variance::levene(&gs).map(drop)));
    assert!(overflow(
        posthoc::pairwise_welch(&gs, Adjust::Holm).map(drop)
    ));
    assert!(overflow(Summary::of(&gs[0].values).map(drop)));
    // Ranks do not overflow.
    assert!(kruskal_wallis(&gs).unwrap().statistic.is_some());
    let err = anova::one_way(&gs).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn tiny_values_give_the_same_tests_as_rescaled_ones() {
    // Welch df is scale-free; at 1e-100 the variances (1e-200) are fine but their squares
    // (1e-400) underflow, which the textbook Welch-Satterthwaite formula turns into 0/0.
    let scaled = |s: f64| {
        [
            Group::new("x", vec![1.0 * s, 2.0 * s, 3.5 * s]),
            Group::new("y", vec![4.0 * s, 6.0 * s, 5.5 * s, 4.5 * s]),
        ]
    };
    let (tiny, unit) = (scaled(1e-100), scaled(1.0));
    let a = &posthoc::pairwise_welch(&tiny, Adjust::None)
        .unwrap()
        .comparisons[0];
    let b = &posthoc::pairwise_welch(&unit, Adjust::None)
        .unwrap()
        .comparisons[0];
    assert_some_close(a.df, b.df.unwrap(), "Welch df");
    assert_some_close(a.t, b.t.unwrap(), "Welch t");
    assert_some_close(a.p_value, b.p_value.unwrap(), "Welch p");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Finite values of every magnitude, plus a few repeated ones to make ties and constant groups.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            3 => -10.0..10.0f64,
            2 => prop::sample::select(vec![0.0, 0.1, 0.5, 1.0, -1.0]),
            1 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        ]
    }

    fn samples() -> impl Strategy<Value = Vec<Vec<f64>>> {
        prop::collection::vec(prop::collection::vec(value(), 1..7), 0..7)
    }

    #[track_caller]
    fn check_p(p: Option<f64>) {
        if let Some(p) = p {
            assert!((0.0..=1.0).contains(&p), "p-value {p}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any table of finite numbers gives a result or an error; never a panic, never a
        /// p-value outside [0, 1] or a negative sum of squares.
        #[test]
        fn on_any_finite_table(samples in samples(), columns in 1usize..4) {
            let groups: Vec<Group> = samples
                .iter()
                .enumerate()
                .map(|(k, v)| Group::new(format!("g{k}"), v.clone()))
                .collect();
            if let Some(first) = samples.first()
                && let Ok(s) = Summary::of(first)
            {
                prop_assert!(s.min <= s.p5 && s.p5 <= s.median && s.median <= s.max);
                prop_assert!(s.variance.is_none_or(|v| v >= 0.0));
            }
            if let Ok(r) = anova::one_way(&groups) {
                prop_assert!(r.between.sum_sq >= 0.0 && r.within.sum_sq >= 0.0);
                check_p(r.between.p_value);
            }
            for test in [variance::levene(&groups), variance::brown_forsythe(&groups)]
                .into_iter()
                .flatten()
            {
                check_p(test.p_value);
            }
            for adjust in [Adjust::None, Adjust::Holm, Adjust::Bonferroni] {
                if let Ok(r) = posthoc::pairwise_welch(&groups, adjust) {
                    for c in r.comparisons {
                        check_p(c.p_value);
                        check_p(c.p_adjusted);
                    }
                }
            }
            if let Ok(r) = kruskal_wallis(&groups) {
                check_p(r.p_value);
            }
            // Lay the samples out as the cells of a two-factor table, row by row.
            let rows = samples.len().div_ceil(columns).max(1);
            let mut table = TwoFactor::new(
                Factor::new("a", (0..rows).map(|i| format!("a{i}"))),
                Factor::new("b", (0..columns).map(|j| format!("b{j}"))),
            )
            .unwrap();
            for (k, cell) in samples.iter().enumerate() {
                for &y in cell {
                    table
                        .push(&format!("a{}", k / columns), &format!("b{}", k % columns), y)
                        .unwrap();
                }
            }
            for ss_type in [SsType::II, SsType::III] {
                for transform in [Transform::Identity, Transform::Ln] {
                    if let Ok(r) = anova::two_way(&table, ss_type, transform) {
                        for row in r.rows() {
                            prop_assert!(row.sum_sq >= 0.0, "{row:?}");
                            check_p(row.p_value);
                        }
                    }
                }
            }
        }
    }
}
