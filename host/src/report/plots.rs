//! The report's plots, each drawn as SVG with `plotters` and written with
//! its PNG rendering by [`super::figure::save`] (SVG only in a build
//! without the `png` feature).

use super::figure::{FAMILY, PALETTE, PlotError, register_font, save};
use super::load::Sweep;
use super::types::{Analysis, Cell};
use crate::run::BatchSize;
use crate::stats::percentile;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Pixel size of every plot (SVG and PNG alike), unless a plot needs wider.
const SIZE: (u32, u32) = (1000, 600);

/// A plot written to the sweep directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plot {
    /// What it shows (also the image's alt text).
    pub title: String,
    /// SVG file name, relative to the sweep directory.
    pub svg: String,
    /// PNG file name, relative to the sweep directory (`None`, and absent
    /// from `report.json`, in a build without the `png` feature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// What to draw.
enum Kind<'a> {
    MeanSd(&'a Analysis, &'a BatchAxis),
    Variance(&'a Analysis, &'a BatchAxis),
    Strips(&'a Analysis),
    Curves(&'a [Band]),
}

/// The plot as an SVG document; the error names `svg_path` (the file it
/// was to be written to) and gives plotters' message.
fn draw_svg(kind: &Kind, size: (u32, u32), svg_path: &Path) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn: DrawResult = (|| {
            root.fill(&WHITE)?;
            match kind {
                Kind::MeanSd(a, axis) => mean_sd(&root, a, axis)?,
                Kind::Variance(a, axis) => variance(&root, a, axis)?,
                Kind::Strips(a) => strips(&root, a)?,
                Kind::Curves(bands) => curves_plot(&root, bands)?,
            }
            root.present()?;
            Ok(())
        })();
        drawn.map_err(|e| PlotError::Draw {
            path: svg_path.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    Ok(svg)
}

/// Draws one plot into `dir/stem.svg` (and `dir/stem.png`).
fn write_both(
    dir: &Path,
    stem: &str,
    title: &str,
    size: (u32, u32),
    kind: Kind,
) -> Result<Plot, PlotError> {
    let document = draw_svg(&kind, size, &dir.join(format!("{stem}.svg")))?;
    let saved = save(dir, stem, &document)?;
    Ok(Plot {
        title: title.to_string(),
        svg: saved.svg,
        png: saved.png,
    })
}

/// Where batch sizes sit on a log axis: their sample counts; `full` at the
/// training-set size when known, else at 4x the largest numeric size.
#[derive(Debug, Clone)]
struct BatchAxis {
    /// (batch, x position, tick label)
    ticks: Vec<(BatchSize, f64, String)>,
}

impl BatchAxis {
    fn new(batches: &[BatchSize], train_samples: Option<usize>) -> Self {
        let largest = batches
            .iter()
            .filter_map(|b| match b {
                BatchSize::Size(n) => Some(*n as f64),
                BatchSize::Full => None,
            })
            .fold(0.0_f64, f64::max);
        let full_x = match train_samples {
            Some(n) if n as f64 > largest => n as f64,
            _ if largest > 0.0 => largest * 4.0,
            _ => 1.0,
        };
        let ticks = batches
            .iter()
            .map(|&b| match b {
                BatchSize::Size(n) => (b, n as f64, n.to_string()),
                BatchSize::Full => (
                    b,
                    full_x,
                    match train_samples {
                        Some(n) if n as f64 > largest => format!("full ({n})"),
                        _ => "full".to_string(),
                    },
                ),
            })
            .collect();
        Self { ticks }
    }

    fn x(&self, b: BatchSize) -> f64 {
        self.ticks.iter().find(|t| t.0 == b).map_or(1.0, |t| t.1)
    }

    fn range(&self) -> (f64, f64) {
        let lo = self.ticks.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
        let hi = self.ticks.iter().map(|t| t.1).fold(0.0_f64, f64::max);
        if lo >= hi {
            (lo / 2.0, lo * 2.0)
        } else {
            (lo / 1.6, hi * 1.6)
        }
    }

    fn label(&self, x: f64) -> String {
        self.ticks
            .iter()
            .find(|t| (t.1 - x).abs() <= 1e-9 * t.1.abs().max(1.0))
            .map_or_else(String::new, |t| t.2.clone())
    }

    fn positions(&self) -> Vec<f64> {
        self.ticks.iter().map(|t| t.1).collect()
    }
}

/// Writes every plot the analysis has data for into `dir`; returns them in
/// the order the report shows them.
///
/// # Errors
/// [`PlotError`], naming the file that could not be drawn or written.
pub fn write_plots(dir: &Path, sweep: &Sweep, analysis: &Analysis) -> Result<Vec<Plot>, PlotError> {
    register_font()?;
    let mut plots = Vec::new();
    let with_ok: Vec<&Cell> = analysis.cells.iter().filter(|c| c.ok > 0).collect();
    if with_ok.is_empty() {
        return Ok(plots);
    }
    let axis = BatchAxis::new(&analysis.batch_sizes, sweep.study.train_samples);
    plots.push(write_both(
        dir,
        "peak_mean_sd",
        &format!("Mean ± sd of {} vs batch size", analysis.response.words()),
        SIZE,
        Kind::MeanSd(analysis, &axis),
    )?);
    if with_ok.iter().any(|c| c.ok >= 2) {
        plots.push(write_both(
            dir,
            "peak_variance",
            &format!("Variance of {} vs batch size", analysis.response.words()),
            SIZE,
            Kind::Variance(analysis, &axis),
        )?);
    }
    let width = (with_ok.len() as u32 * 44 + 260).clamp(SIZE.0, 2000);
    plots.push(write_both(
        dir,
        "peak_cells",
        &format!(
            "Every run's {}, by cell (box: quartiles and median)",
            analysis.response.words()
        ),
        (width, SIZE.1),
        Kind::Strips(analysis),
    )?);
    if let Some(curves) = &sweep.curves {
        let bands = curve_bands(analysis, curves);
        if !bands.is_empty() {
            plots.push(write_both(
                dir,
                "curves",
                "Test accuracy per epoch, best and worst cell (mean ± sd over runs)",
                SIZE,
                Kind::Curves(&bands),
            )?);
        }
    }
    if let Some(s) = &analysis.sensitivity {
        plots.extend(super::heatmap::write_heatmaps(dir, s)?);
    }
    Ok(plots)
}

fn caption_style() -> TextStyle<'static> {
    (FAMILY, 27).into_font().into()
}

fn label_style() -> TextStyle<'static> {
    (FAMILY, 20).into_font().into()
}

