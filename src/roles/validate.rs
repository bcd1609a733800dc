//! What changes validate against: the per-session role store (users' role state
//! as last read) with the session's pending operations replayed on top.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::read::loaded_string;
use super::{Roles, actions};
use crate::{Entity, Error, Result};

/// What the session knows of users' role state: user id → the state as read from
/// the server, with the [`crate::Session::write_generation`] before the read. Each
/// session owns one (created with it, dropped with it), shared by all its `Roles`.
#[derive(Debug, Default)]
pub(crate) struct RoleStore {
    pub(super) users: HashMap<String, Known>,
}

#[derive(Debug, Clone)]
pub(super) struct Known {
    pub(super) generation: u64,
    pub(super) state: BTreeMap<String, Held>,
}

impl Roles {
    pub(super) fn check_user(&self, user: &Entity) -> Result<()> {
        if user.entity_type() != "User" {
            return Err(Error::InvalidArgument(format!(
                "expected a User, got a {}",
                user.entity_type()
            )));
        }
        Ok(())
    }

    pub(super) fn lock_store(&self) -> std::sync::MutexGuard<'_, RoleStore> {
        self.session
            .inner
            .roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The user's role state as the server has it — stored if this session has not
    /// written to the server since it was read, else read now (one request) — with
    /// the pending role operations of the session applied on top.
    pub(super) fn context(&self, user: &Entity) -> Result<Context> {
        self.check_user(user)?;
        let generation = self.session.write_generation();
        let known = {
            let mut store = self.lock_store();
            // Everything read before a write is stale: drop it all at once.
            store.users.retain(|_, k| k.generation == generation);
            store.users.get(&user.id()).map(|k| k.state.clone())
        };
        let mut state = match known {
            Some(state) => state,
            None => {
                self.user_roles(user)?;
                self.lock_store()
                    .users
                    .get(&user.id())
                    .map(|k| k.state.clone())
                    .unwrap_or_default()
            }
        };
        let username = loaded_string(user, "username").unwrap_or_else(|_| user.id());
        let pending: serde_json::Value = serde_json::from_str(&self.session.pending_json()?)
            .map_err(|e| Error::Protocol {
                status: 0,
                message: format!("internal error: the pending batch is not JSON ({e})"),
            })?;
        apply_pending(
            &mut state,
            &user.id(),
            pending.as_array().map_or(&[][..], |a| a),
        );
        Ok(Context { username, state })
    }
}

/// What validation knows of one of the user's roles.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) usr_id: String,
    pub(super) all_open: bool,
    pub(super) projects: BTreeSet<String>,
}

pub(super) struct Context {
    pub(super) username: String,
    /// role id → scope
    pub(super) state: BTreeMap<String, Held>,
}

fn str_field<'a>(op: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    op.get(key).and_then(|v| v.as_str())
}

