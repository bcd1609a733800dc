//! From a desired-state file and the server's state to the changes that make them
//! match, and from the changes to role actions in the session's pending batch.
//!
//! * **Resolve**: every name in the file (users, groups, roles, projects) is looked
//!   up in what was read in bulk; every unknown name is reported with its key
//!   (`users.artist[1].role`), all at once, before anything is queued.
//! * **Desire**: a managed user (listed under `users`, or a member of a listed group
//!   or of one of its sub-groups) should hold exactly the union of their own
//!   entries and their groups' entries; a role given several times merges its
//!   scopes (projects unioned, all open projects if any entry says so).
//! * **Diff**: per managed user, the fewest role actions: a role swapped for
//!   another is one `replace` (plus scope fixes) when that costs no more than a
//!   remove and an add; a role kept with another scope is grants and revokes.

use std::collections::{BTreeMap, BTreeSet};

use ftrack::roles::{ASSIGNABLE_ROLE_TYPES, Roles, actions};
use ftrack::{Entity, Result, Session};
use serde_json::json;

use crate::snapshot::{Group, Project, UserState};
use crate::state::{DesiredState, RoleEntry};

/// A role's scope: all open projects, and granted projects by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Covers every open project.
    pub all_open: bool,
    /// Granted project ids.
    pub projects: BTreeSet<String>,
}

/// A role as the plan names it.
#[derive(Debug, Clone)]
pub struct RoleRef {
    /// The `SecurityRole` entity (`name` and `type` loaded).
    pub entity: Entity,
    /// Its name.
    pub name: String,
}

/// What must change for one of a user's roles.
#[derive(Debug, Clone)]
pub enum Change {
    /// Give the role with this scope.
    Add {
        /// The role.
        role: RoleRef,
        /// All open projects.
        all_open: bool,
        /// Projects to grant on it.
        grant: Vec<Project>,
    },
    /// Take the role away.
    Remove {
        /// The role.
        role: RoleRef,
    },
    /// Swap `old` for `new` (the scope carries over), then fix the scope.
    Replace {
        /// The role held now.
        old: RoleRef,
        /// The role that takes its place.
        new: RoleRef,
        /// The new all-open-projects flag, when it changes.
        all_open: Option<bool>,
        /// Projects to grant.
        grant: Vec<Project>,
        /// Projects to revoke.
        revoke: Vec<Project>,
    },
    /// Keep the role, change its scope.
    Scope {
        /// The role.
        role: RoleRef,
        /// The new all-open-projects flag, when it changes.
        all_open: Option<bool>,
        /// Projects to grant.
        grant: Vec<Project>,
        /// Projects to revoke.
        revoke: Vec<Project>,
    },
}

/// The changes for one user.
#[derive(Debug, Clone)]
pub struct UserChanges {
    /// The `User` entity.
    pub user: Entity,
    /// `User.username`.
    pub username: String,
    /// In the order they are applied: removes, replaces, scope changes, adds.
    pub changes: Vec<Change>,
}

