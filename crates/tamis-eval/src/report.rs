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
    /// F1 at the threshold that is best on the test set itself, where scores were kept: what
    /// the scores rank, whatever their calibration puts at 0.5.
    pub best_threshold_f1: Option<f64>,
}

impl MeanMetrics {
    pub fn of(runs: &[(Counts, Option<ScoreQuality>)]) -> Self {
        let n = runs.len().max(1) as f64;
        let mean = |f: fn(&Counts) -> f64| runs.iter().map(|(c, _)| f(c)).sum::<f64>() / n;
        let qualities: Vec<ScoreQuality> = runs.iter().filter_map(|(_, q)| *q).collect();
        let mean_quality = |f: fn(&ScoreQuality) -> f64| {
            (!qualities.is_empty())
                .then(|| qualities.iter().map(f).sum::<f64>() / qualities.len() as f64)
        };
        let f1 = mean(Counts::f1);
        MeanMetrics {
            precision: mean(Counts::precision),
            recall: mean(Counts::recall),
            false_positive_rate: mean(Counts::false_positive_rate),
            f1,
            f1_deviation: (runs.iter().map(|(c, _)| (c.f1() - f1).powi(2)).sum::<f64>() / n).sqrt(),
            accuracy: mean(Counts::accuracy),
            calibration_error: mean_quality(|q| q.calibration_error),
            best_threshold_f1: mean_quality(|q| q.best_threshold_f1),
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

/// What one run's scores are worth beside its decisions at the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreQuality {
    /// See [`calibration_error`].
    pub calibration_error: f64,
    /// See [`best_threshold_f1`].
    pub best_threshold_f1: f64,
}

impl ScoreQuality {
    /// The quality of `scored` (score, actually harmful).
    pub fn of(scored: &[(f32, bool)]) -> Self {
        ScoreQuality {
            calibration_error: calibration_error(scored),
            best_threshold_f1: best_threshold_f1(scored),
        }
    }
}

/// The highest F1 of the harmful class over every threshold (each text's score in turn):
/// an oracle that looks at the test labels, so a ceiling on what any calibration of the same
/// scores could reach, not a figure a user gets.
pub fn best_threshold_f1(scored: &[(f32, bool)]) -> f64 {
    let positives = scored.iter().filter(|(_, harmful)| *harmful).count();
    let mut descending: Vec<(f32, bool)> = scored.to_vec();
    descending.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut best, mut flagged, mut caught) = (0.0f64, 0usize, 0usize);
    for (index, &(score, harmful)) in descending.iter().enumerate() {
        flagged += 1;
        caught += usize::from(harmful);
        // Texts with equal scores are flagged together or not at all.
        if descending
            .get(index + 1)
            .is_some_and(|next| next.0 == score)
        {
            continue;
        }
        best = best.max(2.0 * caught as f64 / (flagged + positives) as f64);
    }
    best
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_threshold_is_found_among_the_scores() {
        // Flagging the top two (0.9, 0.8) catches both harmful texts and nothing else.
        let scored = [(0.9, true), (0.8, true), (0.7, false), (0.2, false)];
        assert_eq!(best_threshold_f1(&scored), 1.0);
        // A benign text above every harmful one: the best is to flag all three top texts.
        let scored = [(0.95, false), (0.9, true), (0.8, true), (0.2, false)];
        assert!((best_threshold_f1(&scored) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn texts_with_equal_scores_are_flagged_together() {
        // One threshold cannot separate the tied pair: flag both (F1 2/3) or neither (0).
        let scored = [(0.5, true), (0.5, false)];
        assert!((best_threshold_f1(&scored) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn without_harmful_texts_nothing_is_caught() {
        assert_eq!(best_threshold_f1(&[(0.3, false), (0.1, false)]), 0.0);
        assert_eq!(best_threshold_f1(&[]), 0.0);
    }
}
