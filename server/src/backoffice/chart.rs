//! The Partner Center's chart: hits, opt-ins and orders per day as a server-rendered SVG, so the
//! page needs no chart library.

use crate::store::DayFigures;
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 16.0;
/// Longest range drawn, in days.
pub const MAX_DAYS: i64 = 366;

/// A series drawn: label, colour, and its value on a day.
type Series = (&'static str, &'static str, fn(&DayFigures) -> i64);

/// The series drawn.
const SERIES: [Series; 3] = [("Hits", "#9db7e0", |d| d.hits), ("Opt-ins", "#4f7cc4", |d| d.opt_ins), ("Orders", "#1b3f7a", |d| d.orders)];

/// Grouped bars for each day from `first_day` to `last_day` (days since 1970-01-01, inclusive);
/// days without figures are drawn as zero. Each bar has a `<title>` with its exact value.
pub fn daily_svg(days: &[DayFigures], first_day: i64, last_day: i64) -> String {
    let last_day = last_day.clamp(first_day, first_day + MAX_DAYS - 1);
    let count = (last_day - first_day + 1) as usize;
    let mut values = vec![[0i64; 3]; count];
    for d in days.iter().filter(|d| (first_day..=last_day).contains(&d.day)) {
        let slot = &mut values[(d.day - first_day) as usize];
        for (i, (_, _, get)) in SERIES.iter().enumerate() {
            slot[i] += get(d);
        }
    }
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let group = plot_w / count as f64;
    let bar = (group * 0.8 / 3.0).max(0.5);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Hits, opt-ins and orders per day" font-family="system-ui, sans-serif" font-size="11">"##
    );
    let _ = write!(svg, r##"<line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" stroke="#ccc"/>"##, y = TOP + plot_h, x2 = WIDTH - 8.0);
    let _ = write!(svg, r##"<text x="{x}" y="{y}" text-anchor="end" fill="#555">{max}</text>"##, x = LEFT - 6.0, y = TOP + 4.0);
    let _ = write!(svg, r##"<text x="{x}" y="{y}" text-anchor="end" fill="#555">0</text>"##, x = LEFT - 6.0, y = TOP + plot_h);
    for (i, day) in values.iter().enumerate() {
        for (s, (label, colour, _)) in SERIES.iter().enumerate() {
            let h = plot_h * day[s] as f64 / max as f64;
            let x = LEFT + group * i as f64 + group * 0.1 + bar * s as f64;
            let _ = write!(
                svg,
                r##"<rect class="{class}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{colour}"><title>{date} {label}: {v}</title></rect>"##,
                class = label.to_ascii_lowercase().replace('-', "_"),
                y = TOP + plot_h - h,
                date = date(first_day + i as i64),
                v = day[s],
            );
        }
    }
    let _ = write!(svg, r##"<text x="{LEFT}" y="{y}" fill="#555">{}</text>"##, date(first_day), y = HEIGHT - 6.0);
    let _ = write!(
        svg,
        r##"<text x="{x}" y="{y}" text-anchor="end" fill="#555">{}</text>"##,
        date(last_day),
        x = WIDTH - 8.0,
        y = HEIGHT - 6.0
    );
    for (s, (label, colour, _)) in SERIES.iter().enumerate() {
        let x = WIDTH - 230.0 + 75.0 * s as f64;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="2" width="10" height="10" fill="{colour}"/><text x="{tx}" y="11">{label}</text>"##,
            tx = x + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `YYYY-MM-DD` of a day number.
fn date(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400).map_or_else(|_| day.to_string(), |t| t.date().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i64, hits: i64, opt_ins: i64, orders: i64) -> DayFigures {
        DayFigures { day, hits, opt_ins, orders, commission_minor: 0 }
    }

    #[test]
    fn every_day_of_the_range_gets_three_bars_with_exact_titles() {
        // 2026-11-01 is day 20758.
        let svg = daily_svg(&[day(20_758, 5, 2, 1), day(20_760, 1, 0, 0)], 20_758, 20_760);
        assert_eq!(svg.matches("<rect class=").count(), 9);
        assert!(svg.contains("<title>2026-11-01 Hits: 5</title>"), "{svg}");
        assert!(svg.contains("<title>2026-11-02 Orders: 0</title>"));
        assert!(svg.contains("<title>2026-11-03 Hits: 1</title>"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn the_tallest_bar_fills_the_plot_and_figures_outside_the_range_are_ignored() {
        let svg = daily_svg(&[day(10, 4, 0, 0), day(99, 1000, 0, 0)], 10, 10);
        let plot_h = HEIGHT - TOP - BOTTOM;
        assert!(svg.contains(&format!("height=\"{plot_h:.1}\"")), "{svg}");
        assert!(!svg.contains("1000"));
    }

    #[test]
    fn a_range_longer_than_a_year_is_cut() {
        let svg = daily_svg(&[], 0, 10_000);
        assert_eq!(svg.matches("<rect class=").count(), 3 * MAX_DAYS as usize);
    }
}