fn names(ps: &[Project]) -> String {
    ps.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn scope_parts(all_open: Option<bool>, grant: &[Project], revoke: &[Project]) -> String {
    let mut parts = Vec::new();
    if let Some(a) = all_open {
        parts.push(format!("all_open_projects {} -> {a}", !a));
    }
    if !grant.is_empty() || !revoke.is_empty() {
        let mut p = String::from("projects");
        for g in grant {
            p.push_str(&format!(" +{}", g.name));
        }
        for r in revoke {
            p.push_str(&format!(" -{}", r.name));
        }
        parts.push(p);
    }
    parts.join(", ")
}

impl Change {
    /// Role actions this change costs.
    pub fn operations(&self) -> usize {
        match self {
            Change::Add { grant, .. } => 1 + grant.len(),
            Change::Remove { .. } => 1,
            Change::Replace {
                all_open,
                grant,
                revoke,
                ..
            } => 1 + usize::from(all_open.is_some()) + grant.len() + revoke.len(),
            Change::Scope {
                all_open,
                grant,
                revoke,
                ..
            } => usize::from(all_open.is_some()) + grant.len() + revoke.len(),
        }
    }

    /// `add`, `remove`, `replace` or `scope`.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Add { .. } => "add",
            Change::Remove { .. } => "remove",
            Change::Replace { .. } => "replace",
            Change::Scope { .. } => "scope",
        }
    }

    /// The line `plan` prints for `username`, e.g.
    /// `+ artist: Project Manager (projects: gamma)`.
    pub fn line(&self, username: &str) -> String {
        match self {
            Change::Add {
                role,
                all_open,
                grant,
            } => {
                let scope = match (*all_open, grant.is_empty()) {
                    (true, true) => " (all open projects)".to_owned(),
                    (true, false) => format!(" (all open projects, projects: {})", names(grant)),
                    (false, false) => format!(" (projects: {})", names(grant)),
                    (false, true) => String::new(),
                };
                format!("+ {username}: {}{scope}", role.name)
            }
            Change::Remove { role } => format!("- {username}: {}", role.name),
            Change::Replace {
                old,
                new,
                all_open,
                grant,
                revoke,
            } => {
                let parts = scope_parts(*all_open, grant, revoke);
                let sep = if parts.is_empty() { "" } else { ", " };
                format!("~ {username}: {} -> {}{sep}{parts}", old.name, new.name)
            }
            Change::Scope {
                role,
                all_open,
                grant,
                revoke,
            } => format!(
                "~ {username}: {} {}",
                role.name,
                scope_parts(*all_open, grant, revoke)
            ),
        }
    }

    /// The change as a JSON object (for `plan --format json`).
    pub fn to_json(&self, username: &str) -> serde_json::Value {
        let list = |ps: &[Project]| ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        match self {
            Change::Add {
                role,
                all_open,
                grant,
            } => json!({"user": username, "change": "add", "role": role.name,
                        "all_open_projects": all_open, "grant": list(grant), "revoke": []}),
            Change::Remove { role } => json!({"user": username, "change": "remove",
                        "role": role.name, "grant": [], "revoke": []}),
            Change::Replace {
                old,
                new,
                all_open,
                grant,
                revoke,
            } => json!({"user": username, "change": "replace", "role": old.name,
                        "new_role": new.name, "all_open_projects": all_open,
                        "grant": list(grant), "revoke": list(revoke)}),
            Change::Scope {
                role,
                all_open,
                grant,
                revoke,
            } => json!({"user": username, "change": "scope", "role": role.name,
                        "all_open_projects": all_open, "grant": list(grant),
                        "revoke": list(revoke)}),
        }
    }

    /// The CSV fields: change, role, new_role, all_open_projects, grant, revoke.
    pub fn csv_fields(&self) -> [String; 6] {
        let list = |ps: &[Project]| {
            ps.iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
                .join(";")
        };
        let flag = |a: &Option<bool>| a.map(|b| b.to_string()).unwrap_or_default();
        match self {
            Change::Add {
                role,
                all_open,
                grant,
            } => [
                "add".into(),
                role.name.clone(),
                String::new(),
                all_open.to_string(),
                list(grant),
                String::new(),
            ],
            Change::Remove { role } => [
                "remove".into(),
                role.name.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            Change::Replace {
                old,
                new,
                all_open,
                grant,
                revoke,
            } => [
                "replace".into(),
                old.name.clone(),
                new.name.clone(),
                flag(all_open),
                list(grant),
                list(revoke),
            ],
            Change::Scope {
                role,
                all_open,
                grant,
                revoke,
            } => [
                "scope".into(),
                role.name.clone(),
                String::new(),
                flag(all_open),
                list(grant),
                list(revoke),
            ],
        }
    }
}

/// Problems found while resolving names: each is `key: message`.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    /// `(key, message)` in file order.
    pub list: Vec<(String, String)>,
    /// Whether one of them is a role that cannot be given (exit 6, not 5).
    pub not_assignable: bool,
}

/// Everything resolution needs, read in bulk.
pub struct Catalog<'a> {
    /// Every security role (`name`, `type` loaded).
    pub roles: &'a [Entity],
    /// Every visible project.
    pub projects: &'a [Project],
    /// Every user with their roles.
    pub users: &'a [UserState],
    /// Every group with its direct members (empty when the file lists no group).
    pub groups: &'a [Group],
}

/// A key in a file, quoted when it is not a plain word: `users."Jane Doe"`.
fn key_part(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_@".contains(c))
    {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\\\""))
    }
}

struct Resolver<'a> {
    cat: &'a Catalog<'a>,
    problems: Problems,
}

