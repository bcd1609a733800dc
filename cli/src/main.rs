//! `ftrack-roles`: command-line administration of ftrack user security roles,
//! built on libftrack's Rust API (`ftrack::roles`). See `ftrack-roles --help` and
//! `cli/README.md`.

mod args;
mod output;
mod plan;
mod snapshot;
mod state;

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use args::{Command, Invocation};
use clap::CommandFactory;
use ftrack::roles::Roles;
use ftrack::{Entity, Error, ErrorKind, SchemaCache, Session, SessionOptions};
use plan::UserChanges;
use state::{DesiredState, FileError, Named, RoleEntry};

/// Distinct exit codes per error class (documented in `--help`).
mod exit {
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONFIG: u8 = 3;
    pub const CONNECTION: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const REFUSED: u8 = 6;
    pub const PERMISSION: u8 = 7;
    pub const SERVER: u8 = 8;
    pub const CHANGES_NEEDED: u8 = 9;
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

/// Why a command failed.
enum Failure {
    /// An error of the ftrack library (its message never contains the API key).
    Ftrack(Error),
    /// A desired-state file that cannot be read or parsed (exit 2).
    File(FileError),
    /// Names in a desired-state file that the server does not know.
    Names {
        file: String,
        problems: plan::Problems,
    },
    /// Any other failure: exit code and message.
    Other(u8, String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Ftrack(e)
    }
}

impl From<FileError> for Failure {
    fn from(e: FileError) -> Self {
        Failure::File(e)
    }
}

/// Prints the failure of `what` on stderr; returns the exit code.
fn report(what: &str, f: &Failure) -> u8 {
    match f {
        Failure::Ftrack(e) => fail(what, e),
        Failure::File(e) => {
            eprintln!("ftrack-roles: {what} failed: {e}");
            eprintln!("(nothing was sent)");
            exit::USAGE
        }
        Failure::Names { file, problems } => {
            eprintln!("ftrack-roles: {what} failed:");
            for (key, msg) in &problems.list {
                eprintln!("  {file}: {key}: {msg}");
            }
            eprintln!(
                "nothing was sent: {} problem{} in {file}",
                problems.list.len(),
                if problems.list.len() == 1 { "" } else { "s" }
            );
            if problems.not_assignable {
                exit::REFUSED
            } else {
                exit::NOT_FOUND
            }
        }
        Failure::Other(code, msg) => {
            eprintln!("ftrack-roles: {what} failed: {msg}");
            *code
        }
    }
}

fn fail(what: &str, e: &Error) -> u8 {
    eprintln!("ftrack-roles: {what} failed: {e}");
    if e.kind() == ErrorKind::MissingConfiguration {
        eprintln!(
            "(ftrack-roles takes --server, --api-user and --api-key-file, or FTRACK_SERVER, \
             FTRACK_API_USER and FTRACK_API_KEY; or try --sandbox)"
        );
    }
    exit_code(e)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let inv = match args::parse(&argv) {
        Ok(inv) => inv,
        Err(e) => {
            // Help and version print on stdout and exit 0; errors on stderr, exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    if inv.api_key_on_command_line {
        eprintln!(
            "ftrack-roles: warning: --api-key on the command line can be seen by other users \
             of this machine (process list); use --api-key-file PATH or FTRACK_API_KEY"
        );
    }
    if let [command] = inv.commands.as_slice()
        && command.is_local()
    {
        return match local(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ftrack-roles: {e}");
                ExitCode::from(exit::INTERNAL)
            }
        };
    }
    match run(&inv) {
        Ok(code) => ExitCode::from(code),
        Err(code) => ExitCode::from(code),
    }
}

/// `completions` and `man`: generated from the clap model, no server.
fn local(command: &Command) -> std::io::Result<()> {
    let mut out = Vec::new();
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut args::Cli::command(), "ftrack-roles", &mut out);
        }
        Command::Man => clap_mangen::Man::new(args::Cli::command()).render(&mut out)?,
        _ => {}
    }
    emit(&String::from_utf8_lossy(&out));
    Ok(())
}

