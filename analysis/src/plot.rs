//! The figures of the reports, drawn with plotters as SVG and PNG.
//!
//! Text is drawn with a bundled font (DejaVu Sans), so a figure renders the same on a host
//! without fonts. Colours come from plotters' 99-colour palette, in series order, so a policy
//! keeps its colour across the figures of one report.

use std::path::Path;

use plotters::prelude::*;

/// Named lines of a figure: each a series' name and its points.
pub type Series = Vec<(String, Vec<(f64, f64)>)>;

/// Size of every figure, in pixels.
pub const FIGURE: (u32, u32) = (900, 560);

/// On a logarithmic x axis, values below this are drawn at it (0 included).
pub const LOG_FLOOR: f64 = 0.001;

/// How a figure draws its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A mark per point, no line.
    Points,
    /// A line through the points, with a mark on each.
    Marked,
    /// A line, no marks (for series with many points, such as CDFs).
    Lines,
    /// Filled areas stacked in series order: each series is drawn on top of the previous ones.
    /// All series must share their x values.
    Stacked,
}

/// A figure of series against a numeric x axis, with an optional black front line.
pub struct Figure<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: &'a Series,
    pub style: Style,
    /// Logarithmic x axis (values below [`LOG_FLOOR`] are drawn at it).
    pub log_x: bool,
    pub front: Option<&'a [(f64, f64)]>,
}

/// Stacked bars: one bar per category, each made of the named parts in order.
pub struct Bars<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub categories: &'a [String],
    /// Each part's name and its value for every category.
    pub parts: &'a [(String, Vec<f64>)],
}

/// A time axis's unit for a span: its name and its length in seconds.
pub fn time_unit(span_s: f64) -> (&'static str, f64) {
    if span_s >= 2.0 * 3600.0 {
        ("hours", 3600.0)
    } else if span_s >= 120.0 {
        ("minutes", 60.0)
    } else {
        ("seconds", 1.0)
    }
}

/// Registers the bundled font once; plotters draws every text with it.
fn font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is bundled and valid; a failure would only lose the text, not the plot.
            let _ = plotters::style::register_font("sans-serif", style, bytes);
        }
    });
}

/// `(lo, hi)` of `values` with 5% padding, or a unit range around a single value.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }
}

/// Decimals for tick labels over a range of this width.
fn decimals(width: f64) -> usize {
    if width >= 20.0 {
        0
    } else if width >= 2.0 {
        1
    } else {
        2
    }
}

/// A tick label of a logarithmic axis at `log10(v)`.
fn log_label(exponent: f64) -> String {
    let v = 10f64.powf(exponent);
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        // Two significant digits, without trailing zeros.
        let digits = (1 - v.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    f: &Figure,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| format!("drawing {:?}: {e}", f.title);
    area.fill(&WHITE).map_err(|e| err(&e))?;
    let to_x = |x: f64| if f.log_x { x.max(LOG_FLOOR).log10() } else { x };
    let series: Series = f
        .series
        .iter()
        .map(|(name, points)| {
            let points = points.iter().map(|&(x, y)| (to_x(x), y)).collect();
            (name.clone(), points)
        })
        .collect();
    let front: Option<Vec<(f64, f64)>> = f
        .front
        .map(|front| front.iter().map(|&(x, y)| (to_x(x), y)).collect());
    // Stacked areas are drawn at their cumulative heights.
    let drawn: Series = if f.style == Style::Stacked {
        let mut below: Vec<f64> = Vec::new();
        series
            .iter()
            .map(|(name, points)| {
                below.resize(points.len(), 0.0);
                let top: Vec<(f64, f64)> = points
                    .iter()
                    .zip(&mut below)
                    .map(|(&(x, y), b)| {
                        *b += y;
                        (x, *b)
                    })
                    .collect();
                (name.clone(), top)
            })
            .collect()
    } else {
        series
    };
    let all: Vec<(f64, f64)> = drawn
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .chain(front.iter().flatten().copied())
        .collect();
    let (x0, x1) = padded(all.iter().map(|p| p.0));
    let (y0, y1) = padded(all.iter().map(|p| p.1));
    // Quantities that cannot be negative start at 0 when the padding would dip below it.
    let y0 = if all.iter().all(|p| p.1 >= 0.0) {
        y0.max(0.0)
    } else {
        y0
    };
    let mut chart = ChartBuilder::on(&area)
        .caption(f.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    let (xd, yd) = (decimals(x1 - x0), decimals(y1 - y0));
    let log_x = f.log_x;
    let x_fmt = move |v: &f64| {
        if log_x {
            log_label(*v)
        } else {
            format!("{v:.xd$}")
        }
    };
    let y_fmt = move |v: &f64| format!("{v:.yd$}");
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(f.x_label)
        .y_desc(f.y_label)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0));
    if log_x {
        // One tick per decade when the range allows it.
        mesh.x_labels(((x1 - x0).ceil() as usize + 1).clamp(2, 12));
    }
    mesh.draw().map_err(|e| err(&e))?;
    let n = drawn.len();
    // Stacked areas are drawn top first, so each lower area covers the one above it.
    let order: Vec<usize> = if f.style == Style::Stacked {
        (0..n).rev().collect()
    } else {
        (0..n).collect()
    };
    for i in order {
        let (name, points) = &drawn[i];
        let color = Palette99::pick(i).to_rgba();
        let legend_line = move |(x, y): (i32, i32)| {
            PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
        };
        let legend_mark = move |(x, y): (i32, i32)| Circle::new((x + 8, y), 4, color.filled());
        match f.style {
            Style::Stacked => {
                let mut outline: Vec<(f64, f64)> = points.clone();
                outline.extend(points.iter().rev().map(|&(x, _)| (x, y0)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        outline,
                        color.mix(0.85).filled(),
                    )))
                    .map_err(|e| err(&e))?
                    .label(short(name))
                    .legend(legend_line);
            }
            Style::Lines => {
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?
                    .label(short(name))
                    .legend(legend_line);
            }
            Style::Marked | Style::Points => {
                if f.style == Style::Marked {
                    chart
                        .draw_series(LineSeries::new(
                            points.iter().copied(),
                            color.stroke_width(2),
                        ))
                        .map_err(|e| err(&e))?;
                }
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| err(&e))?
                    .label(short(name))
                    .legend(legend_mark);
            }
        }
    }
    if let Some(front) = &front {
        chart
            .draw_series(LineSeries::new(
                front.iter().copied(),
                BLACK.stroke_width(1),
            ))
            .map_err(|e| err(&e))?
            .label("Pareto front")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    }
    chart
        .configure_series_labels()
        .position(legend_position(
            &all,
            (x0, x1, y0, y1),
            f.style == Style::Stacked,
        ))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;
    area.present().map_err(|e| err(&e))?;
    Ok(())
}

