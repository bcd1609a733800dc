//! Bulk reads of the server's role state, in a constant number of requests:
//! the users with their roles and scopes (the core's `Roles::users`, one paged
//! query of `User`), the projects, and the groups with their memberships.
//!
//! Projects, groups and memberships are paged here rather than in the core so
//! that the progress line can count them (on stderr, only when stderr is a
//! terminal).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use ftrack::roles::{AuditRow, Roles};
use ftrack::{Entity, Error, Result, Session, Value, quote};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Rows per request; the core's default page size.
const PAGE: usize = 500;

/// A project, with the entity that role changes take.
#[derive(Debug, Clone)]
pub struct Project {
    /// The `Project` entity (`name` and `full_name` loaded).
    pub entity: Entity,
    /// Short name, e.g. `gamma`.
    pub name: String,
    /// Full name, e.g. `Project Gamma`.
    pub full_name: String,
}

/// One role a user holds, with its scope.
#[derive(Debug, Clone)]
pub struct Held {
    /// The `SecurityRole` entity (`name` and `type` loaded).
    pub role: Entity,
    /// The role's name.
    pub name: String,
    /// The role's type: `PROJECT`, `ASSIGNED` or `API`.
    pub role_type: String,
    /// Whether the role covers every open project.
    pub all_open: bool,
    /// Granted projects by id.
    pub projects: BTreeMap<String, Project>,
}

/// A user and every role they hold.
#[derive(Debug, Clone)]
pub struct UserState {
    /// The `User` entity (`username` loaded).
    pub entity: Entity,
    /// `User.username`.
    pub username: String,
    /// `User.is_active`.
    pub active: bool,
    /// Held roles by role id.
    pub roles: BTreeMap<String, Held>,
}

impl UserState {
    /// The user's roles sorted by name.
    pub fn sorted_roles(&self) -> Vec<&Held> {
        let mut v: Vec<&Held> = self.roles.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The audit rows of this user: one per role, or one without a role.
    pub fn audit_rows(&self) -> Vec<AuditRow> {
        if self.roles.is_empty() {
            return vec![AuditRow {
                username: self.username.clone(),
                active: self.active,
                role: None,
                role_type: None,
                all_open_projects: false,
                projects: Vec::new(),
            }];
        }
        self.sorted_roles()
            .into_iter()
            .map(|h| {
                let mut projects: Vec<String> =
                    h.projects.values().map(|p| p.name.clone()).collect();
                projects.sort();
                AuditRow {
                    username: self.username.clone(),
                    active: self.active,
                    role: Some(h.name.clone()),
                    role_type: Some(h.role_type.clone()),
                    all_open_projects: h.all_open,
                    projects,
                }
            })
            .collect()
    }
}

/// A progress indicator on stderr, drawn only when stderr is a terminal.
pub struct Progress(ProgressBar);

impl Progress {
    /// A spinner with `what` (e.g. "reading users"), hidden in pipes.
    pub fn new(what: &str) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(bar)
    }

    fn update(&self, msg: String) {
        self.0.set_message(msg);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Every row of `select ... from T [where ...] [order by ...]`, one request per
/// page of [`PAGE`] rows, with a progress line labelled `what`.
pub fn paged(session: &Session, expression: &str, what: &str) -> Result<Vec<Entity>> {
    let progress = Progress::new(&format!("reading {what}"));
    let mut all = Vec::new();
    loop {
        let page = session.query(&format!("{expression} offset {} limit {PAGE}", all.len()))?;
        let n = page.len();
        all.extend(page);
        progress.update(format!("reading {what}: {} so far", all.len()));
        if n < PAGE {
            return Ok(all);
        }
    }
}

/// The users with their roles; only `usernames` when given (a name that matches
/// no user is an [`Error::NotFound`] naming every such name).
///
/// Read with the core's [`Roles::users`]: one paged query (⌈users / page size⌉
/// requests) that also keeps every user's role state for validation, so the
/// changes `apply`, `copy-roles` and `offboard` queue afterwards cost no request
/// until the session writes. The core pages inside that call, so the progress
/// line is a spinner rather than a count.
pub fn users(session: &Session, usernames: Option<&[String]>) -> Result<Vec<UserState>> {
    let criteria = match usernames {
        None => None,
        Some([]) => return Ok(Vec::new()),
        Some(names) => {
            let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
            Some(format!("username in ({})", list.join(", ")))
        }
    };
    let rows = {
        let _progress = Progress::new("reading users and their roles");
        Roles::new(session).users(criteria.as_deref())?
    };
    let mut out = Vec::with_capacity(rows.len());
    for u in rows {
        out.push(user_state(u)?);
    }
    if let Some(names) = usernames {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !out.iter().any(|u| &u.username == *n))
            .map(|n| format!("\"{n}\""))
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotFound(format!(
                "there is no user {} on the server; check the username (it is case-sensitive)",
                missing.join(", ")
            )));
        }
    }
    Ok(out)
}

