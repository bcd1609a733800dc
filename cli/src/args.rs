//! Command-line parsing with clap (derive).
//!
//! clap models one command with its options; `ftrack-roles` chains commands with a
//! lone `+`. So the arguments are split at each `+` and every piece is parsed by
//! clap as a complete command line of its own: each command gets clap's help,
//! typo suggestions and errors, and the global options may appear in any piece
//! (before or after the command's name). The pieces' global options are merged.

use std::fmt;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// The text after the options in `ftrack-roles --help`.
const AFTER_HELP: &str = "\
CHAINING
    Chain commands with a lone `+`:  ftrack-roles user pm + assign pm User + commit
    Reads run at once; changes are validated (against the server and the changes
    queued before them), then queued; `commit` sends everything queued in one
    atomic request, and whatever is still queued at the end is committed too. If
    any command fails, nothing queued is sent. Each user, role and project is looked
    up once per run, and each user's roles are read once (again after a commit):
    queued changes cost no request. Projects are named by short name (gamma) or full
    name (\"Project Gamma\"); roles by name (\"Project Manager\"). Quote names with
    spaces. Global options may be given anywhere in the chain.

ROLES AS CODE
    `export` writes every user's roles as a desired-state file (JSON, TOML or YAML);
    edit it, list `groups` (ftrack groups, nested ones included) to give their
    members roles, then `plan FILE` shows each change and `apply FILE` makes them in
    one atomic batch. Users named in neither `users` nor a listed group are never
    touched. The file format and the merge rules: cli/README.md, section
    \"The desired-state file\", or `ftrack-roles plan --help`.

CREDENTIALS
    --server, --api-user, or FTRACK_SERVER and FTRACK_API_USER. The API key from
    --api-key-file PATH or FTRACK_API_KEY; --api-key KEY works but other local
    users can see it in the process list, so ftrack-roles warns.

OUTPUT
    Tables, CSV, JSON, exports and the --dry-run batch go to stdout; headings,
    progress and errors go to stderr, so `ftrack-roles audit --format csv >
    roles.csv` is clean. A progress bar is drawn for paged reads only when stderr
    is a terminal.

EXIT CODES
    0  success (for `plan`: the server already matches the file)
    1  internal error
    2  usage error (bad command line), or a malformed desired-state file
    3  configuration or authentication: missing/wrong server URL, API user or key
    4  the server cannot be reached, or answers unlike an ftrack server
    5  not found: no such user, role, group or project
    6  refused before sending: role already assigned / not assigned / not
       assignable, project already granted / not granted (see --idempotent)
    7  permission denied by the server for the API user
    8  the server refused the batch (validation or server error); nothing of it
       was applied
    9  plan: changes needed (the server does not match the file)

EXAMPLES
    ftrack-roles --sandbox audit + assign artist \"Project Manager\" \\
        + grant artist \"Project Manager\" gamma + commit + audit
    ftrack-roles export --format yaml > roles.yaml      # then edit roles.yaml
    ftrack-roles plan roles.yaml                         # exit 9: changes needed
    ftrack-roles apply roles.yaml                        # one atomic batch
";

const DRY_RUN_HELP: &str = "Send no change: print the batch that would be committed \
(JSON, on stdout) once, at the end. A `commit` in the chain commits nothing and keeps the \
changes queued, so the commands after it are validated against them, as they would be \
after a real commit; the batch printed is everything the chain would send (as one batch, \
where a real run would send one per `commit`). Reads (`user`, `audit`, `plan`) still show \
the server as it is";

/// `ftrack-roles`: the command line as clap sees one `+`-separated piece of it.
#[derive(Debug, Parser)]
#[command(
    name = "ftrack-roles",
    version,
    about = "Manage ftrack user security roles: read, change, audit, and keep them as code",
    override_usage = "ftrack-roles [OPTIONS] <COMMAND> [ARGS] [+ <COMMAND> [ARGS]]...",
    after_help = AFTER_HELP,
    subcommand_required = true,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options that apply to the whole chain.
    #[command(flatten)]
    pub global: Global,
    /// The command of this piece of the chain.
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to the whole run, accepted before or after any command.
#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// ftrack server URL
    #[arg(long, global = true, env = "FTRACK_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// API user (default: the login name)
    #[arg(long, global = true, env = "FTRACK_API_USER", value_name = "USER")]
    pub api_user: Option<String>,
    /// API key, read from this file (first line); the documented way, with FTRACK_API_KEY
    #[arg(long, global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// API key. Visible to other local users in the process list: prefer
    /// --api-key-file or FTRACK_API_KEY
    #[arg(
        long,
        global = true,
        env = "FTRACK_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Send no change: print the batch that would be committed
    #[arg(long, global = true, long_help = DRY_RUN_HELP)]
    pub dry_run: bool,
    /// Changes that are already in effect are skipped, not errors
    #[arg(long, global = true)]
    pub idempotent: bool,
    /// Start the embedded sandbox with the demo studio and run against it as `admin`
    /// (no server needed)
    #[arg(long, global = true)]
    pub sandbox: bool,
}

