//! The race as a picture: per candidate per round, the mean test
//! accuracy with its 95 % confidence interval; eliminated candidates end in
//! a cross, the pick is drawn thicker. Drawn as SVG with `plotters` and
//! saved (with its PNG rendering, the `png` feature) by
//! [`crate::report::figure::save`], like `sooth report`'s plots (embedded
//! DejaVu Sans, so no system font is needed).

use super::race::{Elimination, Race, RaceVerdict};
use super::types::Tune;
use crate::report::figure::{FAMILY, PALETTE, PlotError, Saved, register_font, save};
use crate::report::format::fmt_p;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Width of the plot and of the legend beside it, pixels.
const PLOT_WIDTH: u32 = 760;
const LEGEND_WIDTH: u32 = 340;
/// Least height, pixels (more for many candidates).
const HEIGHT: u32 = 600;
/// Legend row height, pixels.
const ROW: i32 = 26;

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A candidate in a round: (round, mean, confidence interval).
type Point = (usize, f64, Option<(f64, f64)>);

/// One candidate's marks.
struct Track {
    label: String,
    status: String,
    color: RGBColor,
    pick: bool,
    failed: bool,
    /// (round, mean, CI) per round it raced in.
    points: Vec<Point>,
    /// The round it was eliminated in.
    out: Option<usize>,
}

fn tracks(tune: &Tune, race: &Race) -> Vec<Track> {
    let pick = race.pick();
    (0..tune.candidates.len())
        .map(|c| {
            let mut points = Vec::new();
            let mut out = None;
            let mut failed = false;
            let mut status = "survived".to_string();
            for round in &race.rounds {
                let Some(e) = round.entry(c) else { continue };
                if let Some(mean) = e.mean {
                    points.push((round.number, mean, e.ci));
                }
                if let RaceVerdict::Eliminated(why) = &e.verdict {
                    out = Some(round.number);
                    status = match why {
                        Elimination::AllFailed => {
                            failed = true;
                            format!("out in round {}: failed", round.number)
                        }
                        Elimination::Worse { p_holm, .. } => {
                            format!("out in round {} (p Holm {})", round.number, fmt_p(*p_holm))
                        }
                    };
                }
            }
            if pick == Some(c)
                && let Some(e) = race.rounds.last().and_then(|r| r.entry(c))
            {
                status = format!(
                    "mean {:.2} %, sd {} ({} seeds)",
                    e.mean.unwrap_or(f64::NAN),
                    e.sd.map_or_else(|| "–".into(), |sd| format!("{sd:.2}")),
                    e.n
                );
            }
            Track {
                label: tune.candidates[c].label.clone(),
                status,
                color: PALETTE[c % PALETTE.len()],
                pick: pick == Some(c),
                failed,
                points,
                out,
            }
        })
        .collect()
}

/// The y axis reaches at most this many points below the highest mean
/// (and half as many above it): means further below are drawn at the
/// bottom edge as a triangle with their value, so that one unstable or
/// failed candidate does not squash the close race at the top.
const WINDOW: f64 = 12.0;

