//! `ftrack-roles`: command-line administration of ftrack user security roles,
//! built on libftrack's Rust API (`ftrack::roles`). See `ftrack-roles --help`.

mod args;
mod output;

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use args::{Command, Invocation};
use ftrack::roles::Roles;
use ftrack::{Entity, Error, ErrorKind, SchemaCache, Session, SessionOptions};

const HELP: &str = r#"ftrack-roles: manage ftrack user security roles

USAGE
    ftrack-roles [GLOBAL OPTIONS] COMMAND [ARGS] [+ COMMAND [ARGS]]...

COMMANDS
    roles [--type T]                          list security roles (T: PROJECT, ASSIGNED, API)
    user <username>                           a user's roles and their scope
    assign <username> <role> [--all-open-projects]
                                              give the user a role (on no project until
                                              one is granted, or on all open projects)
    remove <username> <role>                  take a role away (with its grants)
    replace <username> <old role> <new role>  swap a role, keeping its scope
    grant <username> <role> <project>         grant a project to the user's role
    revoke <username> <role> <project>        revoke a project from the user's role
    audit [--format table|csv|json]           every user x role x scope on the server
    commit                                    send every pending change as ONE batch

    Chain commands with a lone `+`. Reads run at once; changes are validated
    (against the server and the changes queued before them), then queued; `commit`
    sends everything queued in one atomic request, and whatever is still queued at
    the end is committed too. If any command fails, nothing queued is sent.
    Each user, role and project is looked up once per run, and each user's roles
    are read once (again after a commit): queued changes cost no request.
    Projects are named by short name (gamma) or full name ("Project Gamma");
    roles by name ("Project Manager"). Quote names with spaces.

GLOBAL OPTIONS (before the first command)
    --server URL        ftrack server (else FTRACK_SERVER)
    --api-user USER     API user (else FTRACK_API_USER, else the login name)
    --api-key KEY       API key (else FTRACK_API_KEY)
    --dry-run           send no change: print the batch that would be committed
                        (JSON, on stdout) once, at the end. A `commit` in the
                        chain commits nothing and keeps the changes queued, so
                        the commands after it are validated against them, as
                        they would be after a real commit; the batch printed is
                        everything the chain would send (as one batch, where a
                        real run would send one per `commit`). Reads (`user`,
                        `audit`) still show the server as it is
    --idempotent        changes that are already in effect are skipped, not errors
    --sandbox           start the embedded sandbox with the demo studio and run
                        against it as `admin` (no server needed)
    -h, --help          this help;  -V, --version  the version

OUTPUT
    Tables, CSV, JSON and the --dry-run batch go to stdout; headings, progress and
    errors go to stderr, so `ftrack-roles audit --format csv > roles.csv` is clean.

EXIT CODES
    0  success
    1  internal error
    2  usage error (bad command line)
    3  configuration or authentication: missing/wrong server URL, API user or key
    4  the server cannot be reached, or answers unlike an ftrack server
    5  not found: no such user, role or project
    6  refused before sending: role already assigned / not assigned / not
       assignable, project already granted / not granted (see --idempotent)
    7  permission denied by the server for the API user
    8  the server refused the batch (validation or server error); nothing of it
       was applied

EXAMPLE
    ftrack-roles --sandbox audit + assign artist "Project Manager" \
        + grant artist "Project Manager" gamma + commit + audit
"#;

/// Distinct exit codes per error class (documented in HELP).
mod exit {
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONFIG: u8 = 3;
    pub const CONNECTION: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const REFUSED: u8 = 6;
    pub const PERMISSION: u8 = 7;
    pub const SERVER: u8 = 8;
}

fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::MissingConfiguration | ErrorKind::Authentication => exit::CONFIG,
        ErrorKind::InvalidArgument => exit::USAGE,
        ErrorKind::Connection
        | ErrorKind::Timeout
        | ErrorKind::Tls
        | ErrorKind::Protocol
        | ErrorKind::IncompatibleServer => exit::CONNECTION,
        ErrorKind::NotFound | ErrorKind::MultipleResults => exit::NOT_FOUND,
        ErrorKind::RoleAlreadyAssigned
        | ErrorKind::RoleNotAssigned
        | ErrorKind::RoleNotAssignable
        | ErrorKind::ProjectAlreadyGranted
        | ErrorKind::ProjectNotGranted => exit::REFUSED,
        ErrorKind::PermissionDenied => exit::PERMISSION,
        ErrorKind::Validation | ErrorKind::Server | ErrorKind::QuerySyntax => exit::SERVER,
        _ => exit::INTERNAL,
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let inv = match args::parse(&argv) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("ftrack-roles: {e}");
            eprintln!("run `ftrack-roles --help` for the commands and options");
            return ExitCode::from(exit::USAGE);
        }
    };
    if inv.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if inv.version {
        println!("ftrack-roles {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    match run(&inv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

/// Connects (or starts the sandbox) and runs the chain. Errors are printed here;
/// the `Err` is the exit code.
fn run(inv: &Invocation) -> Result<(), u8> {
    // Keeps the embedded sandbox alive until the end of the run.
    let mut _sandbox = None;
    let options = if inv.sandbox {
        let sb =
            ftrack_sandbox::Sandbox::start(ftrack_sandbox::SandboxConfig::demo()).map_err(|e| {
                eprintln!("ftrack-roles: could not start the embedded sandbox: {e}");
                exit::INTERNAL
            })?;
        eprintln!(
            "Sandbox: demo studio at {} (acting as {}; nothing leaves this process)",
            sb.url(),
            sb.admin_user()
        );
        let o = SessionOptions::new()
            .server_url(sb.url())
            .api_key(sb.admin_key())
            .api_user(sb.admin_user())
            .schema_cache(SchemaCache::Disabled);
        _sandbox = Some(sb);
        o
    } else {
        let mut o = SessionOptions::new();
        if let Some(v) = &inv.server {
            o = o.server_url(v);
        }
        if let Some(v) = &inv.api_key {
            o = o.api_key(v);
        }
        if let Some(v) = &inv.api_user {
            o = o.api_user(v);
        }
        o
    };
    let session = Session::with_options(options).map_err(|e| fail("connecting", &e))?;
    let mut runner = Runner {
        roles: Roles::new(&session).idempotent(inv.idempotent),
        session,
        dry_run: inv.dry_run,
        changes_ahead: inv.commands.iter().any(Command::is_change),
        committed: false,
        queued: Vec::new(),
        users: HashMap::new(),
        all_roles: None,
        projects: HashMap::new(),
    };
    let total = inv.commands.len();
    for (n, command) in inv.commands.iter().enumerate() {
        if let Err(e) = runner.run(command) {
            let code = fail(&format!("`{command}`"), &e);
            let pending = runner.session.pending_len();
            if pending > 0 {
                eprintln!(
                    "nothing was committed: {pending} queued change(s) discarded \
                     (command {} of {total} failed)",
                    n + 1
                );
            }
            return Err(code);
        }
    }
    if inv.dry_run {
        runner
            .print_dry_run()
            .map_err(|e| fail("printing the batch", &e))?;
    } else if runner.session.pending_len() > 0 {
        runner.commit().map_err(|e| fail("committing", &e))?;
    }
    Ok(())
}

fn fail(what: &str, e: &Error) -> u8 {
    eprintln!("ftrack-roles: {what} failed: {e}");
    if e.kind() == ErrorKind::MissingConfiguration {
        eprintln!(
            "(ftrack-roles takes --server, --api-user and --api-key, or FTRACK_SERVER, \
             FTRACK_API_USER and FTRACK_API_KEY; or try --sandbox)"
        );
    }
    exit_code(e)
}

struct Runner {
    session: Session,
    roles: Roles,
    dry_run: bool,
    /// Whether the chain queues changes (for the audit heading).
    changes_ahead: bool,
    /// Whether a commit happened earlier in this run (for the audit heading).
    committed: bool,
    /// What the queued changes do, in words, for the commit summary.
    queued: Vec<String>,
    /// Lookups made once per run: users and projects by the name given, every
    /// security role (one request, the first time a role is named).
    users: HashMap<String, Entity>,
    all_roles: Option<Vec<Entity>>,
    projects: HashMap<String, Entity>,
}

impl Runner {
    fn user(&mut self, username: &str) -> Result<Entity, Error> {
        if let Some(u) = self.users.get(username) {
            return Ok(u.clone());
        }
        let u = self.roles.find_user(username)?;
        self.users.insert(username.to_owned(), u.clone());
        Ok(u)
    }
    fn role(&mut self, name: &str) -> Result<Entity, Error> {
        if self.all_roles.is_none() {
            self.all_roles = Some(self.roles.security_roles(None)?);
        }
        let found =
            self.all_roles.iter().flatten().find(|r| {
                r.is_loaded("name") && r.get_string("name").ok().as_deref() == Some(name)
            });
        match found {
            Some(r) => Ok(r.clone()),
            // Not among the roles read: ask again, for the error that lists them.
            None => self.roles.find_role(name),
        }
    }
    fn project(&mut self, name: &str) -> Result<Entity, Error> {
        if let Some(p) = self.projects.get(name) {
            return Ok(p.clone());
        }
        let p = self.roles.find_project(name)?;
        self.projects.insert(name.to_owned(), p.clone());
        Ok(p)
    }

    fn run(&mut self, command: &Command) -> Result<(), Error> {
        match command {
            Command::Roles { role_type } => {
                let roles = self.roles.security_roles(role_type.as_deref())?;
                heading(&match role_type {
                    Some(t) => format!("Security roles of type {}", t.to_ascii_uppercase()),
                    None => "Security roles".to_owned(),
                });
                output::roles_table(&roles)?;
            }
            Command::User { username } => {
                let user = self.user(username)?;
                let roles = self.roles.user_roles(&user)?;
                heading(&format!("Security roles of {username}"));
                output::user_table(&roles);
            }
            Command::Audit { format } => {
                let rows = self.roles.audit()?;
                let users = {
                    let mut u: Vec<&str> = rows.iter().map(|r| r.username.as_str()).collect();
                    u.dedup();
                    u.len()
                };
                heading(&format!(
                    "Audit{}: {users} users, {} role assignments",
                    if self.committed {
                        " after the commit"
                    } else if self.session.pending_len() > 0 {
                        " (queued changes not committed yet)"
                    } else if self.changes_ahead {
                        " before the changes"
                    } else {
                        ""
                    },
                    rows.iter().filter(|r| r.role.is_some()).count()
                ));
                output::audit(&rows, *format);
            }
            Command::Commit => self.commit()?,
            change => self.change(change)?,
        }
        Ok(())
    }

    fn change(&mut self, command: &Command) -> Result<(), Error> {
        if self.queued.is_empty() && self.session.pending_len() == 0 {
            heading("Changes (validated, queued until commit)");
        }
        let (recorded, what) = match command {
            Command::Assign {
                username,
                role,
                all_open_projects,
            } => {
                let (u, r) = (self.user(username)?, self.role(role)?);
                let done = self.roles.append(&u, &r, *all_open_projects)?;
                (
                    done,
                    format!(
                        "give {username} the role \"{role}\" ({})",
                        if *all_open_projects {
                            "on all open projects"
                        } else {
                            "on granted projects only"
                        }
                    ),
                )
            }
            Command::Remove { username, role } => {
                let (u, r) = (self.user(username)?, self.role(role)?);
                (
                    self.roles.remove(&u, &r)?,
                    format!("take the role \"{role}\" away from {username}"),
                )
            }
            Command::Replace { username, old, new } => {
                let (u, o, n) = (self.user(username)?, self.role(old)?, self.role(new)?);
                (
                    self.roles.replace(&u, &o, &n)?,
                    format!("replace {username}'s role \"{old}\" by \"{new}\""),
                )
            }
            Command::Grant {
                username,
                role,
                project,
            } => {
                let (u, r, p) = (
                    self.user(username)?,
                    self.role(role)?,
                    self.project(project)?,
                );
                (
                    self.roles.grant_project(&u, &r, &p)?,
                    format!("grant project {project} to {username}'s role \"{role}\""),
                )
            }
            Command::Revoke {
                username,
                role,
                project,
            } => {
                let (u, r, p) = (
                    self.user(username)?,
                    self.role(role)?,
                    self.project(project)?,
                );
                (
                    self.roles.revoke_project(&u, &r, &p)?,
                    format!("revoke project {project} from {username}'s role \"{role}\""),
                )
            }
            _ => unreachable!("not a change: {command}"),
        };
        if recorded {
            self.queued.push(what.clone());
            eprintln!("  queued   {what}");
        } else {
            eprintln!("  skipped  {what} (already in effect; --idempotent)");
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Error> {
        let pending = self.session.pending_len();
        if self.dry_run {
            // Nothing is sent, and nothing is dropped: the commands after this one
            // are validated against these changes, as after a real commit.
            heading("Commit (dry run)");
            eprintln!(
                "  not sent: {pending} operation(s) stay queued; the whole batch is \
                 printed at the end"
            );
            return Ok(());
        }
        heading("Commit");
        if pending == 0 {
            eprintln!("  nothing to commit");
            return Ok(());
        }
        let before = self.session.request_count();
        self.session.commit()?;
        let requests = self.session.request_count() - before;
        eprintln!(
            "  committed {pending} operation{} in {requests} request{} (one atomic batch)",
            if pending == 1 { "" } else { "s" },
            if requests == 1 { "" } else { "s" }
        );
        self.committed = true;
        self.queued.clear();
        Ok(())
    }
}

impl Runner {
    /// `--dry-run`: the one batch the whole chain would send, on stdout; then the
    /// queued changes are discarded (nothing was ever sent).
    fn print_dry_run(&mut self) -> Result<(), Error> {
        let pending = self.session.pending_len();
        if pending == 0 && !self.changes_ahead {
            return Ok(()); // a chain of reads: no batch to show
        }
        heading(&format!(
            "Dry run: the batch of {pending} operation(s) that would be committed"
        ));
        println!("{}", pretty(&self.session.pending_json()?));
        eprintln!("(--dry-run: nothing was sent; the queued changes are discarded)");
        self.session.rollback();
        self.queued.clear();
        Ok(())
    }
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| json.to_owned())
}

/// A section heading on stderr (stdout carries only data).
fn heading(title: &str) {
    let _ = std::io::stdout().flush();
    eprintln!("\n== {title} ==");
}