/// How a listing prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (for `plan`: one line per change).
    #[default]
    Table,
    /// RFC 4180 CSV with a header row; lists joined with `;`.
    Csv,
    /// JSON.
    Json,
}

/// The formats of a desired-state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FileFormat {
    /// JSON (also what `-`, stdin, is read as).
    #[default]
    Json,
    /// TOML.
    Toml,
    /// YAML.
    Yaml,
}

/// One command of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// List security roles
    Roles {
        /// Only roles of this type: PROJECT, ASSIGNED or API
        #[arg(long = "type", value_name = "T")]
        role_type: Option<String>,
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// A user's roles and their scope
    User {
        /// The username
        username: String,
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Give the user a role (on no project until one is granted, or on all open projects)
    Assign {
        /// The username
        username: String,
        /// The role's name, e.g. "Project Manager"
        role: String,
        /// The role covers every open project
        #[arg(long)]
        all_open_projects: bool,
    },
    /// Take a role away (with its grants)
    Remove {
        /// The username
        username: String,
        /// The role's name
        role: String,
    },
    /// Swap a role, keeping its scope
    Replace {
        /// The username
        username: String,
        /// The role the user holds
        old: String,
        /// The role that takes its place
        new: String,
    },
    /// Grant a project to the user's role
    Grant {
        /// The username
        username: String,
        /// The role's name
        role: String,
        /// The project's short name (gamma) or full name ("Project Gamma")
        project: String,
    },
    /// Revoke a project from the user's role
    Revoke {
        /// The username
        username: String,
        /// The role's name
        role: String,
        /// The project's short name or full name
        project: String,
    },
    /// Every user x role x scope on the server
    Audit {
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Send every pending change as ONE batch
    Commit,
    /// Write every user's roles (or the listed users') as a desired-state file, on stdout
    #[command(long_about = "Write every user's roles (or the listed users') as a \
        desired-state file, on stdout. `plan` and `apply` of an unedited export change \
        nothing. Every exported user is managed when the file is applied: delete the \
        users you do not want to manage. See cli/README.md for the format.")]
    Export {
        /// File format
        #[arg(long, value_enum, default_value_t)]
        format: FileFormat,
        /// Only these users (comma-separated usernames)
        #[arg(long, value_delimiter = ',', value_name = "A,B,...")]
        users: Vec<String>,
    },
    /// Show each change `apply FILE` would make; exit 0 when in sync, 9 when not
    #[command(long_about = PLAN_HELP)]
    Plan {
        /// The desired-state file (.json, .toml, .yaml/.yml), or - for JSON on stdin
        file: String,
        /// Output format (table: one line per change)
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Make the server match a desired-state file, in one atomic batch
    #[command(
        long_about = "Make the server match a desired-state file with the minimal \
        set of role actions (a replace where a role is swapped, a grant or revoke where only \
        the scope differs), validated and committed as ONE atomic batch, then print a \
        summary. With --dry-run, print the batch instead. Users named in neither `users` nor \
        a listed group are never touched. See `plan --help` for the file."
    )]
    Apply {
        /// The desired-state file (.json, .toml, .yaml/.yml), or - for JSON on stdin
        file: String,
    },
    /// Give TO exactly FROM's roles and scopes (onboarding from a template user)
    CopyRoles {
        /// The template user
        from: String,
        /// The user who gets FROM's roles (and loses any others)
        to: String,
    },
    /// Remove all of USER's roles
    Offboard {
        /// The username
        username: String,
    },
    /// Print a shell completion script on stdout (not chainable)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout (not chainable)
    Man,
}

const PLAN_HELP: &str = "\
Show each change that `apply FILE` would make, one line each:

    + artist: Project Manager (projects: gamma)
    - restricted: Restricted User
    ~ pm: Project Manager projects -alpha
    ~ restricted: Restricted User -> User

Exit 0 when the server already matches the file, 9 when changes are needed. Sends only
reads: the users with their roles (paged, like `audit`), the roles, the projects, and
the groups with their memberships when the file lists groups.

THE DESIRED-STATE FILE (JSON shown; TOML and YAML have the same shape, chosen by the
extension .json, .toml, .yaml or .yml; `-` reads JSON from stdin):

    {
      \"users\": {
        \"artist\": [
          {\"role\": \"User\", \"all_open_projects\": true},
          {\"role\": \"Project Manager\", \"projects\": [\"gamma\"]}
        ],
        \"restricted\": []
      },
      \"groups\": {
        \"Lighting\": [{\"role\": \"User\", \"all_open_projects\": true}]
      }
    }

