//! The page's variant matrix: each variant's settings and cost, scenarios × variants, checks ×
//! variants with each later variant's change against the first (regressed, improved,
//! inconclusive with the repeats that would tell, unchanged), and for every unit where the
//! variants disagree, their transcripts, tool calls and final memories side by side.

use std::fmt::Write;

use super::escape;
use crate::outcome::{RunReport, UnitReport};
use crate::report::matrix::{Matrix, change_text, matrix};
use crate::stats::Change;

/// Units shown side by side at most; the rest are in the units list below.
const SIDE_BY_SIDE_UNITS: usize = 30;

pub(super) const STYLE: &str = "\
table.matrix td.regressed{background:#ffebe9;color:#a40e26;font-weight:600}\
table.matrix td.improved{background:#dafbe1;color:#116329;font-weight:600}\
table.matrix td.inconclusive{background:#fff8c5}\
table.matrix td,table.matrix th{text-align:left}\
table#variants td:nth-child(2),table#variants th:nth-child(2){text-align:left}\
.side-by-side{display:grid;grid-auto-flow:column;grid-auto-columns:minmax(0,1fr);gap:.6rem}\
.side-by-side>div{min-width:0}";

fn ms(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.0} ms"))
}

pub(super) fn render(h: &mut String, r: &RunReport) {
    let Some(m) = matrix(r) else {
        return;
    };
    variants(h, r, &m);
    let _ = write!(
        h,
        "<h2>Matrix: scenarios × variants</h2>\n<table class=\"grid matrix\" id=\"matrix\">\n<tr><th>Scenario</th>"
    );
    for v in &m.variants {
        let _ = write!(h, "<th>{}</th>", escape(v));
    }
    h.push_str("</tr>\n");
    for (name, rates) in &m.scenarios {
        let _ = write!(h, "<tr><td>{}</td>", escape(name));
        for rate in rates {
            let _ = write!(h, "<td>{}</td>", escape(&rate.text()));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    let _ = write!(
        h,
        "<h2>Checks × variants, against <code>{}</code></h2>\n\
         <p class=\"meta\">Pass rates with their 95% Wilson interval. A difference is regressed or \
         improved only when Fisher's exact test gives p &lt; 0.05; otherwise inconclusive, with the \
         repeats per variant that would tell it at 80% power. With one repeat, a check ok in the \
         first variant and failing in another is regressed.</p>\n\
         <table class=\"grid matrix\" id=\"check-matrix\">\n<tr><th>Scenario</th><th>Customer</th><th>Check</th>",
        escape(m.variants[0])
    );
    for v in &m.variants {
        let _ = write!(h, "<th>{}</th>", escape(v));
    }
    h.push_str("</tr>\n");
    for row in &m.checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} — {}</td><td>{}</td>",
            escape(row.scenario),
            escape(row.customer),
            escape(&row.id.to_string()),
            escape(row.label),
            escape(&row.rates[0].text())
        );
        for (i, change) in row.changes.iter().enumerate() {
            let (class, text) = match change {
                Some(c) => (
                    c.judgement.change.as_str(),
                    change_text(c).replace("**", ""),
                ),
                None => ("", String::new()),
            };
            let _ = write!(
                h,
                "<td class=\"{class}\" data-change=\"{class}\">{}<br>{}</td>",
                escape(&row.rates[i + 1].text()),
                escape(&text)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    side_by_side(h, r, &m);
}

fn variants(h: &mut String, r: &RunReport, m: &Matrix<'_>) {
    h.push_str(
        "<h2>Variants</h2>\n<table class=\"grid\" id=\"variants\">\n<tr><th>Variant</th><th>Settings</th>\
         <th>Units</th><th>Regressed</th><th>Improved</th><th>Inconclusive</th><th>Tokens</th>\
         <th>Model requests</th><th>Time to idle p50</th><th>p95</th></tr>\n",
    );
    for (i, v) in m.variants.iter().enumerate() {
        let count = |change: Change| {
            if i == 0 {
                return "—".to_string();
            }
            r.comparisons
                .iter()
                .filter(|c| c.variant == *v && c.judgement.change == change)
                .count()
                .to_string()
        };
        let c = &m.costs[i];
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(v),
            escape(&r.settings.variants[i].description),
            c.units,
            count(Change::Regressed),
            count(Change::Improved),
            count(Change::Inconclusive),
            c.usage.total_tokens(),
            c.usage.model_requests,
            ms(c.idle_p50_ms),
            ms(c.idle_p95_ms)
        );
    }
    h.push_str("</table>\n");
}

/// Every (scenario, customer, repeat) whose verdicts differ between variants: the units of each
/// variant in a column.
fn side_by_side(h: &mut String, r: &RunReport, m: &Matrix<'_>) {
    let mut places: Vec<(&str, &str, usize)> = Vec::new();
    for u in &r.units {
        let place = (u.scenario.as_str(), u.customer.id.as_str(), u.repeat);
        if places.contains(&place) {
            continue;
        }
        let same: Vec<&UnitReport> = r
            .units
            .iter()
            .filter(|w| (w.scenario.as_str(), w.customer.id.as_str(), w.repeat) == place)
            .collect();
        let verdicts = |w: &UnitReport| {
            w.checks
                .iter()
                .map(|c| (c.id.clone(), c.verdict.passed))
                .collect::<Vec<_>>()
        };
        let first = same.first().map(|w| (verdicts(w), w.error.is_some()));
        if same.len() < m.variants.len()
            || same
                .iter()
                .any(|w| Some((verdicts(w), w.error.is_some())) != first)
        {
            places.push(place);
        }
    }
    let _ = writeln!(
        h,
        "<h2>Where the variants disagree ({} units)</h2>",
        places.len()
    );
    if places.is_empty() {
        h.push_str("<p class=\"meta\">Every unit has the same verdicts in every variant.</p>\n");
    }
    for (scenario, customer, repeat) in places.iter().take(SIDE_BY_SIDE_UNITS) {
        let _ = writeln!(
            h,
            "<h3>{} · customer <code>{}</code> · repeat {repeat}</h3>\n<div class=\"side-by-side\">",
            escape(scenario),
            escape(customer)
        );
        for v in &m.variants {
            let _ = writeln!(h, "<div><h3>{}</h3>", escape(v));
            match r.units.iter().find(|u| {
                u.variant.as_deref() == Some(*v)
                    && u.scenario == *scenario
                    && u.customer.id == *customer
                    && u.repeat == *repeat
            }) {
                Some(u) => super::unit::render_with(h, u, true, false, false),
                None => h.push_str("<p class=\"meta\">(not run)</p>\n"),
            }
            h.push_str("</div>\n");
        }
        h.push_str("</div>\n");
    }
    if places.len() > SIDE_BY_SIDE_UNITS {
        let _ = writeln!(
            h,
            "<p class=\"meta\">…and {} more, each in the units list below.</p>",
            places.len() - SIDE_BY_SIDE_UNITS
        );
    }
}