impl Resolver<'_> {
    fn problem(&mut self, key: String, msg: String) {
        self.problems.list.push((key, msg));
    }

    fn role(&mut self, key: String, name: &str) -> Option<RoleRef> {
        let found = self
            .cat
            .roles
            .iter()
            .find(|r| r.get_string("name").ok().as_deref() == Some(name));
        let Some(r) = found else {
            let all: Vec<String> = self
                .cat
                .roles
                .iter()
                .filter_map(|r| r.get_string("name").ok())
                .collect();
            self.problem(
                key,
                format!(
                    "there is no security role \"{name}\"; the roles are: {}",
                    all.join(", ")
                ),
            );
            return None;
        };
        let ty = r.get_string("type").unwrap_or_default();
        if !ASSIGNABLE_ROLE_TYPES.contains(&ty.as_str()) {
            self.problems.not_assignable = true;
            self.problem(
                key,
                format!(
                    "the security role \"{name}\" has type {ty} and cannot be given to a \
                     user; only PROJECT and ASSIGNED roles can be"
                ),
            );
            return None;
        }
        Some(RoleRef {
            entity: r.clone(),
            name: name.to_owned(),
        })
    }

    fn project(&mut self, key: String, name: &str) -> Option<&'_ Project> {
        let cat = self.cat;
        if let Some(p) = cat.projects.iter().find(|p| p.name == name) {
            return Some(p);
        }
        let by_full: Vec<&Project> = cat
            .projects
            .iter()
            .filter(|p| p.full_name == name)
            .collect();
        match by_full.len() {
            1 => Some(by_full[0]),
            0 => {
                self.problem(
                    key,
                    format!(
                        "there is no project \"{name}\" (by name or full name) that this API \
                         user can see"
                    ),
                );
                None
            }
            _ => {
                self.problem(
                    key,
                    format!("several projects have the full name \"{name}\"; use the short name"),
                );
                None
            }
        }
    }

    /// The entries' roles with merged scopes, keyed by role id.
    fn entries(&mut self, key: &str, entries: &[RoleEntry], into: &mut BTreeMap<String, Scope>) {
        for (i, e) in entries.iter().enumerate() {
            let ekey = format!("{key}[{i}]");
            let role = self.role(format!("{ekey}.role"), &e.role);
            let mut projects = BTreeSet::new();
            for (j, p) in e.projects.iter().enumerate() {
                if let Some(p) = self.project(format!("{ekey}.projects[{j}]"), p) {
                    projects.insert(p.entity.id());
                }
            }
            if let Some(role) = role {
                let s = into.entry(role.entity.id()).or_default();
                s.all_open |= e.all_open_projects;
                s.projects.extend(projects);
            }
        }
    }

    /// The ids of the group named `name` (by name, or path `A/B`) and of every
    /// group under it.
    fn group_tree(&mut self, key: String, name: &str) -> Option<BTreeSet<String>> {
        let groups = self.cat.groups;
        let by_id: BTreeMap<&str, &Group> = groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let path = |g: &Group| {
            let mut parts = vec![g.name.clone()];
            let mut cur = g.parent.as_deref();
            // Bounded: a cycle in bad data must not loop forever.
            for _ in 0..groups.len() {
                let Some(p) = cur.and_then(|id| by_id.get(id)) else {
                    break;
                };
                parts.push(p.name.clone());
                cur = p.parent.as_deref();
            }
            parts.reverse();
            parts.join("/")
        };
        let by_path: Vec<&Group> = groups.iter().filter(|g| path(g) == name).collect();
        let by_name: Vec<&Group> = groups.iter().filter(|g| g.name == name).collect();
        let root = match (by_path.as_slice(), by_name.as_slice()) {
            ([g], _) => *g,
            (_, [g]) => *g,
            (_, []) => {
                let mut all: Vec<String> = groups.iter().map(path).collect();
                all.sort();
                self.problem(
                    key,
                    format!(
                        "there is no group \"{name}\"; the groups are: {}",
                        if all.is_empty() {
                            "(none)".to_owned()
                        } else {
                            all.join(", ")
                        }
                    ),
                );
                return None;
            }
            (_, several) => {
                let mut paths: Vec<String> = several.iter().map(|g| path(g)).collect();
                paths.sort();
                self.problem(
                    key,
                    format!(
                        "several groups are named \"{name}\"; name one by its path: {}",
                        paths.join(", ")
                    ),
                );
                return None;
            }
        };
        // The root and its descendants (breadth first, each group once).
        let mut tree = BTreeSet::from([root.id.clone()]);
        let mut frontier = vec![root.id.clone()];
        while let Some(id) = frontier.pop() {
            for g in groups {
                if g.parent.as_deref() == Some(id.as_str()) && tree.insert(g.id.clone()) {
                    frontier.push(g.id.clone());
                }
            }
        }
        Some(tree)
    }
}