fn user_state(user: Entity) -> Result<UserState> {
    let mut roles = BTreeMap::new();
    for usr in loaded_list(&user, "user_security_roles")? {
        let Some(role) = loaded_entity(&usr, "security_role")? else {
            continue;
        };
        let mut projects = BTreeMap::new();
        for grant in loaded_list(&usr, "user_security_role_projects")? {
            if let Some(p) = loaded_entity(&grant, "project")? {
                projects.insert(p.id(), project(p)?);
            }
        }
        roles.insert(
            role.id(),
            Held {
                name: loaded_string(&role, "name")?,
                role_type: loaded_string(&role, "type")?,
                all_open: loaded_bool(&usr, "is_all_open_projects")?,
                role,
                projects,
            },
        );
    }
    Ok(UserState {
        username: loaded_string(&user, "username")?,
        active: loaded_bool(&user, "is_active")?,
        entity: user,
        roles,
    })
}

fn project(p: Entity) -> Result<Project> {
    Ok(Project {
        name: loaded_string(&p, "name")?,
        full_name: loaded_string(&p, "full_name")?,
        entity: p,
    })
}

/// Every project the acting user can see.
pub fn projects(session: &Session) -> Result<Vec<Project>> {
    paged(
        session,
        "select id, name, full_name from Project order by name",
        "projects",
    )?
    .into_iter()
    .map(project)
    .collect()
}

/// A group with its place in the tree and its direct members.
#[derive(Debug, Clone)]
pub struct Group {
    /// `Group.id`.
    pub id: String,
    /// `Group.name`.
    pub name: String,
    /// `Group.parent_id`, if any.
    pub parent: Option<String>,
    /// Ids of the users with a membership in this very group.
    pub members: Vec<String>,
}

/// Every group with its direct members: two paged queries (groups, memberships).
pub fn groups(session: &Session) -> Result<Vec<Group>> {
    let mut groups: Vec<Group> = paged(
        session,
        "select id, name, parent_id from Group order by name",
        "groups",
    )?
    .into_iter()
    .map(|g| {
        Ok(Group {
            id: g.id(),
            name: loaded_string(&g, "name")?,
            parent: loaded_id(&g, "parent_id")?,
            members: Vec::new(),
        })
    })
    .collect::<Result<_>>()?;
    let index: BTreeMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    for m in paged(
        session,
        "select id, user_id, group_id from Membership",
        "group memberships",
    )? {
        if let (Some(g), Some(u)) = (loaded_id(&m, "group_id")?, loaded_id(&m, "user_id")?)
            && let Some(&i) = index.get(&g)
        {
            groups[i].members.push(u);
        }
    }
    Ok(groups)
}

// Readers of attributes that a projection loaded: never auto-populate, so the
// request count stays what the projections promise.

fn loaded_list(e: &Entity, attribute: &str) -> Result<Vec<Entity>> {
    if !e.is_loaded(attribute) {
        return Ok(Vec::new());
    }
    e.get_list(attribute)
}

fn loaded_entity(e: &Entity, attribute: &str) -> Result<Option<Entity>> {
    if !e.is_loaded(attribute) {
        return Ok(None);
    }
    e.get_entity(attribute)
}

fn loaded_string(e: &Entity, attribute: &str) -> Result<String> {
    Ok(loaded_id(e, attribute)?.unwrap_or_default())
}

fn loaded_id(e: &Entity, attribute: &str) -> Result<Option<String>> {
    if !e.is_loaded(attribute) {
        return Ok(None);
    }
    Ok(match e.get(attribute)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

fn loaded_bool(e: &Entity, attribute: &str) -> Result<bool> {
    if !e.is_loaded(attribute) {
        return Ok(false);
    }
    Ok(matches!(e.get(attribute)?, Value::Bool(true)))
}
