//! What changes validate against: the per-session role store — users' role state
//! as last read, plus the effect of the pending batch on each user, kept up to
//! date incrementally.
//!
//! The store lives in the session as an extension ([`Session::extension`]), so
//! every `Roles` of a session shares it. It follows the session's pending batch
//! through its public typed view: [`Session::pending_mark`] says whether anything
//! left the batch (then the per-user effects are rebuilt once from
//! [`Session::recorded_operations`]) or what was recorded since the last look
//! (only that is read, with [`Session::recorded_operations_after`]). A change
//! this API records itself is added to its user's effects directly, so a run of
//! changes costs O(1) each, whatever the batch holds.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{RoleAction, RoleActionKind, Roles};
use crate::pending::{JsonAction, Operation, PendingMark, RecordedOperation};
use crate::schema::FastMap;
use crate::{Entity, Error, Result, Session, Value};

/// The role store of one session (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct RoleStore {
    state: Mutex<StoreState>,
}

#[derive(Debug, Default)]
pub(super) struct StoreState {
    /// The [`Session::write_generation`] the bases belong to.
    generation: u64,
    /// User id → role id → scope, as read from the server.
    bases: FastMap<String, HeldRoles>,
    /// How far the effects below follow the session's pending batch.
    mark: PendingMark,
    /// User id → the effects of the pending operations on that user, in order.
    per_user: FastMap<String, Vec<(u64, Effect)>>,
    /// Effects on a `UserSecurityRole` entity whose user is not known here
    /// (entity operations recorded outside this API); applied to every user.
    by_usr: Vec<(u64, Effect)>,
}

/// What validation knows of one of the user's roles.
#[derive(Debug, Clone, Default)]
pub(super) struct Held {
    /// The `UserSecurityRole` id (empty for a role appended in the batch).
    pub(super) usr_id: String,
    pub(super) all_open: bool,
    pub(super) projects: BTreeSet<String>,
}

/// A user's roles, role id → scope, sorted by role id. A short sorted list:
/// users hold a handful of roles, and with one map node per user (about 1 KB
/// for a `BTreeMap`) 10,000 users' states no longer fitted the CPU's caches.
#[derive(Debug, Clone, Default)]
pub(super) struct HeldRoles(Vec<(String, Held)>);

impl HeldRoles {
    fn find(&self, role_id: &str) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|(r, _)| r.as_str().cmp(role_id))
    }

    /// The scope of `role_id`, if held.
    pub(super) fn get(&self, role_id: &str) -> Option<&Held> {
        self.find(role_id).ok().map(|i| &self.0[i].1)
    }

    fn get_mut(&mut self, role_id: &str) -> Option<&mut Held> {
        self.find(role_id).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether `role_id` is held.
    pub(super) fn contains_key(&self, role_id: &str) -> bool {
        self.find(role_id).is_ok()
    }

    /// Holds `role_id` with `held`, replacing its scope if it was held.
    fn insert(&mut self, role_id: String, held: Held) {
        match self.find(&role_id) {
            Ok(i) => self.0[i].1 = held,
            Err(i) => self.0.insert(i, (role_id, held)),
        }
    }

    /// Holds `role_id` with `held` unless it is held already.
    fn insert_if_absent(&mut self, role_id: &str, held: Held) {
        if let Err(i) = self.find(role_id) {
            self.0.insert(i, (role_id.to_owned(), held));
        }
    }

    fn remove(&mut self, role_id: &str) -> Option<Held> {
        self.find(role_id).ok().map(|i| self.0.remove(i).1)
    }

    fn retain(&mut self, mut keep: impl FnMut(&Held) -> bool) {
        self.0.retain(|(_, h)| keep(h));
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Held> {
        self.0.iter_mut().map(|(_, h)| h)
    }

    #[cfg(test)]
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(r, _)| r.as_str()).collect()
    }
}

impl FromIterator<(String, Held)> for HeldRoles {
    fn from_iter<I: IntoIterator<Item = (String, Held)>>(items: I) -> Self {
        let mut roles = HeldRoles::default();
        for (role_id, held) in items {
            roles.insert(role_id, held);
        }
        roles
    }
}