fn tick_style() -> TextStyle<'static> {
    (FAMILY, 18).into_font().into()
}

fn legend_style() -> TextStyle<'static> {
    (FAMILY, 19).into_font().into()
}

/// The legend place (corner, edge middle or centre) that covers the least
/// of the drawn data. `ink` holds
/// points of lines and markers in plot-area fractions (x to the right, y
/// up, both 0..1); `labels` are the legend's entries.
fn legend_corner(ink: &[(f64, f64)], labels: &[String], plot: (u32, u32)) -> SeriesLabelPosition {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    // Legend box in plot fractions, with a margin (text ~ 0.6 em per char).
    let w = ((longest * 11.0 + 60.0) / f64::from(plot.0)).min(1.0);
    let h = ((labels.len() as f64 * 24.0 + 24.0) / f64::from(plot.1)).min(1.0);
    let (mid_x, mid_y) = ((1.0 - w) / 2.0, (1.0 - h) / 2.0);
    // Corners first: on a tie they are preferred.
    let corners = [
        (SeriesLabelPosition::UpperRight, (1.0 - w, 1.0 - h)),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 0.0)),
        (SeriesLabelPosition::UpperLeft, (0.0, 1.0 - h)),
        (SeriesLabelPosition::LowerLeft, (0.0, 0.0)),
        (SeriesLabelPosition::MiddleRight, (1.0 - w, mid_y)),
        (SeriesLabelPosition::MiddleLeft, (0.0, mid_y)),
        (SeriesLabelPosition::MiddleMiddle, (mid_x, mid_y)),
        (SeriesLabelPosition::UpperMiddle, (mid_x, 1.0 - h)),
        (SeriesLabelPosition::LowerMiddle, (mid_x, 0.0)),
    ];
    let covered = |(x0, y0): (f64, f64)| {
        ink.iter()
            .filter(|(x, y)| *x >= x0 && *x <= x0 + w && *y >= y0 && *y <= y0 + h)
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, origin)| covered(origin))
        .map_or(SeriesLabelPosition::UpperRight, |(p, _)| p)
}

