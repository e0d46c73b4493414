//! HTML building blocks: escaping, the page frame, tables and the admissions chart. Every
//! value from a cluster, an image or a database goes through [`esc`]; nothing here trusts
//! its input.

use std::fmt::Write as _;

use percent_encoding::utf8_percent_encode;
use portcullis_types::purl::NOT_UNRESERVED;

/// `text` escaped for HTML text and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `value` percent-encoded for a query string or a path segment.
pub fn url_part(value: &str) -> String {
    utf8_percent_encode(value, NOT_UNRESERVED).to_string()
}

/// At most `max` characters of `text`, with `…` when cut (before escaping).
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The navigation entries: (path, label).
pub const NAV: [(&str, &str); 6] = [
    ("/ui/", "Overview"),
    ("/ui/images", "Images"),
    ("/ui/workloads", "Workloads"),
    ("/ui/search", "Search"),
    ("/ui/audits", "Audits"),
    ("/ui/policies", "Policies"),
];

/// A whole page: `<head>`, the navigation (with `active` marked), a logout form when there
/// is a session (`csrf`), and `body`.
pub fn page(title: &str, active: &str, csrf: Option<&str>, body: &str) -> String {
    let mut nav = String::new();
    for (path, label) in NAV {
        let current = if path == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<li><a href=\"{path}\"{current}>{label}</a></li>");
    }
    let logout = csrf.map_or_else(String::new, |csrf| {
        format!(
            "<form method=\"post\" action=\"/ui/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Log out</button></form>",
            esc(csrf)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Portcullis</title>\
<link rel=\"stylesheet\" href=\"/ui/static/app.css\">\
<script src=\"/ui/static/app.js\" defer></script></head>\
<body><header><a class=\"brand\" href=\"/ui/\">Portcullis</a>\
<nav aria-label=\"Main\"><ul>{nav}</ul></nav>{logout}</header>\
<main id=\"main\"><h1>{title}</h1>\n{body}</main></body></html>\n",
        title = esc(title)
    )
}

/// A table: `headers` (label, numeric?) and rows of already-escaped cells, with a
/// `data-sort` key per cell where given. Sortable and filterable by the page's script.
pub struct Table {
    id: String,
    caption: String,
    headers: Vec<(String, bool)>,
    rows: Vec<Vec<Cell>>,
}

/// One table cell: escaped HTML, and the key sorted by (numbers for numeric columns).
pub struct Cell {
    html: String,
    sort: Option<String>,
}

impl Cell {
    /// A cell showing `text` (escaped).
    pub fn text(text: &str) -> Self {
        Self {
            html: esc(text),
            sort: None,
        }
    }

    /// A cell of prepared (escaped) HTML.
    pub fn html(html: String) -> Self {
        Self { html, sort: None }
    }

    /// A number.
    pub fn number(n: usize) -> Self {
        Self {
            html: n.to_string(),
            sort: Some(n.to_string()),
        }
    }

    /// Sorted by `key` rather than by its text.
    pub fn sort_by(mut self, key: impl ToString) -> Self {
        self.sort = Some(key.to_string());
        self
    }
}

impl Table {
    /// An empty table `id` with a `caption` (for screen readers and the filter label).
    pub fn new(id: &str, caption: &str, headers: &[(&str, bool)]) -> Self {
        Self {
            id: id.to_string(),
            caption: caption.to_string(),
            headers: headers.iter().map(|(h, n)| (h.to_string(), *n)).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The filter box and the table, or `empty` as a paragraph when there are no rows.
    pub fn render(&self, empty: &str) -> String {
        if self.rows.is_empty() {
            return format!("<p class=\"empty\">{}</p>", esc(empty));
        }
        let id = esc(&self.id);
        let mut out = format!(
            "<div class=\"filter\"><label for=\"{id}-filter\">Filter {caption}</label>\
<input type=\"search\" id=\"{id}-filter\" data-filter=\"{id}\" autocomplete=\"off\"></div>\
<div class=\"scroll\"><table id=\"{id}\" class=\"sortable\"><caption>{caption} ({count})</caption><thead><tr>",
            caption = esc(&self.caption),
            count = self.rows.len()
        );
        for (header, numeric) in &self.headers {
            let class = if *numeric { " class=\"num\"" } else { "" };
            let _ = write!(
                out,
                "<th scope=\"col\"{class} aria-sort=\"none\"><button type=\"button\">{}</button></th>",
                esc(header)
            );
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let (label, numeric) = self
                    .headers
                    .get(i)
                    .map_or(("", false), |(h, n)| (h.as_str(), *n));
                let class = if numeric { " class=\"num\"" } else { "" };
                let sort = cell
                    .sort
                    .as_ref()
                    .map_or_else(String::new, |key| format!(" data-sort=\"{}\"", esc(key)));
                let _ = write!(
                    out,
                    "<td{class} data-label=\"{}\"{sort}>{}</td>",
                    esc(label),
                    cell.html
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
        out
    }
}

/// Admissions per hour over the last 24 hours as an inline SVG bar chart, stacked allowed /
/// warned / denied, with a text equivalent for screen readers.
pub fn admissions_chart(hours: &[[usize; 3]; 24]) -> String {
    let max = hours
        .iter()
        .map(|h| h.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, bar) = (480usize, 120usize, 20usize);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {}\" role=\"img\" aria-labelledby=\"chart-title\">\
<title id=\"chart-title\">Admissions per hour, last 24 hours</title>",
        height + 16
    );
    for (i, counts) in hours.iter().enumerate() {
        let mut y = height;
        for (kind, count) in ["allowed", "warned", "denied"].iter().zip(counts) {
            if *count == 0 {
                continue;
            }
            let h = (count * height).div_ceil(max);
            y = y.saturating_sub(h);
            let _ = write!(
                svg,
                "<rect class=\"{kind}\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{h}\"><title>{count} {kind}</title></rect>",
                i * bar,
                bar - 2
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"{}\">24 h ago</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">now</text></svg>",
        height + 14,
        width,
        height + 14
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\"\u{1b}[31m"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\u{FFFD}[31m"
        );
        assert_eq!(url_part("CVE-2024 1/x<"), "CVE-2024%201%2Fx%3C");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }

    #[test]
    fn tables_escape_cells_and_show_an_empty_note() {
        let mut t = Table::new("t", "Things <b>", &[("Name", false), ("N", true)]);
        assert_eq!(
            t.render("none <i>"),
            "<p class=\"empty\">none &lt;i&gt;</p>"
        );
        t.row(vec![Cell::text("<img src=x>"), Cell::number(3)]);
        let html = t.render("");
        assert!(
            html.contains(
                "<td data-label=\"Name\">&lt;img src=x&gt;</td><td class=\"num\" data-label=\"N\" data-sort=\"3\">3</td>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<caption>Things &lt;b&gt; (1)</caption>"),
            "{html}"
        );
    }

    #[test]
    fn chart_scales_bars_to_the_busiest_hour() {
        let mut hours = [[0usize; 3]; 24];
        hours[23] = [2, 1, 1];
        hours[0] = [1, 0, 0];
        let svg = admissions_chart(&hours);
        assert!(svg.contains("<rect class=\"allowed\" x=\"460\" y=\"60\" width=\"18\" height=\"60\"><title>2 allowed</title></rect>"), "{svg}");
        assert!(
            svg.contains("<rect class=\"denied\" x=\"460\" y=\"0\" width=\"18\" height=\"30\">"),
            "{svg}"
        );
        assert!(
            svg.contains("<rect class=\"allowed\" x=\"0\" y=\"90\""),
            "{svg}"
        );
    }
}