/// One pending operation's effect on a user's role state.
#[derive(Debug, Clone)]
enum Effect {
    Action(Arc<RoleAction>),
    CreateUsr {
        usr_id: String,
        role_id: String,
        all_open: bool,
    },
    DeleteUsr {
        usr_id: String,
    },
    GrantUsr {
        usr_id: String,
        project_id: String,
    },
}

impl Effect {
    fn apply(&self, state: &mut HeldRoles) {
        match self {
            Effect::Action(a) => a.apply(state),
            Effect::CreateUsr {
                usr_id,
                role_id,
                all_open,
            } => {
                state.insert(
                    role_id.clone(),
                    Held {
                        usr_id: usr_id.clone(),
                        all_open: *all_open,
                        projects: BTreeSet::new(),
                    },
                );
            }
            Effect::DeleteUsr { usr_id } => state.retain(|h| &h.usr_id != usr_id),
            Effect::GrantUsr { usr_id, project_id } => {
                if let Some(h) = state.values_mut().find(|h| &h.usr_id == usr_id) {
                    h.projects.insert(project_id.clone());
                }
            }
        }
    }
}

impl RoleAction {
    /// Applies this action to a user's role state (role id → scope).
    fn apply(&self, state: &mut HeldRoles) {
        let all_open = self.all_open_projects == Some(true);
        match self.kind {
            RoleActionKind::Add => {
                state.insert_if_absent(
                    &self.role_id,
                    Held {
                        all_open,
                        ..Held::default()
                    },
                );
            }
            RoleActionKind::Remove => {
                state.remove(&self.role_id);
            }
            RoleActionKind::Replace => {
                if let (Some(new), Some(held)) = (&self.new_role_id, state.remove(&self.role_id)) {
                    state.insert(new.clone(), held);
                }
            }
            RoleActionKind::Grant | RoleActionKind::Revoke => {
                let grant = self.kind == RoleActionKind::Grant;
                if let Some(held) = state.get_mut(&self.role_id) {
                    match &self.project_id {
                        Some(p) if grant => {
                            held.projects.insert(p.clone());
                        }
                        Some(p) => {
                            held.projects.remove(p);
                        }
                        None if all_open => held.all_open = grant,
                        None => {}
                    }
                }
            }
        }
    }
}

/// The id of the entity an attribute refers to: a reference, or an `*_id` string.
fn ref_id(data: &[(String, Value)], field: &str) -> Option<String> {
    let id_field = format!("{field}_id");
    data.iter().find_map(|(name, v)| match v {
        Value::Entity(e) if name == field => Some(e.id()),
        Value::String(s) if *name == id_field => Some(s.clone()),
        _ => None,
    })
}

/// Reads of a user's roles for validation while other threads of the session
/// keep writing (see [`Roles::context`]).
const READ_ATTEMPTS: u32 = 3;

impl StoreState {
    /// Brings the bases and the per-user effects up to date with the session.
    fn sync(&mut self, session: &Session) {
        let generation = session.write_generation();
        if generation != self.generation {
            // Everything read before a write is stale.
            self.bases.clear();
            self.generation = generation;
        }
        let mark = session.pending_mark();
        if mark.removals != self.mark.removals {
            // Fresh maps rather than cleared ones: a large batch rolled back
            // must not leave its table behind (memory, and later changes
            // scattered over a table sized for it).
            self.per_user = FastMap::default();
            self.by_usr = Vec::new();
            // Everything up to `mark` is in the batch read next (and anything
            // recorded in between raises last_seq as it is ingested).
            self.mark = mark;
            let all = session.recorded_operations();
            self.ingest(&all);
        } else if mark.last_seq != self.mark.last_seq {
            let new = session.recorded_operations_after(self.mark.last_seq);
            self.ingest(&new);
        }
    }