/// The managed users' desired roles (user index in `cat.users` → role id →
/// scope), or every problem of the file.
pub fn desired(
    file: &DesiredState,
    cat: &Catalog,
) -> std::result::Result<BTreeMap<usize, BTreeMap<String, Scope>>, Problems> {
    let mut r = Resolver {
        cat,
        problems: Problems::default(),
    };
    let index: BTreeMap<&str, usize> = cat
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.username.as_str(), i))
        .collect();
    let by_id: BTreeMap<String, usize> = cat
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.entity.id(), i))
        .collect();
    let mut out: BTreeMap<usize, BTreeMap<String, Scope>> = BTreeMap::new();
    for (name, entries) in &file.users.0 {
        let key = format!("users.{}", key_part(name));
        let mut scopes = BTreeMap::new();
        r.entries(&key, entries, &mut scopes);
        match index.get(name.as_str()) {
            Some(&i) => {
                let d = out.entry(i).or_default();
                merge(d, scopes);
            }
            None => r.problem(
                key,
                format!(
                    "there is no user \"{name}\" on the server; check the username (it is \
                     case-sensitive)"
                ),
            ),
        }
    }
    for (name, entries) in &file.groups.0 {
        let key = format!("groups.{}", key_part(name));
        let mut scopes = BTreeMap::new();
        r.entries(&key, entries, &mut scopes);
        let Some(tree) = r.group_tree(key, name) else {
            continue;
        };
        let members: BTreeSet<usize> = cat
            .groups
            .iter()
            .filter(|g| tree.contains(&g.id))
            .flat_map(|g| g.members.iter())
            .filter_map(|u| by_id.get(u).copied())
            .collect();
        for i in members {
            merge(out.entry(i).or_default(), scopes.clone());
        }
    }
    if r.problems.list.is_empty() {
        Ok(out)
    } else {
        Err(r.problems)
    }
}

fn merge(into: &mut BTreeMap<String, Scope>, from: BTreeMap<String, Scope>) {
    for (role, s) in from {
        let d = into.entry(role).or_default();
        d.all_open |= s.all_open;
        d.projects.extend(s.projects);
    }
}