/// The y range: every mean and interval of the candidates that did not
/// fail, padded, within [`WINDOW`] of the highest mean.
fn y_range(tracks: &[Track]) -> (f64, f64) {
    let points = || {
        tracks
            .iter()
            .filter(|t| !t.failed)
            .flat_map(|t| t.points.iter())
    };
    let top = points().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        // Everything failed: show 0..100.
        return (0.0, 100.0);
    }
    let (mut lo, mut hi) = (top, top);
    for &(_, mean, ci) in points() {
        let (a, b) = ci.unwrap_or((mean, mean));
        lo = lo.min(a.min(mean));
        hi = hi.max(b.max(mean));
    }
    let lo = lo.max(top - WINDOW);
    let hi = hi.min(top + WINDOW / 2.0).min(100.0);
    let pad = ((hi - lo) * 0.06).max(0.3);
    ((lo - pad).max(0.0), (hi + pad).min(100.0))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    race: &Race,
    tracks: &[Track],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(PLOT_WIDTH);
    let rounds = race.rounds.len().max(1);
    let (y0, y1) = y_range(tracks);
    let seeds: Vec<usize> = race.rounds.iter().map(|r| r.seeds).collect();
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FAMILY, 22).into_font())
        .margin(18)
        .x_label_area_size(58)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5f64..(rounds as f64 + 0.5), y0..y1)?;
    let x_label = |x: &f64| {
        let r = x.round();
        if (x - r).abs() < 1e-6 && r >= 1.0 {
            let n = seeds.get(r as usize - 1).copied().unwrap_or(0);
            format!("round {r:.0}: {n} seeds")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(rounds)
        .x_label_formatter(&x_label)
        .y_labels(8)
        .y_label_formatter(&|y| format!("{y:.1}"))
        .y_desc("test accuracy (%), mean ± 95 % CI")
        .x_desc("round (seeds per candidate)")
        .axis_desc_style((FAMILY, 17).into_font())
        .label_style((FAMILY, 15).into_font())
        .light_line_style(RGBColor(245, 245, 245))
        .draw()?;
    let k = tracks.len().max(1) as f64;
    let spread = 0.5_f64.min(0.12 * k);
    let offset = |i: usize| {
        if k <= 1.0 {
            0.0
        } else {
            -spread / 2.0 + spread * i as f64 / (k - 1.0)
        }
    };
    let clamp = |y: f64| y.clamp(y0, y1);
    for (i, t) in tracks.iter().enumerate() {
        let width = if t.pick { 4 } else { 2 };
        let line = t.color.stroke_width(width);
        let xy: Vec<(f64, f64)> = t
            .points
            .iter()
            .map(|&(r, m, _)| (r as f64 + offset(i), clamp(m)))
            .collect();
        // Lines join consecutive rounds whose means are both in view.
        for (pair, means) in xy.windows(2).zip(t.points.windows(2)) {
            if means[0].1 < y0 || means[1].1 < y0 {
                continue;
            }
            if t.out.is_some() {
                chart.draw_series(DashedLineSeries::new(pair.to_vec(), 6, 4, line))?;
            } else {
                chart.draw_series(LineSeries::new(pair.to_vec(), line))?;
            }
        }
        for (&(r, mean, ci), &(x, y)) in t.points.iter().zip(&xy) {
            if let Some((a, b)) = ci
                && !t.failed
                && b > y0
            {
                // The interval: a vertical line with caps on the ends that
                // are in view (plotters' ErrorBar needs a feature the report
                // does not enable).
                let (lo, hi) = (clamp(a), clamp(b));
                let cap = 0.025;
                let style = t.color.stroke_width(2);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    style,
                )))?;
                for (end, shown) in [(lo, a >= y0), (hi, b <= y1)] {
                    if shown {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x - cap, end), (x + cap, end)],
                            style,
                        )))?;
                    }
                }
            }
            let eliminated = t.out == Some(r);
            if mean < y0 {
                // Below the axis: at the bottom edge, a triangle (a cross if
                // it went out here) with the value beside it.
                let text = TextStyle::from((FAMILY, 13).into_font()).color(&t.color);
                let label = Text::new(format!("{mean:.1}"), (10, -16), text);
                if eliminated {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x, y0))
                            + Cross::new((0, -9), 7, t.color.stroke_width(3))
                            + label,
                    ))?;
                } else {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x, y0))
                            + Polygon::new(vec![(0, -1), (-7, -13), (7, -13)], t.color.filled())
                            + label,
                    ))?;
                }
            } else if eliminated {
                chart.draw_series(std::iter::once(Cross::new(
                    (x, y),
                    8,
                    t.color.stroke_width(3),
                )))?;
            } else {
                let size = if t.pick { 7 } else { 5 };
                chart.draw_series(std::iter::once(Circle::new((x, y), size, t.color.filled())))?;
            }
        }
    }
    draw_legend(&legend, tracks, y0)?;
    root.present()?;
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    tracks: &[Track],
    y_bottom: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let label = TextStyle::from((FAMILY, 16).into_font()).color(&BLACK);
    let status = TextStyle::from((FAMILY, 14).into_font()).color(&RGBColor(90, 90, 90));
    let mut y = 64;
    area.draw(&Text::new("candidates", (10, y - 30), label.clone()))?;
    for t in tracks {
        let style = t.color.stroke_width(if t.pick { 4 } else { 2 });
        if t.out.is_some() {
            area.draw(&PathElement::new(vec![(10, y), (18, y)], style))?;
            area.draw(&PathElement::new(vec![(24, y), (32, y)], style))?;
            area.draw(&Cross::new((42, y), 6, t.color.stroke_width(3)))?;
        } else {
            area.draw(&PathElement::new(vec![(10, y), (42, y)], style))?;
            area.draw(&Circle::new(
                (26, y),
                if t.pick { 6 } else { 4 },
                t.color.filled(),
            ))?;
        }
        let name = if t.pick {
            format!("{}  ← the pick", t.label)
        } else {
            t.label.clone()
        };
        area.draw(&Text::new(name, (54, y - 10), label.clone()))?;
        area.draw(&Text::new(t.status.clone(), (54, y + 8), status.clone()))?;
        y += ROW + 14;
    }
    // The key to the marks.
    y += 6;
    let grey = RGBColor(90, 90, 90);
    area.draw(&Cross::new((26, y), 6, grey.stroke_width(3)))?;
    area.draw(&Text::new(
        "out of the race in this round",
        (54, y - 8),
        status.clone(),
    ))?;
    y += ROW;
    if tracks
        .iter()
        .any(|t| t.points.iter().any(|&(_, m, _)| m < y_bottom))
    {
        area.draw(&Polygon::new(
            vec![(26, y + 6), (19, y - 6), (33, y - 6)],
            grey.filled(),
        ))?;
        area.draw(&Text::new(
            "mean below the axis (value beside it)",
            (54, y - 8),
            status.clone(),
        ))?;
    }
    Ok(())
}

/// Writes `dir/tune_race.svg` (and, with the `png` feature,
/// `dir/tune_race.png`); returns their file names.
///
/// # Errors
/// [`PlotError`], naming the file that could not be drawn or written.
pub fn write(dir: &Path, tune: &Tune, race: &Race, title: &str) -> Result<Saved, PlotError> {
    register_font()?;
    let tracks = tracks(tune, race);
    let height = HEIGHT.max(150 + (ROW as u32 + 14) * tracks.len() as u32);
    let size = (PLOT_WIDTH + LEGEND_WIDTH, height);
    let mut document = String::new();
    draw(
        &SVGBackend::with_string(&mut document, size).into_drawing_area(),
        title,
        race,
        &tracks,
    )
    .map_err(|e| PlotError::Draw {
        path: dir.join("tune_race.svg"),
        message: e.to_string(),
    })?;
    save(dir, "tune_race", &document)
}
