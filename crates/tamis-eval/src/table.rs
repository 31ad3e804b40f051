//! The one table writer of the evaluations: markdown tables with a caption.

use std::fmt;

/// A markdown table: a caption, a header row and rows of cells.
#[derive(Debug, Clone)]
pub struct Table {
    caption: String,
    note: Option<String>,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with `caption` (written as a level-3 heading) and these column names.
    pub fn new(caption: impl Into<String>, header: &[&str]) -> Self {
        Table {
            caption: caption.into(),
            note: None,
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// A paragraph written between the caption and the table: what the figures mean.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Adds a row; missing cells are left blank and extra ones are an error of the caller's
    /// (debug builds check).
    pub fn row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut cells: Vec<String> = cells.into_iter().map(|c| c.to_string()).collect();
        debug_assert!(cells.len() <= self.header.len(), "more cells than columns");
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
        writeln!(f, "### {}\n", self.caption)?;
        if let Some(note) = &self.note {
            writeln!(f, "{note}\n")?;
        }
        writeln!(f, "{}", line(&self.header))?;
        writeln!(f, "|{}", "---|".repeat(self.header.len()))?;
        for row in &self.rows {
            writeln!(f, "{}", line(row))?;
        }
        writeln!(f)
    }
}

/// A score with three decimals, the precision every table uses.
pub fn figure(value: f64) -> String {
    format!("{value:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_markdown_table_with_its_caption() {
        let mut table = Table::new("F1", &["method", "k=8"]).with_note("Mean of 5 seeds.");
        table.row(["probe", &figure(0.8214)]);
        table.row(["short row"]);
        assert_eq!(
            table.to_string(),
            "### F1\n\nMean of 5 seeds.\n\n| method | k=8 |\n|---|---|\n| probe | 0.821 |\n| short row |  |\n\n"
        );
    }
}
