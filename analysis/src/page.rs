//! A report written twice as it is built: as Markdown (`report.md`, figures linked as PNG) and
//! as one self-contained HTML page (`report.html`, figures inlined as SVG).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A report being built.
pub struct Page {
    md: String,
    html: String,
    /// Figure files written so far.
    files: Vec<PathBuf>,
}

/// Escapes text for HTML.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Page {
    /// A report titled `title`.
    pub fn new(title: &str) -> Page {
        let mut page = Page {
            md: format!("# {title}\n\n"),
            html: String::new(),
            files: Vec::new(),
        };
        let _ = writeln!(
            page.html,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\
             <style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}\
             table{{border-collapse:collapse}}\
             td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}\
             pre{{background:#f6f6f6;padding:8px}}</style></head><body>\n<h1>{}</h1>",
            html(title),
            html(title)
        );
        page
    }

    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.md, "## {text}\n");
        let _ = writeln!(self.html, "<h2>{}</h2>", html(text));
    }

    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.md, "{text}\n");
        let _ = writeln!(self.html, "<p>{}</p>", html(text));
    }

    /// Preformatted text, such as a run's summary.
    pub fn preformatted(&mut self, text: &str) {
        let _ = writeln!(self.md, "```text\n{}\n```\n", text.trim_end());
        let _ = writeln!(self.html, "<pre>{}</pre>", html(text.trim_end()));
    }

    /// A figure already written as `<stem>.svg` and `<stem>.png` in the report's directory,
    /// whose SVG text is `svg`.
    pub fn figure(&mut self, dir: &Path, stem: &str, svg: &str, caption: &str) {
        let _ = writeln!(
            self.md,
            "![{stem}]({stem}.png)\n\n{caption} ([SVG]({stem}.svg))\n"
        );
        let _ = writeln!(
            self.html,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            html(caption)
        );
        self.files.push(dir.join(format!("{stem}.svg")));
        self.files.push(dir.join(format!("{stem}.png")));
    }

    /// A table with a header row.
    pub fn table(&mut self, head: &[String], rows: &[Vec<String>]) {
        let _ = writeln!(self.md, "| {} |", head.join(" | "));
        let _ = writeln!(self.md, "|{}", "---|".repeat(head.len()));
        let _ = write!(self.html, "<table><tr>");
        for h in head {
            let _ = write!(self.html, "<th>{}</th>", html(h));
        }
        let _ = writeln!(self.html, "</tr>");
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(self.md, "| {} |", cells.join(" | "));
            let _ = write!(self.html, "<tr>");
            for c in row {
                let _ = write!(self.html, "<td>{}</td>", html(c));
            }
            let _ = writeln!(self.html, "</tr>");
        }
        let _ = writeln!(self.html, "</table>");
        self.md.push('\n');
    }

    /// Writes `report.md` and `report.html` into `dir`; returns every file of the report.
    pub fn write(mut self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let _ = writeln!(self.html, "</body></html>");
        for (name, text) in [("report.md", &self.md), ("report.html", &self.html)] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
            self.files.push(path);
        }
        Ok(self.files)
    }
}