    /// Adds the effects of operations recorded outside this API's own path.
    fn ingest(&mut self, ops: &[RecordedOperation]) {
        for r in ops {
            self.mark.last_seq = self.mark.last_seq.max(r.seq);
            let seq = r.seq;
            match &r.operation {
                Operation::Action(a) => {
                    let typed = a
                        .as_any()
                        .downcast_ref::<RoleAction>()
                        .cloned()
                        .or_else(|| {
                            a.as_any()
                                .downcast_ref::<JsonAction>()
                                .and_then(|j| RoleAction::from_json(j.json()))
                        });
                    if let Some(action) = typed {
                        self.add(seq, Arc::new(action));
                    }
                }
                Operation::Create { entity, data } => match entity.entity_type().as_str() {
                    "UserSecurityRole" => {
                        if let (Some(user), Some(role_id)) =
                            (ref_id(data, "user"), ref_id(data, "security_role"))
                        {
                            let all_open = data.iter().any(|(n, v)| {
                                (n == "is_all_open_projects" || n == "is_all_projects")
                                    && *v == Value::Bool(true)
                            });
                            self.per_user.entry(user).or_default().push((
                                seq,
                                Effect::CreateUsr {
                                    usr_id: entity.id(),
                                    role_id,
                                    all_open,
                                },
                            ));
                        }
                    }
                    "UserSecurityRoleProject" => {
                        if let (Some(usr_id), Some(project_id)) =
                            (ref_id(data, "user_security_role"), ref_id(data, "project"))
                        {
                            self.by_usr
                                .push((seq, Effect::GrantUsr { usr_id, project_id }));
                        }
                    }
                    _ => {}
                },
                Operation::Delete { entity } if entity.is_of_type("UserSecurityRole") => {
                    self.by_usr.push((
                        seq,
                        Effect::DeleteUsr {
                            usr_id: entity.id(),
                        },
                    ));
                }
                _ => {}
            }
        }
    }

    /// Records the effect of this API's own action, recorded with sequence
    /// number `seq`. When other operations were recorded in between, they (and
    /// this one) are read on the next sync instead.
    fn add_own(&mut self, seq: u64, action: Arc<RoleAction>) {
        if seq == self.mark.last_seq + 1 {
            self.mark.last_seq = seq;
            self.add(seq, action);
        }
    }

    fn add(&mut self, seq: u64, action: Arc<RoleAction>) {
        match self.per_user.get_mut(&action.user_id) {
            Some(effects) => effects.push((seq, Effect::Action(action))),
            None => {
                self.per_user
                    .insert(action.user_id.clone(), vec![(seq, Effect::Action(action))]);
            }
        }
    }

    /// The user's state with the pending effects applied, if the base is known;
    /// borrowed when nothing is pending for the user.
    fn effective(&self, user_id: &str) -> Option<Cow<'_, HeldRoles>> {
        let base = self.bases.get(user_id)?;
        let own = self.per_user.get(user_id).map_or(&[][..], Vec::as_slice);
        if own.is_empty() && self.by_usr.is_empty() {
            return Some(Cow::Borrowed(base));
        }
        let mut state = base.clone();
        if self.by_usr.is_empty() {
            for (_, e) in own {
                e.apply(&mut state);
            }
        } else {
            let mut all: Vec<&(u64, Effect)> = own.iter().chain(&self.by_usr).collect();
            all.sort_by_key(|(seq, _)| *seq);
            for (_, e) in all {
                e.apply(&mut state);
            }
        }
        Some(Cow::Owned(state))
    }

    /// Stores a user's state as read, if no write happened since `generation`.
    pub(super) fn store_base(&mut self, generation: u64, user_id: String, state: HeldRoles) {
        if generation > self.generation {
            // Read after a write the store has not seen yet: older bases are stale.
            self.bases.clear();
            self.generation = generation;
        }
        if generation == self.generation {
            self.bases.insert(user_id, state);
        }
    }
}

/// The user's role state with the pending batch applied, while the store is held:
/// the caller validates against `state` and records through [`Context::record`]
/// before the store is released, so two threads never validate against the same
/// state.
pub(super) struct Context<'a> {
    store: MutexGuard<'a, StoreState>,
    session: &'a Session,
    user_id: String,
}

impl Context<'_> {
    /// The user's roles (role id → scope) with the pending batch applied.
    pub(super) fn state(&self) -> Cow<'_, HeldRoles> {
        self.store.effective(&self.user_id).unwrap_or_default()
    }

    /// Records the action that `make` builds from the user's id in the
    /// session's batch and in the store.
    pub(super) fn record(mut self, make: impl FnOnce(String) -> RoleAction) {
        let action = Arc::new(make(std::mem::take(&mut self.user_id)));
        let seq = self.session.record(action.clone());
        self.store.add_own(seq, action);
    }
}

