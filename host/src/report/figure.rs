//! What every plot the host writes shares (`sooth report`'s and `sooth
//! tune`'s): the embedded font, the palette, the errors, and saving an SVG
//! document next to its PNG rendering.
//!
//! plotters draws each plot as SVG, measuring text with DejaVu Sans
//! (embedded from `host/assets/fonts`, license next to it); with the cargo
//! feature `png` (on by default) resvg then rasterises that SVG to PNG with
//! the same font. No system font or fontconfig is needed. Without the
//! feature only the SVG files are written.

use plotters::style::{FontStyle, RGBColor};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// DejaVu Sans 2.37 (Bitstream Vera license; see `host/assets/fonts`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name every plot's text styles use.
pub const FAMILY: &str = "sans-serif";

/// Whether this build writes PNG files next to the SVG ones (the cargo
/// feature `png`).
pub const WRITES_PNG: bool = cfg!(feature = "png");

/// Colours by series (tab10): optimizers in report plots (sgd, adam, cg,
/// lbfgs, then more), candidates in `sooth tune`'s race.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Why a plot could not be made; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font could not be registered with plotters.
    #[error("the embedded DejaVu Sans font could not be read")]
    Font,
    /// plotters failed while drawing the SVG document.
    #[error("{}: {message}", path.display())]
    Draw {
        /// The SVG file being drawn.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
    /// The SVG document could not be rasterised to PNG.
    #[error("{}: {message}", path.display())]
    Raster {
        /// The PNG file being made.
        path: PathBuf,
        /// resvg's message.
        message: String,
    },
    /// A file could not be written (or read back).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Makes the embedded font the plots' [`FAMILY`] (once per process).
///
/// # Errors
/// [`PlotError::Font`] if plotters cannot read the embedded font.
pub fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// The file names [`save`] wrote, relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// `stem.svg`.
    pub svg: String,
    /// `stem.png`; `None` when this build has no `png` feature.
    pub png: Option<String>,
}

/// Writes the SVG `document` as `dir/stem.svg` and, with the `png` feature,
/// its rendering as `dir/stem.png` (same pixel size).
///
/// # Errors
/// [`PlotError::Io`] for a file that cannot be written,
/// [`PlotError::Raster`] for an SVG resvg cannot render.
pub fn save(dir: &Path, stem: &str, document: &str) -> Result<Saved, PlotError> {
    let svg = format!("{stem}.svg");
    let svg_path = dir.join(&svg);
    crate::atomic::write_file(&svg_path, document.as_bytes()).map_err(|e| {
        let (path, source) = e.into_io();
        PlotError::Io { path, source }
    })?;
    #[cfg(feature = "png")]
    let png = {
        let png = format!("{stem}.png");
        let png_path = dir.join(&png);
        let bytes = png::svg_to_png(document).map_err(|message| PlotError::Raster {
            path: png_path.clone(),
            message,
        })?;
        crate::atomic::write_file(&png_path, &bytes).map_err(|e| {
            let (path, source) = e.into_io();
            PlotError::Io { path, source }
        })?;
        Some(png)
    };
    #[cfg(not(feature = "png"))]
    let png = None;
    Ok(Saved { svg, png })
}

/// SVG to PNG with resvg (the `png` feature).
#[cfg(feature = "png")]
mod png {
    use super::FONT;
    use std::sync::OnceLock;

    /// Options for resvg with the embedded font as every generic family.
    fn svg_options() -> &'static resvg::usvg::Options<'static> {
        static OPTIONS: OnceLock<resvg::usvg::Options<'static>> = OnceLock::new();
        OPTIONS.get_or_init(|| {
            let mut options = resvg::usvg::Options {
                font_family: "DejaVu Sans".to_string(),
                ..resvg::usvg::Options::default()
            };
            let db = options.fontdb_mut();
            db.load_font_data(FONT.to_vec());
            db.set_sans_serif_family("DejaVu Sans");
            db.set_serif_family("DejaVu Sans");
            db.set_monospace_family("DejaVu Sans");
            options
        })
    }

    /// Rasterises an SVG document to PNG bytes (same pixel size), text in
    /// the embedded font: plotters' own bitmap backend misplaces glyphs
    /// with it. The error is resvg's message.
    pub(super) fn svg_to_png(svg: &str) -> Result<Vec<u8>, String> {
        use resvg::tiny_skia::{Color, Pixmap, Transform};
        let tree = resvg::usvg::Tree::from_str(svg, svg_options()).map_err(|e| e.to_string())?;
        let size = tree.size().to_int_size();
        let mut pixmap = Pixmap::new(size.width(), size.height())
            .ok_or_else(|| format!("cannot allocate a {}x{} image", size.width(), size.height()))?;
        pixmap.fill(Color::WHITE);
        resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
        pixmap.encode_png().map_err(|e| e.to_string())
    }
}
