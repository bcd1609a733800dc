//! Rendering: aligned tables, CSV and JSON, all to stdout.

use ftrack::Entity;
use ftrack::roles::{AuditRow, UserRole};

use crate::args::Format;

/// Prints rows as columns aligned to the widest cell, with a header and a rule.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.to_vec());
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("  (none)");
    }
}

/// `roles`: name and type.
pub fn roles_table(roles: &[Entity]) -> Result<(), ftrack::Error> {
    let mut rows = Vec::new();
    for r in roles {
        rows.push(vec![r.get_string("name")?, r.get_string("type")?]);
    }
    table(&["ROLE", "TYPE"], &rows);
    Ok(())
}

/// `user`: the user's roles and scope.
pub fn user_table(roles: &[UserRole]) {
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
    );
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
pub fn audit(rows: &[AuditRow], format: Format) {
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
            );
        }
        Format::Csv => {
            println!("username,active,role,role_type,all_open_projects,projects");
            for r in rows {
                let fields = [
                    r.username.clone(),
                    r.active.to_string(),
                    r.role.clone().unwrap_or_default(),
                    r.role_type.clone().unwrap_or_default(),
                    r.all_open_projects.to_string(),
                    r.projects.join(";"),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                println!("{}", line.join(","));
            }
        }
        Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
            );
        }
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
    use super::csv_field;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