impl Roles {
    pub(super) fn check_user(&self, user: &Entity) -> Result<()> {
        if !user.is_of_type("User") {
            return Err(Error::InvalidArgument(format!(
                "expected a User, got a {}",
                user.entity_type()
            )));
        }
        Ok(())
    }

    pub(super) fn lock_store(&self) -> MutexGuard<'_, StoreState> {
        self.store.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user's role state as the server has it — stored if this session has not
    /// written to the server since it was read, else read now (one request) — with
    /// the pending operations of the session applied on top; the store stays
    /// locked until the returned context records or is dropped.
    pub(super) fn context(&self, user: &Entity, user_id: String) -> Result<Context<'_>> {
        self.check_user(user)?;
        let mut store = self.lock_store();
        store.sync(&self.session);
        if !store.bases.contains_key(&user_id) {
            // Not known, or a write made it stale: read it without holding the store
            // across the request. A read during which the session wrote (another
            // thread's commit was sent or done) may predate that write: it is read
            // again, a few times at most. A write by another thread may still land
            // between this read and its use; the read is then the newest this
            // thread can have, and the server validates the batch atomically in
            // any case.
            drop(store);
            let mut attempts = 0;
            let read = loop {
                let before = self.session.write_generation();
                let read = super::read::held_state(&self.read_user_roles(user)?);
                attempts += 1;
                if self.session.write_generation() == before || attempts == READ_ATTEMPTS {
                    break read;
                }
            };
            store = self.lock_store();
            store.sync(&self.session);
            store.bases.insert(user_id.clone(), read);
        }
        Ok(Context {
            store,
            session: &self.session,
            user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(all_open: bool, projects: &[&str]) -> Held {
        Held {
            usr_id: "usr-1".into(),
            all_open,
            projects: projects.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn action(kind: RoleActionKind, role: &str, f: impl FnOnce(&mut RoleAction)) -> Effect {
        let mut a = RoleAction {
            kind,
            user_id: "u1".into(),
            role_id: role.into(),
            new_role_id: None,
            project_id: None,
            all_open_projects: None,
        };
        f(&mut a);
        Effect::Action(Arc::new(a))
    }

    #[test]
    fn pending_actions_apply_in_order() {
        let mut state = HeldRoles::default();
        state.insert("role-user".to_owned(), held(true, &[]));
        let effects = [
            action(RoleActionKind::Add, "role-pm", |a| {
                a.all_open_projects = Some(false)
            }),
            action(RoleActionKind::Grant, "role-pm", |a| {
                a.project_id = Some("gamma".into())
            }),
            action(RoleActionKind::Replace, "role-user", |a| {
                a.new_role_id = Some("role-restricted".into())
            }),
            action(RoleActionKind::Revoke, "role-restricted", |a| {
                a.all_open_projects = Some(true)
            }),
        ];
        for e in &effects {
            e.apply(&mut state);
        }
        assert_eq!(state.keys(), ["role-pm", "role-restricted"]);
        assert!(state.get("role-pm").unwrap().projects.contains("gamma"));
        assert!(!state.get("role-restricted").unwrap().all_open);
    }

    #[test]
    fn entity_operations_on_user_security_roles_count_too() {
        let mut state = HeldRoles::default();
        state.insert("role-user".to_owned(), held(false, &[]));
        let effects = [
            Effect::DeleteUsr {
                usr_id: "usr-1".into(),
            },
            Effect::CreateUsr {
                usr_id: "usr-2".into(),
                role_id: "role-pm".into(),
                all_open: false,
            },
            Effect::GrantUsr {
                usr_id: "usr-2".into(),
                project_id: "alpha".into(),
            },
        ];
        for e in &effects {
            e.apply(&mut state);
        }
        assert_eq!(state.keys(), ["role-pm"]);
        assert!(state.get("role-pm").unwrap().projects.contains("alpha"));
    }

    #[test]
    fn json_role_actions_read_back_typed() {
        let a = RoleAction::from_json(&serde_json::json!({
            "action": "grant_user_security_role_project",
            "user_id": "u", "role_id": "r", "project_id": "p"
        }))
        .unwrap();
        assert_eq!(a.kind, RoleActionKind::Grant);
        assert_eq!(a.project_id.as_deref(), Some("p"));
        assert!(RoleAction::from_json(&serde_json::json!({"action": "create"})).is_none());
    }
}
