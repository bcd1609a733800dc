//! Command-line parsing (hand-written: the grammar is small — global flags, then
//! commands separated by a lone `+` — and clap would not model the chaining any
//! better, while adding a dependency to a crate that studios may vendor).

use std::fmt;

/// How `audit` prints its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// RFC 4180 CSV with a header row; projects joined with `;`.
    Csv,
    /// A JSON array of row objects.
    Json,
}

/// One command of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `roles [--type T]`
    Roles { role_type: Option<String> },
    /// `user <username>`
    User { username: String },
    /// `assign <username> <role> [--all-open-projects]`
    Assign {
        username: String,
        role: String,
        all_open_projects: bool,
    },
    /// `remove <username> <role>`
    Remove { username: String, role: String },
    /// `replace <username> <old> <new>`
    Replace {
        username: String,
        old: String,
        new: String,
    },
    /// `grant <username> <role> <project>`
    Grant {
        username: String,
        role: String,
        project: String,
    },
    /// `revoke <username> <role> <project>`
    Revoke {
        username: String,
        role: String,
        project: String,
    },
    /// `audit [--format table|csv|json]`
    Audit { format: Format },
    /// `commit`
    Commit,
}

fn q(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "-_.@".contains(c)) {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\\\""))
    }
}

impl fmt::Display for Command {
    /// The command as it would be typed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Roles { role_type: None } => write!(f, "roles"),
            Command::Roles { role_type: Some(t) } => write!(f, "roles --type {}", q(t)),
            Command::User { username } => write!(f, "user {}", q(username)),
            Command::Assign {
                username,
                role,
                all_open_projects,
            } => write!(
                f,
                "assign {} {}{}",
                q(username),
                q(role),
                if *all_open_projects {
                    " --all-open-projects"
                } else {
                    ""
                }
            ),
            Command::Remove { username, role } => write!(f, "remove {} {}", q(username), q(role)),
            Command::Replace { username, old, new } => {
                write!(f, "replace {} {} {}", q(username), q(old), q(new))
            }
            Command::Grant {
                username,
                role,
                project,
            } => write!(f, "grant {} {} {}", q(username), q(role), q(project)),
            Command::Revoke {
                username,
                role,
                project,
            } => write!(f, "revoke {} {} {}", q(username), q(role), q(project)),
            Command::Audit { format } => match format {
                Format::Table => write!(f, "audit"),
                Format::Csv => write!(f, "audit --format csv"),
                Format::Json => write!(f, "audit --format json"),
            },
            Command::Commit => write!(f, "commit"),
        }
    }
}

impl Command {
    /// Whether the command queues a change (rather than reading or committing).
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Command::Assign { .. }
                | Command::Remove { .. }
                | Command::Replace { .. }
                | Command::Grant { .. }
                | Command::Revoke { .. }
        )
    }
}

/// Everything the command line asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub server: Option<String>,
    pub api_user: Option<String>,
    pub api_key: Option<String>,
    pub dry_run: bool,
    pub idempotent: bool,
    pub sandbox: bool,
    pub help: bool,
    pub version: bool,
    pub commands: Vec<Command>,
}

/// A usage error: what is wrong, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    let mut inv = Invocation::default();
    let mut i = 0;
    // Global flags, before the first command.
    while i < args.len() {
        let a = args[i].as_str();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (a, None),
        };
        let mut value = |flag: &str| -> Result<String, UsageError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| usage(format!("{flag} needs a value")))
        };
        match name {
            "--server" => inv.server = Some(value("--server")?),
            "--api-user" => inv.api_user = Some(value("--api-user")?),
            "--api-key" => inv.api_key = Some(value("--api-key")?),
            "--dry-run" => inv.dry_run = true,
            "--idempotent" => inv.idempotent = true,
            "--sandbox" => inv.sandbox = true,
            "-h" | "--help" | "help" => inv.help = true,
            "-V" | "--version" => inv.version = true,
            _ if a.starts_with('-') => {
                return Err(usage(format!(
                    "unknown option {a}; global options come before the first command \
                     (see --help)"
                )));
            }
            _ => break,
        }
        i += 1;
    }
    if inv.help || inv.version {
        return Ok(inv);
    }
    let rest = &args[i..];
    if rest.is_empty() {
        return Err(usage("no command given (see --help)"));
    }
    for words in rest.split(|w| w == "+") {
        inv.commands.push(parse_command(words)?);
    }
    if inv.sandbox && (inv.server.is_some() || inv.api_user.is_some() || inv.api_key.is_some()) {
        return Err(usage(
            "--sandbox runs against its own embedded server; drop --server/--api-user/--api-key",
        ));
    }
    Ok(inv)
}