/// The session options from the command line and the environment.
fn options(inv: &Invocation) -> Result<SessionOptions, u8> {
    let g = &inv.global;
    let mut o = SessionOptions::new();
    if let Some(v) = &g.server {
        o = o.server_url(v);
    }
    if let Some(v) = &g.api_user {
        o = o.api_user(v);
    }
    if let Some(path) = &g.api_key_file {
        let key = std::fs::read_to_string(path).map_err(|e| {
            eprintln!(
                "ftrack-roles: cannot read the API key file {}: {e}",
                path.display()
            );
            exit::CONFIG
        })?;
        let key = key.lines().next().unwrap_or("").trim();
        if key.is_empty() {
            eprintln!(
                "ftrack-roles: the API key file {} is empty; put the key on its first line",
                path.display()
            );
            return Err(exit::CONFIG);
        }
        o = o.api_key(key);
    } else if let Some(v) = &g.api_key {
        o = o.api_key(v);
    }
    Ok(o)
}

/// Connects (or starts the sandbox) and runs the chain. Errors are printed here;
/// `Ok` and `Err` both carry the exit code.
fn run(inv: &Invocation) -> Result<u8, u8> {
    // Desired-state files are read and checked before connecting: a malformed
    // file fails at once, and stdin is read once however often `-` is named.
    let mut files = HashMap::new();
    for command in &inv.commands {
        if let Command::Plan { file, .. } | Command::Apply { file } = command
            && !files.contains_key(file)
        {
            match state::load(file) {
                Ok(doc) => {
                    files.insert(file.clone(), doc);
                }
                Err(e) => return Err(report(&format!("`{command}`"), &Failure::File(e))),
            }
        }
    }
    // Keeps the embedded sandbox alive until the end of the run.
    let mut _sandbox = None;
    let options = if inv.global.sandbox {
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
        options(inv)?
    };
    let session = Session::with_options(options).map_err(|e| fail("connecting", &e))?;
    let mut runner = Runner {
        roles: Roles::new(&session).idempotent(inv.global.idempotent),
        session,
        dry_run: inv.global.dry_run,
        changes_ahead: inv.commands.iter().any(Command::is_change),
        committed: false,
        queued: Vec::new(),
        users: HashMap::new(),
        all_roles: None,
        projects: HashMap::new(),
        changes_needed: false,
        files,
    };
    let total = inv.commands.len();
    for (n, command) in inv.commands.iter().enumerate() {
        if let Err(e) = runner.run(command) {
            let code = report(&format!("`{command}`"), &e);
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
    if inv.global.dry_run {
        runner
            .print_dry_run()
            .map_err(|e| fail("printing the batch", &e))?;
    } else if runner.session.pending_len() > 0 {
        runner.commit().map_err(|e| fail("committing", &e))?;
    }
    Ok(if runner.changes_needed {
        exit::CHANGES_NEEDED
    } else {
        0
    })
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
    /// A `plan` found changes: the run exits 9.
    changes_needed: bool,
    /// The desired-state files of the chain, read before connecting.
    files: HashMap<String, DesiredState>,
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
    fn all_roles(&mut self) -> Result<Vec<Entity>, Error> {
        if self.all_roles.is_none() {
            self.all_roles = Some(self.roles.security_roles(None)?);
        }
        Ok(self.all_roles.clone().unwrap_or_default())
    }
    fn role(&mut self, name: &str) -> Result<Entity, Error> {
        let found = self
            .all_roles()?
            .into_iter()
            .find(|r| r.is_loaded("name") && r.get_string("name").ok().as_deref() == Some(name));
        match found {
            Some(r) => Ok(r),
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

    fn run(&mut self, command: &Command) -> Result<(), Failure> {
        match command {
            Command::Roles { role_type, format } => {
                let roles = self.roles.security_roles(role_type.as_deref())?;
                heading(&match role_type {
                    Some(t) => format!("Security roles of type {}", t.to_ascii_uppercase()),
                    None => "Security roles".to_owned(),
                });
                emit(&output::roles(&roles, *format)?);
            }
            Command::User { username, format } => {
                let user = self.user(username)?;
                let roles = self.roles.user_roles(&user)?;
                heading(&format!("Security roles of {username}"));
                emit(&output::user(&roles, *format));
            }
            Command::Audit { format } => {
                let users = snapshot::users(&self.session, None)?;
                let rows: Vec<_> = users.iter().flat_map(|u| u.audit_rows()).collect();
                heading(&format!(
                    "Audit{}: {} users, {} role assignments",
                    if self.committed {
                        " after the commit"
                    } else if self.session.pending_len() > 0 {
                        " (queued changes not committed yet)"
                    } else if self.changes_ahead {
                        " before the changes"
                    } else {
                        ""
                    },
                    users.len(),
                    rows.iter().filter(|r| r.role.is_some()).count()
                ));
                emit(&output::audit(&rows, *format));
            }
            Command::Commit => self.commit()?,
            Command::Export { format, users } => self.export(*format, users)?,
            Command::Plan { file, format } => {
                let (shown, changes) = self.plan(file)?;
                let ops: usize = changes
                    .iter()
                    .flat_map(|u| &u.changes)
                    .map(plan::Change::operations)
                    .sum();
                let n: usize = changes.iter().map(|u| u.changes.len()).sum();
                if n == 0 {
                    heading(&format!("Plan {shown}: in sync, no change"));
                } else {
                    heading(&format!(
                        "Plan {shown}: {n} change{} for {} user{} ({ops} role action{})",
                        plural(n),
                        changes.len(),
                        plural(changes.len()),
                        plural(ops)
                    ));
                    self.changes_needed = true;
                }
                emit(&output::plan(&changes, *format));
            }
            Command::Apply { file } => {
                let (shown, changes) = self.plan(file)?;
                self.queue_changes(&format!("Apply {shown}"), &changes)?;
            }
            Command::CopyRoles { from, to } => {
                self.no_queued_changes("copy-roles")?;
                let users = snapshot::users(&self.session, Some(&[from.clone(), to.clone()]))?;
                let find = |n: &str| users.iter().find(|u| u.username == n);
                let (Some(f), Some(t)) = (find(from), find(to)) else {
                    return Err(Failure::Other(exit::NOT_FOUND, "user not found".into()));
                };
                let roles: Vec<Entity> = f.roles.values().map(|h| h.role.clone()).collect();
                let projects: Vec<snapshot::Project> = f
                    .roles
                    .values()
                    .flat_map(|h| h.projects.values().cloned())
                    .collect();
                let changes = plan::diff(t, &plan::held_scopes(f), &roles, &projects);
                self.queue_changes(&format!("Copy {from}'s roles to {to}"), &[changes])?;
            }
            Command::Offboard { username } => {
                self.no_queued_changes("offboard")?;
                let users = snapshot::users(&self.session, Some(std::slice::from_ref(username)))?;
                let Some(u) = users.first() else {
                    return Err(Failure::Other(exit::NOT_FOUND, "user not found".into()));
                };
                let changes = plan::diff(u, &Default::default(), &[], &[]);
                self.queue_changes(&format!("Offboard {username}"), &[changes])?;
                // Roles come back with the next `apply` of a file listing one of
                // the user's groups: say which groups those are.
                let mut groups: Vec<String> = self
                    .session
                    .query(&format!(
                        "select group.name from Membership where user_id is {}",
                        ftrack::quote(&u.entity.id())
                    ))?
                    .iter()
                    .filter_map(|m| m.get_entity("group").ok().flatten())
                    .filter_map(|g| g.get_string("name").ok())
                    .collect();
                groups.sort();
                if !groups.is_empty() {
                    eprintln!(
                        "  note: {username} is still a member of {}; remove the membership in \
                         ftrack too, or the next `apply` of a file listing the group gives its \
                         roles back",
                        groups.join(", ")
                    );
                }
            }
            Command::Completions { .. } | Command::Man => {
                return Err(Failure::Other(
                    exit::USAGE,
                    "completions and man cannot be chained".into(),
                ));
            }
            change => self.change(change)?,
        }
        Ok(())
    }

    /// `plan`, `apply`, `copy-roles` and `offboard` compute their changes from the
    /// server's state: changes queued before them would not be seen.
    fn no_queued_changes(&self, what: &str) -> Result<(), Failure> {
        let pending = self.session.pending_len();
        if pending > 0 {
            return Err(Failure::Other(
                exit::USAGE,
                format!(
                    "{what} compares with the server's state, but {pending} change(s) are \
                     queued and not committed; put `{what}` first in the chain, or after \
                     `+ commit +`{}",
                    if self.dry_run {
                        " (with --dry-run nothing is committed: run it on its own)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(())
    }

    /// `export`: the users' roles as a desired-state file on stdout.
    fn export(&mut self, format: args::FileFormat, only: &[String]) -> Result<(), Failure> {
        let users = snapshot::users(&self.session, (!only.is_empty()).then_some(only))?;
        let mut doc = DesiredState::default();
        for u in &users {
            let entries = u
                .sorted_roles()
                .into_iter()
                .map(|h| {
                    let mut projects: Vec<String> =
                        h.projects.values().map(|p| p.name.clone()).collect();
                    projects.sort();
                    RoleEntry {
                        role: h.name.clone(),
                        all_open_projects: h.all_open,
                        projects,
                    }
                })
                .collect();
            doc.users.0.push((u.username.clone(), entries));
        }
        doc.groups = Named::default();
        let text = state::render(&doc, format)
            .map_err(|e| Failure::Other(exit::INTERNAL, format!("cannot write the export: {e}")))?;
        heading(&format!(
            "Export: {} user{}",
            users.len(),
            plural(users.len())
        ));
        emit(&text);
        Ok(())
    }

    /// Reads `file` and the server's state; the changes that make them match.
    fn plan(&mut self, file: &str) -> Result<(String, Vec<UserChanges>), Failure> {
        self.no_queued_changes("plan/apply")?;
        let shown = if file == "-" { "<stdin>" } else { file }.to_owned();
        let desired = match self.files.get(file) {
            Some(d) => d.clone(),
            None => state::load(file)?,
        };
        let roles = self.all_roles()?;
        let names_projects = desired
            .users
            .0
            .iter()
            .chain(&desired.groups.0)
            .any(|(_, es)| es.iter().any(|e| !e.projects.is_empty()));
        let projects = if names_projects {
            snapshot::projects(&self.session)?
        } else {
            Vec::new()
        };
        let users = snapshot::users(&self.session, None)?;
        let groups = if desired.groups.0.is_empty() {
            Vec::new()
        } else {
            snapshot::groups(&self.session)?
        };
        let catalog = plan::Catalog {
            roles: &roles,
            projects: &projects,
            users: &users,
            groups: &groups,
        };
        let want = plan::desired(&desired, &catalog).map_err(|problems| Failure::Names {
            file: shown.clone(),
            problems,
        })?;
        let changes = want
            .iter()
            .map(|(&i, want)| plan::diff(&users[i], want, &roles, &projects))
            .filter(|uc| !uc.changes.is_empty())
            .collect();
        Ok((shown, changes))
    }

    /// Queues `changes` (validated by the roles API) and says what they do.
    fn queue_changes(&mut self, title: &str, changes: &[UserChanges]) -> Result<(), Failure> {
        let n: usize = changes.iter().map(|u| u.changes.len()).sum();
        if n == 0 {
            heading(&format!("{title}: already in effect, nothing to change"));
            return Ok(());
        }
        heading(&format!(
            "{title}: {n} change{} for {} user{} (validated, queued until commit)",
            plural(n),
            changes.iter().filter(|u| !u.changes.is_empty()).count(),
            plural(changes.len()),
        ));
        for uc in changes {
            for c in &uc.changes {
                eprintln!("  {}", c.line(&uc.username));
            }
        }
        let ops = plan::queue(&self.session, changes)?;
        let count = |k: &str| {
            changes
                .iter()
                .flat_map(|u| &u.changes)
                .filter(|c| c.kind() == k)
                .count()
        };
        eprintln!(
            "  {ops} role action{} queued: {} role{} added, {} removed, {} replaced, {} \
             scope change{}",
            plural(ops),
            count("add"),
            plural(count("add")),
            count("remove"),
            count("replace"),
            count("scope"),
            plural(count("scope")),
        );
        self.queued.push(title.to_owned());
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
            other => {
                return Err(Error::InvalidArgument(format!(
                    "internal error: `{other}` is not a single change"
                )));
            }
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
            plural(pending),
            plural(requests as usize)
        );
        self.committed = true;
        self.queued.clear();
        Ok(())
    }

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
        emit(&format!("{}\n", pretty(&self.session.pending_json()?)));
        eprintln!("(--dry-run: nothing was sent; the queued changes are discarded)");
        self.session.rollback();
        self.queued.clear();
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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
