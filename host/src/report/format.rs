//! Numbers as text, shared by every document the host writes (`report.md`,
//! the claims' evidence, `sooth tune`'s tables and plot): one rule per kind
//! of number, so a p-value reads the same everywhere.

/// A p-value with 3 significant digits (`0.0495`, `0.50`, `1.23e-5`);
/// `< 1e-300` for one that underflowed to 0.
pub fn fmt_p(p: f64) -> String {
    if p <= 0.0 {
        "< 1e-300".to_string()
    } else if p >= 1e-3 {
        let digits = (2 - p.log10().floor() as i32).clamp(2, 5) as usize;
        format!("{p:.digits$}")
    } else {
        format!("{p:.2e}")
    }
}

/// A number with about 4 significant digits, without exponent for ordinary
/// magnitudes (`97.31`, `0.4512`, `1234`).
pub fn fmt_num(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let digits = (3 - magnitude).clamp(0, 7) as usize;
    format!("{x:.digits$}")
}

/// Seconds as `1 h 02 min`, `4 min 12 s` or `12.3 s`.
pub fn fmt_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "unknown".to_string();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else {
        format!("{m} min {s:02} s")
    }
}

/// `p = 0.0123`-style text for evidence sentences.
pub fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) => format!("p = {}", fmt_p(p)),
        None => "p undefined".to_string(),
    }
}