/// Points every `1/steps` along the polyline `points` (plot fractions).
fn densify(points: &[(f64, f64)], steps: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            out.push((x0 + t * (x1 - x0), y0 + t * (y1 - y0)));
        }
    }
    out.extend(points.iter().copied());
    out
}

/// Plot area of a chart of `size` with the margins used here (approximate).
fn plot_area(size: (u32, u32)) -> (u32, u32) {
    (size.0.saturating_sub(120), size.1.saturating_sub(130))
}

/// Pixel width of a [`side_legend`] for these names.
fn legend_width(names: &[String]) -> u32 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as u32;
    (longest * 11 + 64).min(260)
}

/// A legend to the right of the plotting area (`area`: its pixel ranges),
/// so it can never hide data: one line and marker per entry.
fn side_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &(std::ops::Range<i32>, std::ops::Range<i32>),
    entries: &[(String, RGBColor)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let names: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    let (x, y) = (area.0.end + 20, area.1.start + 8);
    let (w, h) = (legend_width(&names) as i32, entries.len() as i32 * 28 + 12);
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], WHITE.filled()))?;
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], BLACK.mix(0.4)))?;
    for (i, (name, c)) in entries.iter().enumerate() {
        let cy = y + 20 + i as i32 * 28;
        root.draw(&PathElement::new(
            vec![(x + 10, cy), (x + 40, cy)],
            c.stroke_width(3),
        ))?;
        root.draw(&Circle::new((x + 25, cy), 5, c.filled()))?;
        root.draw(&Text::new(
            name.clone(),
            (x + 50, cy),
            legend_style().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// Multiplicative x offset of optimizer `k` of `count`, so error bars at the
/// same batch size do not overlap.
fn dodge(k: usize, count: usize) -> f64 {
    let centre = (count as f64 - 1.0) / 2.0;
    (0.035 * (k as f64 - centre)).exp()
}

fn mean_sd<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: &Analysis,
    axis: &BatchAxis,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let points: Vec<(usize, &Cell, f64, f64)> = a
        .cells
        .iter()
        .filter_map(|c| {
            let s = c.peak.as_ref()?;
            let k = a.optimizers.iter().position(|o| o == &c.optimizer)?;
            Some((k, c, s.mean, s.sd.unwrap_or(0.0)))
        })
        .collect();
    let lo = points
        .iter()
        .map(|p| p.2 - p.3)
        .fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.2 + p.3)
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(0.5);
    let (y0, y1) = ((lo - pad).max(0.0), (hi + pad).min(100.0));
    let (x0, x1) = axis.range();
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Peak test accuracy vs batch size (mean ± sd over runs)",
            caption_style(),
        )
        .margin(16)
        .margin_right(legend_width(&a.optimizers) + 32)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (x0..x1).log_scale().with_key_points(axis.positions()),
            y0..y1,
        )?;
    chart
        .configure_mesh()
        .x_desc("batch size (log scale)")
        .y_desc(format!("{} (%)", a.response.words()))
        .axis_desc_style(label_style())
        .label_style(tick_style())
        .x_label_formatter(&|x| axis.label(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    let count = a.optimizers.len();
    let mut entries = Vec::new();
    for (k, optimizer) in a.optimizers.iter().enumerate() {
        let c = color(k);
        let mine: Vec<(f64, f64, f64)> = points
            .iter()
            .filter(|p| p.0 == k)
            .map(|p| (axis.x(p.1.batch_size) * dodge(k, count), p.2, p.3))
            .collect();
        if mine.is_empty() {
            continue;
        }
        entries.push((optimizer.clone(), c));
        chart.draw_series(LineSeries::new(
            mine.iter().map(|&(x, m, _)| (x, m)),
            c.stroke_width(3),
        ))?;
        for &(x, m, sd) in &mine {
            if sd > 0.0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, (m - sd).max(y0)), (x, (m + sd).min(y1))],
                    c.stroke_width(2),
                )))?;
                let cap = 1.025;
                for y in [m - sd, m + sd] {
                    if (y0..=y1).contains(&y) {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x / cap, y), (x * cap, y)],
                            c.stroke_width(2),
                        )))?;
                    }
                }
            }
        }
        chart.draw_series(
            mine.iter()
                .map(|&(x, m, _)| Circle::new((x, m), 5, c.filled())),
        )?;
    }
    side_legend(root, &chart.plotting_area().get_pixel_range(), &entries)
}