/// The changes that give `user` exactly `want`. `roles` and `projects` resolve the
/// ids in `want` (roles and projects the user holds now resolve from `user`).
pub fn diff(
    user: &UserState,
    want: &BTreeMap<String, Scope>,
    roles: &[Entity],
    projects: &[Project],
) -> UserChanges {
    let role_ref = |id: &str| -> RoleRef {
        if let Some(h) = user.roles.get(id) {
            return RoleRef {
                entity: h.role.clone(),
                name: h.name.clone(),
            };
        }
        let e = roles
            .iter()
            .find(|r| r.id() == id)
            .cloned()
            .expect("desired roles come from the role list");
        RoleRef {
            name: e.get_string("name").unwrap_or_default(),
            entity: e,
        }
    };
    let project = |id: &str| -> Project {
        user.roles
            .values()
            .find_map(|h| h.projects.get(id).cloned())
            .or_else(|| projects.iter().find(|p| p.entity.id() == id).cloned())
            .expect("desired projects come from the project list")
    };
    let have: BTreeMap<&String, Scope> = user
        .roles
        .iter()
        .map(|(id, h)| {
            (
                id,
                Scope {
                    all_open: h.all_open,
                    projects: h.projects.keys().cloned().collect(),
                },
            )
        })
        .collect();
    let sorted = |mut v: Vec<Project>| {
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    // What turns scope `from` into scope `to`.
    let fix = |from: &Scope, to: &Scope| {
        (
            (from.all_open != to.all_open).then_some(to.all_open),
            sorted(
                to.projects
                    .difference(&from.projects)
                    .map(|p| project(p))
                    .collect(),
            ),
            sorted(
                from.projects
                    .difference(&to.projects)
                    .map(|p| project(p))
                    .collect(),
            ),
        )
    };
    let cost = |from: &Scope, to: &Scope| {
        usize::from(from.all_open != to.all_open)
            + from.projects.symmetric_difference(&to.projects).count()
    };

    let mut removes: Vec<&String> = have
        .keys()
        .filter(|id| !want.contains_key(**id))
        .copied()
        .collect();
    let mut adds: Vec<&String> = want.keys().filter(|id| !have.contains_key(id)).collect();
    let by_name = |ids: &mut Vec<&String>| {
        ids.sort_by_key(|id| role_ref(id).name);
    };
    by_name(&mut removes);
    by_name(&mut adds);

    // Pair removed and added roles into replaces, cheapest first, while a replace
    // (1 + scope fixes) costs no more than a remove and an add (2 + grants).
    let mut pairs: Vec<(usize, usize, usize)> = Vec::new(); // (replace cost, remove i, add j)
    for (i, old) in removes.iter().enumerate() {
        for (j, new) in adds.iter().enumerate() {
            let (from, to) = (&have[*old], &want[*new]);
            let replace = 1 + cost(from, to);
            let separately = 2 + to.projects.len();
            if replace <= separately {
                pairs.push((replace, i, j));
            }
        }
    }
    pairs.sort();
    let (mut used_old, mut used_new) = (BTreeSet::new(), BTreeSet::new());
    let mut replaces = Vec::new();
    for (_, i, j) in pairs {
        if used_old.contains(&i) || used_new.contains(&j) {
            continue;
        }
        used_old.insert(i);
        used_new.insert(j);
        let (old, new) = (removes[i], adds[j]);
        let (all_open, grant, revoke) = fix(&have[old], &want[new]);
        replaces.push(Change::Replace {
            old: role_ref(old),
            new: role_ref(new),
            all_open,
            grant,
            revoke,
        });
    }

    let mut changes = Vec::new();
    for (i, old) in removes.iter().enumerate() {
        if !used_old.contains(&i) {
            changes.push(Change::Remove {
                role: role_ref(old),
            });
        }
    }
    changes.extend(replaces);
    let mut kept: Vec<&String> = want.keys().filter(|id| have.contains_key(id)).collect();
    by_name(&mut kept);
    for id in kept {
        let (all_open, grant, revoke) = fix(&have[id], &want[id]);
        if all_open.is_some() || !grant.is_empty() || !revoke.is_empty() {
            changes.push(Change::Scope {
                role: role_ref(id),
                all_open,
                grant,
                revoke,
            });
        }
    }
    for (j, new) in adds.iter().enumerate() {
        if !used_new.contains(&j) {
            let to = &want[*new];
            changes.push(Change::Add {
                role: role_ref(new),
                all_open: to.all_open,
                grant: sorted(to.projects.iter().map(|p| project(p)).collect()),
            });
        }
    }
    UserChanges {
        user: user.entity.clone(),
        username: user.username.clone(),
        changes,
    }
}

/// The scope a user holds now, as a desired scope (for `copy-roles`).
pub fn held_scopes(user: &UserState) -> BTreeMap<String, Scope> {
    user.roles
        .iter()
        .map(|(id, h)| {
            (
                id.clone(),
                Scope {
                    all_open: h.all_open,
                    projects: h.projects.keys().cloned().collect(),
                },
            )
        })
        .collect()
}

/// Queues the changes as role actions in `roles`' session, each validated by the
/// roles API (strict: a change that no longer fits the server is an error).
/// All-open-projects flips on a held role have no roles-API call; they are
/// recorded as the `grant/revoke_user_security_role_project` action with
/// `all_open_projects`, which the roles API's validation replays.
pub fn queue(session: &Session, all: &[UserChanges]) -> Result<usize> {
    let roles = Roles::new(session).idempotent(false);
    let before = session.pending_len();
    for uc in all {
        let u = &uc.user;
        let scope = |role: &RoleRef,
                     all_open: &Option<bool>,
                     grant: &[Project],
                     revoke: &[Project]|
         -> Result<()> {
            if let Some(a) = all_open {
                session.record_action(json!({
                    "action": if *a { actions::GRANT } else { actions::REVOKE },
                    "user_id": u.id(),
                    "role_id": role.entity.id(),
                    "all_open_projects": true,
                }))?;
            }
            for p in revoke {
                roles.revoke_project(u, &role.entity, &p.entity)?;
            }
            for p in grant {
                roles.grant_project(u, &role.entity, &p.entity)?;
            }
            Ok(())
        };
        for c in &uc.changes {
            match c {
                Change::Remove { role } => {
                    roles.remove(u, &role.entity)?;
                }
                Change::Replace {
                    old,
                    new,
                    all_open,
                    grant,
                    revoke,
                } => {
                    roles.replace(u, &old.entity, &new.entity)?;
                    scope(new, all_open, grant, revoke)?;
                }
                Change::Scope {
                    role,
                    all_open,
                    grant,
                    revoke,
                } => scope(role, all_open, grant, revoke)?,
                Change::Add {
                    role,
                    all_open,
                    grant,
                } => {
                    roles.append(u, &role.entity, *all_open)?;
                    scope(role, &None, grant, &[])?;
                }
            }
        }
    }
    Ok(session.pending_len() - before)
}