/// The corner of the plot with the fewest points, for the legend (an upper one when `stacked`,
/// since a stacked area fills the plot below its top edge, which is all `all` holds of it).
fn legend_position(
    all: &[(f64, f64)],
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    stacked: bool,
) -> SeriesLabelPosition {
    let corner = |left: bool, top: bool| {
        all.iter()
            .filter(|p| {
                let fx = (p.0 - x0) / (x1 - x0);
                let fy = (p.1 - y0) / (y1 - y0);
                (fx < 0.5) == left && (stacked || (fy >= 0.5) == top)
            })
            .count()
    };
    let mut candidates = vec![
        (SeriesLabelPosition::UpperRight, corner(false, true)),
        (SeriesLabelPosition::UpperLeft, corner(true, true)),
    ];
    if !stacked {
        candidates.push((SeriesLabelPosition::LowerRight, corner(false, false)));
        candidates.push((SeriesLabelPosition::LowerLeft, corner(true, false)));
    }
    candidates
        .into_iter()
        .min_by_key(|(_, n)| *n)
        .map_or(SeriesLabelPosition::UpperRight, |(p, _)| p)
}

fn draw_bars<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    b: &Bars,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| format!("drawing {:?}: {e}", b.title);
    area.fill(&WHITE).map_err(|e| err(&e))?;
    let n = b.categories.len();
    let totals: Vec<f64> = (0..n)
        .map(|c| {
            b.parts
                .iter()
                .map(|(_, v)| v.get(c).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let top = totals.iter().copied().fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.25 } else { 1.0 };
    let mut chart = ChartBuilder::on(&area)
        .caption(b.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)
        .map_err(|e| err(&e))?;
    let yd = decimals(top);
    let categories = b.categories;
    // Labels as long as a bar's share of the width allows, at about 7 pixels a character.
    let room = ((FIGURE.0 as usize - 120) / n.max(1) / 7).clamp(4, 32);
    let x_fmt = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < categories.len() {
            truncate(&categories[i as usize], room)
        } else {
            String::new()
        }
    };
    let y_fmt = move |v: &f64| format!("{v:.yd$}");
    chart
        .configure_mesh()
        .y_desc(b.y_label)
        .x_labels(n.max(1) * 2 + 1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .disable_x_mesh()
        .label_style(("sans-serif", 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;
    let mut below = vec![0.0; n];
    for (i, (name, values)) in b.parts.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let rects: Vec<Rectangle<(f64, f64)>> = (0..n)
            .map(|c| {
                let v = values.get(c).copied().unwrap_or(0.0);
                let r = Rectangle::new(
                    [(c as f64 - 0.35, below[c]), (c as f64 + 0.35, below[c] + v)],
                    color.filled(),
                );
                below[c] += v;
                r
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(|e| err(&e))?
            .label(short(name))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;
    area.present().map_err(|e| err(&e))?;
    Ok(())
}

/// A legend label of at most 32 characters.
fn short(name: &str) -> String {
    truncate(name, 32)
}

/// `name` cut to at most `max` characters, the last one an ellipsis when cut.
fn truncate(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Writes `<stem>.svg` and `<stem>.png` in `dir` with `draw`; returns the SVG's text.
fn render_with(
    dir: &Path,
    stem: &str,
    draw_svg: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
    draw_png: impl FnOnce(DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<String, String> {
    font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    draw_svg(SVGBackend::new(&svg, FIGURE).into_drawing_area())?;
    draw_png(BitMapBackend::new(&png, FIGURE).into_drawing_area())?;
    std::fs::read_to_string(&svg).map_err(|e| format!("reading {}: {e}", svg.display()))
}

/// Writes a figure as `<stem>.svg` and `<stem>.png` in `dir`; returns the SVG's text.
pub fn render(dir: &Path, stem: &str, figure: &Figure) -> Result<String, String> {
    render_with(dir, stem, |a| draw(a, figure), |a| draw(a, figure))
}

/// Writes stacked bars as `<stem>.svg` and `<stem>.png` in `dir`; returns the SVG's text.
pub fn render_bars(dir: &Path, stem: &str, bars: &Bars) -> Result<String, String> {
    render_with(dir, stem, |a| draw_bars(a, bars), |a| draw_bars(a, bars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_labels_are_short() {
        assert_eq!(log_label(-3.0), "0.001");
        assert_eq!(log_label(0.0), "1");
        assert_eq!(log_label(0.5), "3.2");
        assert_eq!(log_label(2.0), "100");
        assert_eq!(log_label(3.0), "1000");
    }
}