fn variance<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: &Analysis,
    axis: &BatchAxis,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let points: Vec<(usize, BatchSize, f64)> = a
        .cells
        .iter()
        .filter_map(|c| {
            let v = c.peak.as_ref()?.variance?;
            let k = a.optimizers.iter().position(|o| o == &c.optimizer)?;
            Some((k, c.batch_size, v))
        })
        .collect();
    let positive = points
        .iter()
        .map(|p| p.2)
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let floor = if positive.is_finite() {
        positive / 3.0
    } else {
        1e-3
    };
    let hi = points.iter().map(|p| p.2).fold(floor, f64::max);
    let (y0, y1) = (floor, (hi * 2.0).max(floor * 10.0));
    let (x0, x1) = axis.range();
    let zero_note = points.iter().any(|p| p.2 <= 0.0);
    let mut chart = ChartBuilder::on(root)
        .caption(
            if zero_note {
                format!(
                    "Variance of {} vs batch size (zero variance drawn at the bottom)",
                    a.response.words()
                )
            } else {
                format!("Variance of {} vs batch size", a.response.words())
            },
            caption_style(),
        )
        .margin(16)
        .margin_right(legend_width(&a.optimizers) + 32)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(
            (x0..x1).log_scale().with_key_points(axis.positions()),
            (y0..y1).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("batch size (log scale)")
        .y_desc(format!(
            "variance of {} (%², log scale)",
            a.response.short()
        ))
        .axis_desc_style(label_style())
        .label_style(tick_style())
        .x_label_formatter(&|x| axis.label(*x))
        .y_label_formatter(&|y| short_number(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    let mut entries = Vec::new();
    for (k, optimizer) in a.optimizers.iter().enumerate() {
        let c = color(k);
        let mine: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.0 == k)
            .map(|p| (axis.x(p.1), p.2.max(floor)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        entries.push((optimizer.clone(), c));
        chart.draw_series(LineSeries::new(mine.iter().copied(), c.stroke_width(3)))?;
        chart.draw_series(mine.iter().map(|&p| Circle::new(p, 5, c.filled())))?;
    }
    side_legend(root, &chart.plotting_area().get_pixel_range(), &entries)
}

/// `0.01`, `2.5`, `300`, `1e5`: short tick labels for a log axis.
fn short_number(y: f64) -> String {
    if y == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&y.abs()) {
        format!("{y:.0e}")
    } else if y.abs() >= 10.0 {
        format!("{y:.0}")
    } else {
        let s = format!("{y:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A small deterministic jitter in [-1, 1] for point `i` (golden-ratio sequence).
fn jitter(i: usize) -> f64 {
    let f = (i as f64 * 0.618_033_988_749_895).fract();
    2.0 * f - 1.0
}

fn strips<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, a: &Analysis) -> DrawResult
where
    DB::ErrorType: 'static,
{
    // x position of each cell: 1, 2, ... within an optimizer, a gap of 1
    // between optimizers.
    let mut placed: Vec<(f64, usize, &Cell)> = Vec::new();
    let mut groups: Vec<(usize, f64, f64)> = Vec::new();
    let mut x = 0.0;
    for (k, optimizer) in a.optimizers.iter().enumerate() {
        let cells: Vec<&Cell> = a
            .cells
            .iter()
            .filter(|c| &c.optimizer == optimizer && c.ok > 0)
            .collect();
        if cells.is_empty() {
            continue;
        }
        let start = x + 1.0;
        for c in cells {
            x += 1.0;
            placed.push((x, k, c));
        }
        groups.push((k, start, x));
        x += 1.0;
    }
    let lo = placed
        .iter()
        .flat_map(|p| p.2.peak_values.iter().copied())
        .fold(f64::INFINITY, f64::min);
    let hi = placed
        .iter()
        .flat_map(|p| p.2.peak_values.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.06).max(0.5);
    let (y0, y1) = ((lo - pad).max(0.0), hi + pad);
    let labels: BTreeMap<i64, String> = placed
        .iter()
        .map(|p| (p.0.round() as i64, p.2.batch_size.to_string()))
        .collect();
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Peak test accuracy per run, by optimizer and batch size",
            caption_style(),
        )
        .margin(16)
        .x_label_area_size(72)
        .y_label_area_size(72)
        .build_cartesian_2d((0.0..x).step(1.0), y0..y1)?;
    chart
        .configure_mesh()
        .x_labels(placed.len() + groups.len() * 2 + 2)
        .y_desc(format!("{} (%)", a.response.words()))
        .axis_desc_style(label_style())
        .label_style(tick_style())
        .x_label_formatter(&|x| labels.get(&(x.round() as i64)).cloned().unwrap_or_default())
        .y_label_formatter(&|y| format!("{y:.0}"))
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    // Optimizer names under their batch-size ticks, in the label area.
    let (_, axis_y) = chart.backend_coord(&(0.0, y0));
    for &(k, start, end) in &groups {
        let name = &a.optimizers[k];
        let c = color(k);
        let style = TextStyle::from((FAMILY, 22).into_font()).color(&c).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ),
        );
        let (centre, _) = chart.backend_coord(&((start + end) / 2.0, y0));
        root.draw(&Text::new(name.clone(), (centre, axis_y + 36), style))?;
        if end < x - 1.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(end + 1.0, y0), (end + 1.0, y1)],
                BLACK.mix(0.25),
            )))?;
        }
    }
    if let Some(rule) = &a.chance
        && (y0..=y1).contains(&rule.threshold_percent)
    {
        let t = rule.threshold_percent;
        chart.draw_series(DashedLineSeries::new(
            [(0.0, t), (x, t)],
            8,
            6,
            BLACK.mix(0.45).stroke_width(1),
        ))?;
        let grey = BLACK.mix(0.6);
        let style = TextStyle::from((FAMILY, 16).into_font()).color(&grey).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Bottom,
            ),
        );
        chart.draw_series(std::iter::once(Text::new(
            format!("near chance: at or below {t:.1}%"),
            (x - 0.1, t),
            style,
        )))?;
    }
    for &(cx, k, cell) in &placed {
        let c = color(k);
        let values = &cell.peak_values;
        if values.len() >= 2 {
            let q1 = percentile(values, 25.0)?;
            let q3 = percentile(values, 75.0)?;
            let median = percentile(values, 50.0)?;
            let w = 0.32;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(cx - w, q1), (cx + w, q3)],
                c.mix(0.15).filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(cx - w, q1), (cx + w, q3)],
                c.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(cx - w, median), (cx + w, median)],
                c.stroke_width(3),
            )))?;
        }
        chart.draw_series(
            values.iter().enumerate().map(|(i, &v)| {
                Circle::new((cx + 0.22 * jitter(i + 1), v), 3, c.mix(0.75).filled())
            }),
        )?;
    }
    Ok(())
}

