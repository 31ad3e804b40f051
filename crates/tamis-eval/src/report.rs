//! Counting, metrics, random draws and the SVG plot shared by the classification evaluations.

use std::fmt::Write as _;

use crate::table::figure;

/// A confusion matrix of one binary decision.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub true_negatives: usize,
    pub false_negatives: usize,
}

impl Counts {
    pub fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
            (false, true) => self.false_negatives += 1,
        }
    }

    fn ratio(part: usize, whole: usize) -> f64 {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    }

    pub fn precision(&self) -> f64 {
        Self::ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    pub fn recall(&self) -> f64 {
        Self::ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    pub fn false_positive_rate(&self) -> f64 {
        Self::ratio(
            self.false_positives,
            self.false_positives + self.true_negatives,
        )
    }

    pub fn f1(&self) -> f64 {
        Self::ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }

    pub fn accuracy(&self) -> f64 {
        Self::ratio(
            self.true_positives + self.true_negatives,
            self.true_positives + self.false_positives + self.true_negatives + self.false_negatives,
        )
    }
}

/// Mean of the metrics over several runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeanMetrics {
    pub precision: f64,
    pub recall: f64,
    pub false_positive_rate: f64,
    pub f1: f64,
    /// Standard deviation of F1 across the runs: how far apart seeds' draws of examples land.
    pub f1_deviation: f64,
    pub accuracy: f64,
    /// Expected calibration error of the scores, where scores were kept.
    pub calibration_error: Option<f64>,
}

impl MeanMetrics {
    pub fn of(runs: &[(Counts, Option<f64>)]) -> Self {
        let n = runs.len().max(1) as f64;
        let mean = |f: fn(&Counts) -> f64| runs.iter().map(|(c, _)| f(c)).sum::<f64>() / n;
        let errors: Vec<f64> = runs.iter().filter_map(|(_, e)| *e).collect();
        let f1 = mean(Counts::f1);
        MeanMetrics {
            precision: mean(Counts::precision),
            recall: mean(Counts::recall),
            false_positive_rate: mean(Counts::false_positive_rate),
            f1,
            f1_deviation: (runs.iter().map(|(c, _)| (c.f1() - f1).powi(2)).sum::<f64>() / n).sqrt(),
            accuracy: mean(Counts::accuracy),
            calibration_error: (!errors.is_empty())
                .then(|| errors.iter().sum::<f64>() / errors.len() as f64),
        }
    }

    /// The column names of [`MeanMetrics::cells`].
    pub const COLUMNS: [&'static str; 6] = ["precision", "recall", "FPR", "F1", "accuracy", "ECE"];

    /// Cells for [`MeanMetrics::COLUMNS`] (ECE blank where no scores were kept).
    pub fn cells(&self) -> Vec<String> {
        let error = self.calibration_error.map_or_else(String::new, figure);
        vec![
            figure(self.precision),
            figure(self.recall),
            figure(self.false_positive_rate),
            figure(self.f1),
            figure(self.accuracy),
            error,
        ]
    }
}

/// Expected calibration error over ten equal-width score bins.
pub fn calibration_error(scored: &[(f32, bool)]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for &(score, actual) in scored {
        let bin = ((score * 10.0) as usize).min(9);
        bins[bin].0 += 1;
        bins[bin].1 += f64::from(score);
        bins[bin].2 += usize::from(actual);
    }
    bins.iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|&(count, score_sum, positives)| {
            (score_sum / count as f64 - positives as f64 / count as f64).abs() * count as f64
        })
        .sum::<f64>()
        / scored.len().max(1) as f64
}

/// SplitMix64: a small, seedable generator for reproducible draws.
pub struct Draws(u64);

impl Draws {
    pub fn new(seed: u64) -> Self {
        Draws(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound.max(1) as u64) as usize
    }

    /// `k` distinct texts from `texts` (partial Fisher-Yates over the distinct ones).
    pub fn sample(&mut self, texts: &[&str], k: usize) -> Vec<String> {
        let mut distinct: Vec<&str> = Vec::with_capacity(texts.len());
        let mut seen = std::collections::HashSet::new();
        for text in texts {
            if seen.insert(text.trim()) {
                distinct.push(text.trim());
            }
        }
        let k = k.min(distinct.len());
        for i in 0..k {
            let j = i + self.below(distinct.len() - i);
            distinct.swap(i, j);
        }
        distinct[..k].iter().map(|t| t.to_string()).collect()
    }
}

/// One line of the plot: a method's F1 per shot count.
pub struct Series {
    pub name: String,
    pub points: Vec<(usize, f64)>,
}

/// Small multiples, one panel per dataset: F1 against shots per class (log scale).
pub fn f1_plot(panels: &[(String, Vec<Series>)]) -> String {
    const WIDTH: f64 = 300.0;
    const HEIGHT: f64 = 220.0;
    const MARGIN: f64 = 40.0;
    const COLOURS: [&str; 6] = [
        "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d",
    ];
    let total_width = WIDTH * panels.len() as f64 + MARGIN;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{}" font-family="sans-serif" font-size="11">"#,
        HEIGHT + 110.0
    );
    let max_shots = panels
        .iter()
        .flat_map(|(_, series)| series.iter().flat_map(|s| s.points.iter().map(|p| p.0)))
        .max()
        .unwrap_or(1)
        .max(2) as f64;
    for (p, (title, series)) in panels.iter().enumerate() {
        let left = MARGIN + p as f64 * WIDTH;
        let plot_width = WIDTH - MARGIN;
        let x = |shots: usize| left + (shots as f64).log2() / max_shots.log2() * plot_width;
        let y = |f1: f64| 20.0 + (1.0 - f1) * HEIGHT;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="14" text-anchor="middle" font-weight="bold">{title}</text>"#,
            left + plot_width / 2.0
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{left}" y="20" width="{plot_width}" height="{HEIGHT}" fill="none" stroke="#999"/>"##
        );
        for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" text-anchor="end">{tick}</text><line x1="{left}" x2="{}" y1="{1}" y2="{1}" stroke="#eee"/>"##,
                left - 3.0,
                y(tick) + 4.0,
                left + plot_width
            );
        }
        let mut shots: Vec<usize> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        shots.sort_unstable();
        shots.dedup();
        for k in shots {
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{k}</text>"#,
                x(k),
                HEIGHT + 34.0
            );
        }
        for (s, line) in series.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let points: Vec<String> = line
                .points
                .iter()
                .map(|&(k, f1)| format!("{:.1},{:.1}", x(k), y(f1)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                points.join(" ")
            );
        }
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">shots per class (log scale); y: F1 of the harmful class</text>"#,
        total_width / 2.0,
        HEIGHT + 52.0
    );
    if let Some((_, series)) = panels.first() {
        for (s, line) in series.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let top = HEIGHT + 66.0 + (s / 3) as f64 * 16.0;
            let left = MARGIN + (s % 3) as f64 * 260.0;
            let _ = writeln!(
                svg,
                r#"<rect x="{left}" y="{top}" width="12" height="4" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
                left + 16.0,
                top + 5.0,
                line.name
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}
