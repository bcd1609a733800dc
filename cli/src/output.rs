//! Rendering: aligned tables, CSV and JSON, all to stdout.
//!
//! Tables align on display width (unicode-width), so wide (CJK) characters and
//! combining accents keep the columns straight.

use ftrack::roles::{AuditRow, UserRole};
use ftrack::{Entity, Result};
use unicode_width::UnicodeWidthStr;

use crate::args::Format;
use crate::plan::UserChanges;

/// Display width of a cell (control characters count as nothing).
fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Rows as columns aligned to the widest cell, with a header and a rule; one
/// string, each line ending with a newline.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    // Tabs and line breaks in a name would break the grid: show them as spaces.
    let clean = |s: &str| s.replace(['\n', '\r', '\t'], " ");
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut s = String::from("  ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(w.saturating_sub(width(cell)) + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&rule.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    if rows.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

/// CSV text: a header and one line per row.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        let line: Vec<String> = r.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn json(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

/// `roles`: name and type.
pub fn roles(roles: &[Entity], format: Format) -> Result<String> {
    let mut rows = Vec::new();
    for r in roles {
        rows.push(vec![r.get_string("name")?, r.get_string("type")?]);
    }
    Ok(match format {
        Format::Table => table(&["ROLE", "TYPE"], &rows),
        Format::Csv => csv(&["name", "type"], &rows),
        Format::Json => json(&serde_json::Value::Array(
            rows.iter()
                .map(|r| serde_json::json!({"name": r[0], "type": r[1]}))
                .collect(),
        )),
    })
}

/// `user`: the user's roles and scope.
pub fn user(roles: &[UserRole], format: Format) -> String {
    match format {
        Format::Table => {
            let rows: Vec<Vec<String>> = roles
                .iter()
                .map(|r| {
                    vec![
                        r.role_name.clone(),
                        r.role_type.clone(),
                        yes_no(r.all_open_projects),
                        projects(
                            r.projects
                                .iter()
                                .map(|p| format!("{} ({})", p.name, p.full_name)),
                        ),
                    ]
                })
                .collect();
            table(
                &["ROLE", "TYPE", "ALL OPEN PROJECTS", "GRANTED PROJECTS"],
                &rows,
            )
        }
        Format::Csv => {
            let rows: Vec<Vec<String>> = roles
                .iter()
                .map(|r| {
                    vec![
                        r.role_name.clone(),
                        r.role_type.clone(),
                        r.all_open_projects.to_string(),
                        r.projects
                            .iter()
                            .map(|p| p.name.clone())
                            .collect::<Vec<_>>()
                            .join(";"),
                    ]
                })
                .collect();
            csv(
                &["role", "role_type", "all_open_projects", "projects"],
                &rows,
            )
        }
        Format::Json => json(&serde_json::Value::Array(
            roles
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "role": r.role_name,
                        "role_type": r.role_type,
                        "all_open_projects": r.all_open_projects,
                        "projects": r.projects.iter().map(|p| &p.name).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn projects(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// `audit` in the chosen format.
pub fn audit(rows: &[AuditRow], format: Format) -> String {
    match format {
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.username.clone(),
                        yes_no(r.active),
                        r.role.clone().unwrap_or_else(|| "(no role)".into()),
                        r.role_type.clone().unwrap_or_else(|| "-".into()),
                        if r.role.is_some() {
                            yes_no(r.all_open_projects)
                        } else {
                            "-".into()
                        },
                        projects(r.projects.iter().cloned()),
                    ]
                })
                .collect();
            table(
                &[
                    "USER",
                    "ACTIVE",
                    "ROLE",
                    "TYPE",
                    "ALL OPEN PROJECTS",
                    "GRANTED PROJECTS",
                ],
                &cells,
            )
        }
        Format::Csv => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.username.clone(),
                        r.active.to_string(),
                        r.role.clone().unwrap_or_default(),
                        r.role_type.clone().unwrap_or_default(),
                        r.all_open_projects.to_string(),
                        r.projects.join(";"),
                    ]
                })
                .collect();
            csv(
                &[
                    "username",
                    "active",
                    "role",
                    "role_type",
                    "all_open_projects",
                    "projects",
                ],
                &cells,
            )
        }
        Format::Json => json(&serde_json::to_value(rows).unwrap_or_default()),
    }
}

/// `plan`: one line per change (table), CSV rows, or a JSON array of changes.
pub fn plan(changes: &[UserChanges], format: Format) -> String {
    match format {
        Format::Table => {
            let mut out = String::new();
            for uc in changes {
                for c in &uc.changes {
                    out.push_str(&c.line(&uc.username));
                    out.push('\n');
                }
            }
            out
        }
        Format::Csv => {
            let rows: Vec<Vec<String>> = changes
                .iter()
                .flat_map(|uc| {
                    uc.changes.iter().map(|c| {
                        std::iter::once(uc.username.clone())
                            .chain(c.csv_fields())
                            .collect()
                    })
                })
                .collect();
            csv(
                &[
                    "user",
                    "change",
                    "role",
                    "new_role",
                    "all_open_projects",
                    "grant",
                    "revoke",
                ],
                &rows,
            )
        }
        Format::Json => json(&serde_json::Value::Array(
            changes
                .iter()
                .flat_map(|uc| uc.changes.iter().map(|c| c.to_json(&uc.username)))
                .collect(),
        )),
    }
}

/// RFC 4180: quote fields with commas, quotes or line breaks; double the quotes.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn tables_align_on_display_width() {
        let t = table(
            &["USER", "ROLE"],
            &[
                vec!["山田太郎".into(), "User".into()],
                vec!["zoë".into(), "Project Manager".into()],
                vec!["e\u{301}mile".into(), "User".into()],
                vec!["bob".into(), "Restricted User".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        // ROLE starts at the same display column on every line.
        let col = |l: &str| {
            let i = l.rfind("  ").unwrap() + 2;
            width(&l[..i])
        };
        let header = col(lines[0]);
        assert_eq!(header, 2 + 8 + 2, "{t}"); // 山田太郎 is 8 columns wide
        for l in &lines[2..] {
            assert_eq!(col(l), header, "misaligned: {l:?}\n{t}");
        }
    }
}