/// Mean and sd of test accuracy per epoch for one cell.
#[derive(Debug, Clone)]
struct Band {
    label: String,
    color: RGBColor,
    /// (epoch, mean, sd) in percent.
    points: Vec<(f64, f64, f64)>,
}

fn curve_bands(a: &Analysis, curves: &[super::load::CurvePoint]) -> Vec<Band> {
    let testable: Vec<&Cell> = a.cells.iter().filter(|c| c.testable()).collect();
    let mean = |c: &&Cell| c.peak.as_ref().map_or(f64::NAN, |s| s.mean);
    let best = testable.iter().max_by(|x, y| mean(x).total_cmp(&mean(y)));
    let worst = testable.iter().min_by(|x, y| mean(x).total_cmp(&mean(y)));
    let mut chosen: Vec<(&str, &Cell)> = Vec::new();
    if let Some(b) = best {
        chosen.push(("best", b));
    }
    if let Some(w) = worst
        && best.is_none_or(|b| b.label() != w.label())
    {
        chosen.push(("worst", w));
    }
    let mut bands = Vec::new();
    for (i, (which, cell)) in chosen.into_iter().enumerate() {
        let ids: HashSet<&str> = cell.run_ids.iter().map(String::as_str).collect();
        let mut per_epoch: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for p in curves.iter().filter(|p| ids.contains(p.run_id.as_str())) {
            per_epoch
                .entry(p.epoch)
                .or_default()
                .push(100.0 * p.test_accuracy);
        }
        if per_epoch.is_empty() {
            continue;
        }
        let points = per_epoch
            .into_iter()
            .map(|(e, v)| {
                let n = v.len() as f64;
                let m = v.iter().sum::<f64>() / n;
                let sd = if v.len() > 1 {
                    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
                } else {
                    0.0
                };
                (e as f64, m, sd)
            })
            .collect();
        let k = a
            .optimizers
            .iter()
            .position(|o| o == &cell.optimizer)
            .unwrap_or(i);
        bands.push(Band {
            label: format!(
                "{which}: {} (mean peak {:.2}%, n = {})",
                cell.label(),
                mean(&cell),
                cell.ok
            ),
            color: color(k),
            points,
        });
    }
    // Two cells of one optimizer would share a colour: make the worst grey.
    if bands.len() == 2 && bands[0].color == bands[1].color {
        bands[1].color = PALETTE[7];
    }
    bands
}