A role entry has `role` (name), `all_open_projects` (default false) and `projects`
(short or full project names, default none). A user is managed when listed under
`users` or a member of a group listed under `groups` (members of its sub-groups
included; name a group by its name, or by its path Parent/Child when the name is not
unique). A managed user's roles become exactly the union of their own entries and
their groups' entries; when a role comes from several places its projects are
unioned and all_open_projects is true if any entry says so. Other users are never
touched. Unknown users, roles, groups, projects and keys, and malformed files, are
errors that name the file, the line or key, and the bad name; nothing is sent.";

impl Command {
    /// Whether the command queues changes (rather than reading or committing).
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Command::Assign { .. }
                | Command::Remove { .. }
                | Command::Replace { .. }
                | Command::Grant { .. }
                | Command::Revoke { .. }
                | Command::Apply { .. }
                | Command::CopyRoles { .. }
                | Command::Offboard { .. }
        )
    }

    /// Whether the command only prints something generated locally (no server).
    pub fn is_local(&self) -> bool {
        matches!(self, Command::Completions { .. } | Command::Man)
    }
}

fn q(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "-_.@".contains(c)) {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\\\""))
    }
}

fn format_flag(f: Format) -> &'static str {
    match f {
        Format::Table => "",
        Format::Csv => " --format csv",
        Format::Json => " --format json",
    }
}

impl fmt::Display for Command {
    /// The command as it would be typed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Roles { role_type, format } => {
                write!(f, "roles")?;
                if let Some(t) = role_type {
                    write!(f, " --type {}", q(t))?;
                }
                write!(f, "{}", format_flag(*format))
            }
            Command::User { username, format } => {
                write!(f, "user {}{}", q(username), format_flag(*format))
            }
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
            Command::Audit { format } => write!(f, "audit{}", format_flag(*format)),
            Command::Commit => write!(f, "commit"),
            Command::Export { format, users } => {
                write!(f, "export")?;
                match format {
                    FileFormat::Json => {}
                    FileFormat::Toml => write!(f, " --format toml")?,
                    FileFormat::Yaml => write!(f, " --format yaml")?,
                }
                if !users.is_empty() {
                    write!(f, " --users {}", q(&users.join(",")))?;
                }
                Ok(())
            }
            Command::Plan { file, format } => write!(f, "plan {}{}", q(file), format_flag(*format)),
            Command::Apply { file } => write!(f, "apply {}", q(file)),
            Command::CopyRoles { from, to } => write!(f, "copy-roles {} {}", q(from), q(to)),
            Command::Offboard { username } => write!(f, "offboard {}", q(username)),
            Command::Completions { shell } => write!(f, "completions {shell}"),
            Command::Man => write!(f, "man"),
        }
    }
}

/// Everything the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The merged global options.
    pub global: Global,
    /// Whether `--api-key` was given on the command line (not from the environment).
    pub api_key_on_command_line: bool,
    /// Whether `--server`, `--api-user` or the key came from the command line
    /// (environment values are ignored with `--sandbox`).
    pub credentials_on_command_line: bool,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// Parses the arguments after the program name. Help, version and usage errors