fn parse_command(words: &[String]) -> Result<Command, UsageError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(usage(
            "empty command: `+` must separate two commands (e.g. `audit + commit`)",
        ));
    };
    let mut positional: Vec<String> = Vec::new();
    let mut role_type = None;
    let mut format = None;
    let mut all_open = false;
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        let mut value = |f: &str| -> Result<String, UsageError> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| usage(format!("{name}: {f} needs a value")))
        };
        match flag {
            "--type" if name == "roles" => role_type = Some(value("--type")?),
            "--format" if name == "audit" => {
                format = Some(match value("--format")?.as_str() {
                    "table" => Format::Table,
                    "csv" => Format::Csv,
                    "json" => Format::Json,
                    other => {
                        return Err(usage(format!(
                            "audit: unknown format \"{other}\"; use table, csv or json"
                        )));
                    }
                })
            }
            "--all-open-projects" if name == "assign" => all_open = true,
            "--" => positional.extend(it.by_ref().cloned()),
            f if f.starts_with("--") => {
                return Err(usage(format!(
                    "{name}: unknown option {f}{}",
                    if [
                        "--dry-run",
                        "--idempotent",
                        "--sandbox",
                        "--server",
                        "--api-user",
                        "--api-key"
                    ]
                    .contains(&f)
                    {
                        " (global options go before the first command)"
                    } else {
                        ""
                    }
                )));
            }
            _ => positional.push(w.clone()),
        }
    }
    let want = |n: usize, shape: &str| -> Result<(), UsageError> {
        if positional.len() == n {
            Ok(())
        } else {
            Err(usage(format!(
                "{name} takes {n} argument{} ({shape}), got {}{}",
                if n == 1 { "" } else { "s" },
                positional.len(),
                if positional.len() > n {
                    "; quote names with spaces, e.g. \"Project Manager\""
                } else {
                    ""
                }
            )))
        }
    };
    let p = |i: usize| positional[i].clone();
    Ok(match name.as_str() {
        "roles" => {
            want(0, "roles [--type PROJECT|ASSIGNED|API]")?;
            Command::Roles { role_type }
        }
        "user" => {
            want(1, "user <username>")?;
            Command::User { username: p(0) }
        }
        "assign" => {
            want(2, "assign <username> <role> [--all-open-projects]")?;
            Command::Assign {
                username: p(0),
                role: p(1),
                all_open_projects: all_open,
            }
        }
        "remove" => {
            want(2, "remove <username> <role>")?;
            Command::Remove {
                username: p(0),
                role: p(1),
            }
        }
        "replace" => {
            want(3, "replace <username> <old role> <new role>")?;
            Command::Replace {
                username: p(0),
                old: p(1),
                new: p(2),
            }
        }
        "grant" => {
            want(3, "grant <username> <role> <project>")?;
            Command::Grant {
                username: p(0),
                role: p(1),
                project: p(2),
            }
        }
        "revoke" => {
            want(3, "revoke <username> <role> <project>")?;
            Command::Revoke {
                username: p(0),
                role: p(1),
                project: p(2),
            }
        }
        "audit" => {
            want(0, "audit [--format table|csv|json]")?;
            Command::Audit {
                format: format.unwrap_or(Format::Table),
            }
        }
        "commit" => {
            want(0, "commit")?;
            Command::Commit
        }
        other => {
            return Err(usage(format!(
                "unknown command \"{other}\"; the commands are roles, user, assign, remove, \
                 replace, grant, revoke, audit and commit"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn chain_with_globals() {
        let inv = parse(&args(&[
            "--sandbox",
            "--dry-run",
            "audit",
            "+",
            "assign",
            "artist",
            "Project Manager",
            "+",
            "grant",
            "artist",
            "Project Manager",
            "gamma",
            "+",
            "commit",
            "+",
            "audit",
            "--format=csv",
        ]))
        .unwrap();
        assert!(inv.sandbox && inv.dry_run && !inv.idempotent);
        assert_eq!(inv.commands.len(), 5);
        assert_eq!(
            inv.commands[1],
            Command::Assign {
                username: "artist".into(),
                role: "Project Manager".into(),
                all_open_projects: false
            }
        );
        assert_eq!(
            inv.commands[4],
            Command::Audit {
                format: Format::Csv
            }
        );
        assert_eq!(
            inv.commands[2].to_string(),
            "grant artist \"Project Manager\" gamma"
        );
    }

    #[test]
    fn flags_and_errors() {
        let inv = parse(&args(&[
            "--server",
            "http://x",
            "--api-user=u",
            "--api-key",
            "k",
            "assign",
            "a",
            "R",
            "--all-open-projects",
        ]))
        .unwrap();
        assert_eq!(inv.server.as_deref(), Some("http://x"));
        assert_eq!(inv.api_user.as_deref(), Some("u"));
        assert!(matches!(
            inv.commands[0],
            Command::Assign {
                all_open_projects: true,
                ..
            }
        ));
        assert!(parse(&args(&[])).is_err());
        assert!(parse(&args(&["frobnicate"])).is_err());
        assert!(parse(&args(&["audit", "+"])).is_err());
        assert!(parse(&args(&["grant", "a", "b"])).is_err());
        assert!(parse(&args(&["audit", "--format", "xml"])).is_err());
        assert!(
            parse(&args(&["audit", "--dry-run"]))
                .unwrap_err()
                .0
                .contains("global")
        );
        assert!(parse(&args(&["--bogus", "audit"])).is_err());
        assert!(parse(&args(&["--help"])).unwrap().help);
    }
}