fn curves_plot<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, bands: &[Band]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let first = bands
        .iter()
        .flat_map(|b| b.points.iter().map(|p| p.0))
        .fold(f64::INFINITY, f64::min)
        .min(1.0);
    let last = bands
        .iter()
        .flat_map(|b| b.points.iter().map(|p| p.0))
        .fold(first + 1.0, f64::max);
    let lo = bands
        .iter()
        .flat_map(|b| b.points.iter().map(|p| p.1 - p.2))
        .fold(f64::INFINITY, f64::min);
    let hi = bands
        .iter()
        .flat_map(|b| b.points.iter().map(|p| p.1 + p.2))
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(0.5);
    let (y0, y1) = ((lo - pad).max(0.0), (hi + pad).min(100.0));
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Test accuracy per epoch: best and worst cell (mean ± sd over runs)",
            caption_style(),
        )
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d(first..last, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("test accuracy (%)")
        .axis_desc_style(label_style())
        .label_style(tick_style())
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    let (xa, xb) = (first, last);
    let norm = |x: f64, y: f64| ((x - xa) / (xb - xa), (y - y0) / (y1 - y0));
    let mut ink = Vec::new();
    for band in bands {
        for f in [-1.0, 0.0, 1.0] {
            let line: Vec<(f64, f64)> = band
                .points
                .iter()
                .map(|&(e, m, sd)| norm(e, (m + f * sd).clamp(y0, y1)))
                .collect();
            ink.extend(densify(&line, 20));
        }
    }
    let names: Vec<String> = bands.iter().map(|b| b.label.clone()).collect();
    let clamp = |y: f64| y.clamp(y0, y1);
    for band in bands {
        let mut outline: Vec<(f64, f64)> = band
            .points
            .iter()
            .map(|&(e, m, sd)| (e, clamp(m + sd)))
            .collect();
        outline.extend(
            band.points
                .iter()
                .rev()
                .map(|&(e, m, sd)| (e, clamp(m - sd))),
        );
        chart.draw_series(std::iter::once(Polygon::new(
            outline,
            band.color.mix(0.18).filled(),
        )))?;
    }
    for band in bands {
        let c = band.color;
        chart
            .draw_series(LineSeries::new(
                band.points.iter().map(|&(e, m, _)| (e, m)),
                c.stroke_width(3),
            ))?
            .label(band.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font(legend_style())
        .position(legend_corner(&ink, &names, plot_area(SIZE)))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}