/// The id of `field` in `data`, given as `<field>_id` or as a reference `<field>`.
fn ref_id(data: &serde_json::Value, field: &str) -> Option<String> {
    if let Some(id) = str_field(data, &format!("{field}_id")) {
        return Some(id.to_owned());
    }
    data.get(field)
        .and_then(|r| r.get("id"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn entity_key(op: &serde_json::Value) -> Option<String> {
    match op.get("entity_key") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => op
            .get("entity_data")
            .and_then(|d| str_field(d, "id"))
            .map(str::to_owned),
    }
}

/// Applies the pending operations that concern `user_id` to `state`, in order: the
/// five role actions, and creates/deletes of `UserSecurityRole` and
/// `UserSecurityRoleProject` entities.
pub(super) fn apply_pending(
    state: &mut BTreeMap<String, Held>,
    user_id: &str,
    ops: &[serde_json::Value],
) {
    for op in ops {
        let action = str_field(op, "action").unwrap_or("");
        match action {
            actions::ADD
            | actions::REMOVE
            | "revoke_user_security_role"
            | actions::UPDATE
            | actions::GRANT
            | actions::REVOKE => {
                if str_field(op, "user_id") != Some(user_id) {
                    continue;
                }
                let Some(role_id) = str_field(op, "role_id") else {
                    continue;
                };
                let all_open = op.get("all_open_projects").and_then(|v| v.as_bool()) == Some(true);
                let project = str_field(op, "project_id");
                match action {
                    actions::ADD => {
                        state.entry(role_id.to_owned()).or_insert(Held {
                            usr_id: String::new(),
                            all_open,
                            projects: BTreeSet::new(),
                        });
                    }
                    actions::UPDATE => {
                        if let (Some(new), Some(held)) =
                            (str_field(op, "new_role_id"), state.remove(role_id))
                        {
                            state.insert(new.to_owned(), held);
                        }
                    }
                    actions::GRANT | actions::REVOKE => {
                        let grant = action == actions::GRANT;
                        if let Some(held) = state.get_mut(role_id) {
                            match project {
                                Some(p) if grant => {
                                    held.projects.insert(p.to_owned());
                                }
                                Some(p) => {
                                    held.projects.remove(p);
                                }
                                None if all_open => held.all_open = grant,
                                None => {}
                            }
                        }
                    }
                    _ => {
                        state.remove(role_id);
                    }
                }
            }
            "create" | "delete" => {
                let ty = str_field(op, "entity_type").unwrap_or("");
                let data = op.get("entity_data").cloned().unwrap_or_default();
                match (action, ty) {
                    ("create", "UserSecurityRole") => {
                        if ref_id(&data, "user").as_deref() != Some(user_id) {
                            continue;
                        }
                        if let Some(role_id) = ref_id(&data, "security_role") {
                            let all_open = data
                                .get("is_all_open_projects")
                                .or_else(|| data.get("is_all_projects"))
                                .and_then(|v| v.as_bool())
                                == Some(true);
                            state.insert(
                                role_id,
                                Held {
                                    usr_id: entity_key(op).unwrap_or_default(),
                                    all_open,
                                    projects: BTreeSet::new(),
                                },
                            );
                        }
                    }
                    ("delete", "UserSecurityRole") => {
                        if let Some(key) = entity_key(op) {
                            state.retain(|_, h| h.usr_id != key);
                        }
                    }
                    ("create", "UserSecurityRoleProject") => {
                        if let (Some(usr), Some(project)) = (
                            ref_id(&data, "user_security_role"),
                            ref_id(&data, "project"),
                        ) && let Some(h) = state.values_mut().find(|h| h.usr_id == usr)
                        {
                            h.projects.insert(project);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(all_open: bool, projects: &[&str]) -> Held {
        Held {
            usr_id: "usr-1".into(),
            all_open,
            projects: projects.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn pending_actions_apply_in_order_for_the_user_only() {
        let mut state = BTreeMap::new();
        state.insert("role-user".to_owned(), held(true, &[]));
        let ops = vec![
            json!({"action": "add_user_security_role", "user_id": "u1", "role_id": "role-pm", "all_open_projects": false}),
            json!({"action": "grant_user_security_role_project", "user_id": "u1", "role_id": "role-pm", "project_id": "gamma"}),
            json!({"action": "add_user_security_role", "user_id": "u2", "role_id": "role-x"}),
            json!({"action": "update_user_security_role", "user_id": "u1", "role_id": "role-user", "new_role_id": "role-restricted"}),
            json!({"action": "revoke_user_security_role_project", "user_id": "u1", "role_id": "role-restricted", "all_open_projects": true}),
        ];
        apply_pending(&mut state, "u1", &ops);
        assert_eq!(
            state.keys().collect::<Vec<_>>(),
            ["role-pm", "role-restricted"]
        );
        assert!(state["role-pm"].projects.contains("gamma"));
        assert!(!state["role-restricted"].all_open);
    }

    #[test]
    fn pending_entity_operations_count_too() {
        let mut state = BTreeMap::new();
        state.insert("role-user".to_owned(), held(false, &[]));
        let ops = vec![
            json!({"action": "delete", "entity_type": "UserSecurityRole", "entity_key": ["usr-1"]}),
            json!({"action": "create", "entity_type": "UserSecurityRole", "entity_key": ["usr-2"],
                   "entity_data": {"__entity_type__": "UserSecurityRole", "id": "usr-2", "user_id": "u1", "security_role_id": "role-pm"}}),
            json!({"action": "create", "entity_type": "UserSecurityRoleProject", "entity_key": ["g"],
                   "entity_data": {"user_security_role": {"__entity_type__": "UserSecurityRole", "id": "usr-2"}, "project_id": "alpha"}}),
        ];
        apply_pending(&mut state, "u1", &ops);
        assert_eq!(state.keys().collect::<Vec<_>>(), ["role-pm"]);
        assert!(state["role-pm"].projects.contains("alpha"));
    }
}
