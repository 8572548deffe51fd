//! Heatmaps of hyperparameter sensitivity (claim (d)): one per optimizer
//! with more than one configuration, configuration x batch size -> mean
//! peak test accuracy, every cell annotated with its value and the best
//! batch size outlined. All heatmaps of a report share one colour scale
//! (viridis), so their colours compare across optimizers.

use super::figure::{FAMILY, PlotError, save};
use super::plots::Plot;
use super::sensitivity::{OptimizerSensitivity, Sensitivity};
use crate::run::BatchSize;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// File names are `sensitivity_<optimizer>.svg` (and `.png`).
pub const STEM_PREFIX: &str = "sensitivity_";

const COLUMN: i32 = 120;
const ROW: i32 = 38;
const TOP: i32 = 110;
const BOTTOM: i32 = 70;
const BAR: i32 = 130;

/// Viridis (matplotlib), sampled at 0, 1/8, ..., 1 and interpolated.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + f * (f64::from(q) - f64::from(p))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Dark text on the light end of the scale, white on the dark end.
fn ink_on(c: RGBColor) -> RGBColor {
    let luminance = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if luminance > 140.0 { BLACK } else { WHITE }
}

/// The shared colour scale: the lowest and highest configuration mean of
/// every heatmap, widened to whole multiples of 5 points.
fn scale(s: &Sensitivity) -> (f64, f64) {
    let means = s
        .optimizers
        .iter()
        .flat_map(|o| o.spread.iter().flat_map(|x| x.means.iter().flatten()));
    let (lo, hi) = means.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &m| {
        (lo.min(m), hi.max(m))
    });
    if !lo.is_finite() {
        return (0.0, 100.0);
    }
    let lo = (lo / 5.0).floor() * 5.0;
    let hi = ((hi / 5.0).ceil() * 5.0).max(lo + 5.0);
    (lo, hi)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    o: &OptimizerSensitivity,
    batches: &[BatchSize],
    best: Option<BatchSize>,
    (lo, hi): (f64, f64),
    left: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let text = |size: u32| TextStyle::from((FAMILY, size).into_font());
    root.draw(&Text::new(
        format!(
            "{}: mean peak test accuracy (%) by configuration and batch size",
            o.optimizer
        ),
        (20, 20),
        text(24),
    ))?;
    root.draw(&Text::new(
        "each cell: mean over seeds; outlined: the optimizer's best batch size (highest mean over all configurations)",
        (20, 54),
        text(15),
    ))?;
    let right = left + COLUMN * batches.len() as i32;
    for (j, b) in batches.iter().enumerate() {
        let x = left + COLUMN * j as i32 + COLUMN / 2;
        root.draw(&Text::new(
            b.to_string(),
            (x, TOP - 12),
            text(18).pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))?;
    }
    let rows = o.configs.len() as i32;
    root.draw(&Text::new(
        "batch size",
        ((left + right) / 2, TOP + rows * ROW + 30),
        text(18).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    for (i, c) in o.configs.iter().enumerate() {
        let y = TOP + ROW * i as i32;
        root.draw(&Text::new(
            c.label.clone(),
            (left - 12, y + ROW / 2),
            text(16).pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        for (j, b) in batches.iter().enumerate() {
            let x = left + COLUMN * j as i32;
            let mean = o
                .spread
                .iter()
                .find(|s| s.batch_size == *b)
                .and_then(|s| s.means.get(i).copied().flatten());
            let (fill, label) = match mean {
                Some(m) => (viridis((m - lo) / (hi - lo)), format!("{m:.1}")),
                None => (RGBColor(230, 230, 230), "-".to_string()),
            };
            root.draw(&Rectangle::new(
                [(x, y), (x + COLUMN, y + ROW)],
                fill.filled(),
            ))?;
            root.draw(&Text::new(
                label,
                (x + COLUMN / 2, y + ROW / 2),
                text(16)
                    .color(&ink_on(fill))
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
        }
    }
    if let Some(j) = best.and_then(|b| batches.iter().position(|x| *x == b)) {
        let x = left + COLUMN * j as i32;
        root.draw(&Rectangle::new(
            [(x + 1, TOP + 1), (x + COLUMN - 1, TOP + rows * ROW - 1)],
            ShapeStyle::from(&RED).stroke_width(4),
        ))?;
    }
    // Colour bar.
    let bar_x = right + 40;
    let bar_h = (rows * ROW).max(160);
    let steps = 60;
    for k in 0..steps {
        let t0 = k as f64 / steps as f64;
        let y1 = TOP + bar_h - (f64::from(bar_h) * t0) as i32;
        let y0 = TOP + bar_h - (f64::from(bar_h) * (t0 + 1.0 / steps as f64)).ceil() as i32;
        root.draw(&Rectangle::new(
            [(bar_x, y0), (bar_x + 24, y1)],
            viridis(t0 + 0.5 / steps as f64).filled(),
        ))?;
    }
    let step = [5.0, 10.0, 20.0, 25.0, 50.0]
        .into_iter()
        .find(|step| (hi - lo) / step <= 6.0)
        .unwrap_or(100.0);
    let mut v = (lo / step).ceil() * step;
    while v <= hi {
        let y = TOP + bar_h - (f64::from(bar_h) * (v - lo) / (hi - lo)).round() as i32;
        root.draw(&Text::new(
            format!("{v:.0}"),
            (bar_x + 32, y),
            text(15).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        v += step;
    }
    Ok(())
}

/// Writes one heatmap per optimizer of `s` into `dir`, on one colour scale.
///
/// # Errors
/// [`PlotError`], naming the file that could not be drawn or written.
pub fn write_heatmaps(dir: &Path, s: &Sensitivity) -> Result<Vec<Plot>, PlotError> {
    let range = scale(s);
    let mut plots = Vec::new();
    for o in &s.optimizers {
        let batches: Vec<BatchSize> = o.spread.iter().map(|x| x.batch_size).collect();
        if batches.is_empty() {
            continue;
        }
        let best = o.at_best.done().map(|e| e.batch_size);
        let longest = o
            .configs
            .iter()
            .map(|c| c.label.chars().count())
            .max()
            .unwrap_or(0) as i32;
        let left = (longest * 9 + 40).clamp(120, 520);
        let rows = o.configs.len() as i32;
        let width = (left + COLUMN * batches.len() as i32 + BAR).max(900);
        let height = TOP + (rows * ROW).max(160) + BOTTOM;
        let stem = format!("{STEM_PREFIX}{}", o.optimizer);
        let svg_path = dir.join(format!("{stem}.svg"));
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width as u32, height as u32))
                .into_drawing_area();
            let drawn: DrawResult = (|| {
                root.fill(&WHITE)?;
                draw(&root, o, &batches, best, range, left)?;
                root.present()?;
                Ok(())
            })();
            drawn.map_err(|e| PlotError::Draw {
                path: svg_path.clone(),
                message: e.to_string(),
            })?;
        }
        let saved = save(dir, &stem, &svg)?;
        plots.push(Plot {
            title: format!(
                "{}: mean peak test accuracy by configuration and batch size",
                o.optimizer
            ),
            svg: saved.svg,
            png: saved.png,
        });
    }
    Ok(plots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_scale_runs_from_dark_purple_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.5), RGBColor(33, 144, 141));
        assert_eq!(viridis(f64::NAN), RGBColor(68, 1, 84));
        assert_eq!(ink_on(viridis(0.0)), WHITE);
        assert_eq!(ink_on(viridis(1.0)), BLACK);
    }
}