/// come back as clap errors, which print themselves and know their exit code.
pub fn parse(args: &[String]) -> Result<Invocation, clap::Error> {
    let mut inv = Invocation::default();
    let pieces: Vec<&[String]> = if args.is_empty() {
        vec![args]
    } else {
        args.split(|a| a == "+").collect()
    };
    for piece in &pieces {
        let mut cmd = Cli::command();
        if piece.is_empty() && pieces.len() > 1 {
            return Err(cmd.error(
                clap::error::ErrorKind::InvalidValue,
                "empty command: `+` must separate two commands (e.g. `audit + commit`)",
            ));
        }
        let argv = std::iter::once("ftrack-roles".to_owned()).chain(piece.iter().cloned());
        let matches = cmd.try_get_matches_from_mut(argv)?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
        let from_cli = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        if from_cli("api_key") {
            inv.api_key_on_command_line = true;
        }
        if from_cli("api_key") || from_cli("server") || from_cli("api_user") {
            inv.credentials_on_command_line = true;
        }
        merge(&mut inv.global, cli.global);
        inv.commands.push(cli.command);
    }
    if inv.commands.len() > 1 && inv.commands.iter().any(Command::is_local) {
        return Err(Cli::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "`completions` and `man` print locally generated text and cannot be chained",
        ));
    }
    if inv.global.sandbox && inv.credentials_on_command_line {
        return Err(Cli::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--sandbox runs against its own embedded server; drop --server/--api-user/--api-key",
        ));
    }
    Ok(inv)
}

/// Global options of a later piece override those of earlier ones; flags add up.
fn merge(into: &mut Global, from: Global) {
    if from.server.is_some() {
        into.server = from.server;
    }
    if from.api_user.is_some() {
        into.api_user = from.api_user;
    }
    if from.api_key.is_some() {
        into.api_key = from.api_key;
    }
    if from.api_key_file.is_some() {
        into.api_key_file = from.api_key_file;
    }
    into.dry_run |= from.dry_run;
    into.idempotent |= from.idempotent;
    into.sandbox |= from.sandbox;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_clap_model_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn chain_with_globals_anywhere() {
        let inv = parse(&args(&[
            "--sandbox",
            "audit",
            "+",
            "assign",
            "artist",
            "Project Manager",
            "--dry-run",
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
        assert!(inv.global.sandbox && inv.global.dry_run && !inv.global.idempotent);
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
        assert_eq!(inv.global.server.as_deref(), Some("http://x"));
        assert_eq!(inv.global.api_user.as_deref(), Some("u"));
        assert!(inv.api_key_on_command_line);
        assert!(matches!(
            inv.commands[0],
            Command::Assign {
                all_open_projects: true,
                ..
            }
        ));
        let kind = |a: &[&str]| parse(&args(a)).unwrap_err().kind();
        use clap::error::ErrorKind as K;
        assert_eq!(kind(&[]), K::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(kind(&["frobnicate"]), K::InvalidSubcommand);
        assert_eq!(kind(&["audit", "+"]), K::InvalidValue);
        assert_eq!(kind(&["grant", "a", "b"]), K::MissingRequiredArgument);
        assert_eq!(kind(&["audit", "--format", "xml"]), K::InvalidValue);
        assert_eq!(kind(&["--bogus", "audit"]), K::UnknownArgument);
        assert_eq!(kind(&["--help"]), K::DisplayHelp);
        assert_eq!(kind(&["apply", "--help"]), K::DisplayHelp);
        assert_eq!(kind(&["man", "+", "audit"]), K::ArgumentConflict);
        assert_eq!(
            kind(&["--sandbox", "--server", "http://x", "audit"]),
            K::ArgumentConflict
        );
        // A typo gets a suggestion.
        let e = parse(&args(&["aply", "x.json"])).unwrap_err().to_string();
        assert!(e.contains("apply"), "{e}");
    }

    #[test]
    fn export_users_are_comma_separated() {
        let inv = parse(&args(&["export", "--users", "a,b", "--format", "toml"])).unwrap();
        assert_eq!(
            inv.commands[0],
            Command::Export {
                format: FileFormat::Toml,
                users: vec!["a".into(), "b".into()]
            }
        );
    }
}
