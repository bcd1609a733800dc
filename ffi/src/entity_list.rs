//! `ftrack_entity_list`: an immutable list of entities (query results, collections).

use std::sync::Arc;

use ftrack::Entity;

use super::entity::{ftrack_entity, new_entity};
use super::error::FfiError;
use super::handle::{Handle, HandleHeader, borrow, destroy_handle, into_handle, out_handle};
use super::status::ftrack_status;

/// An immutable list of entities, returned by `ftrack_session_query` and
/// `ftrack_entity_get_list`; freed with `ftrack_entity_list_destroy`.
///
/// `ftrack_entity_list_get` returns NEW entity handles, so the list may be
/// destroyed while they are in use. Read-only: safe to use from several threads.
pub struct ftrack_entity_list {
    header: HandleHeader,
    entities: Vec<Entity>,
}

impl Handle for ftrack_entity_list {
    const WHAT: &'static str = "entity list";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

/// Wraps entities in a new list handle.
pub(crate) fn new_list(entities: Vec<Entity>, secret: Option<Arc<str>>) -> *mut ftrack_entity_list {
    into_handle(ftrack_entity_list {
        header: HandleHeader::new(secret),
        entities,
    })
}

/// @brief Returns the number of entities in the list; 0 when `list` is NULL or poisoned.
///
/// Never fails; does not touch the last error.
///
/// @param list the list handle (NULL gives 0).
/// @return the number of entities; 0 when @p list is NULL or poisoned.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_list_len(list: *const ftrack_entity_list) -> usize {
    ffi_boundary!(value: 0, {
        // SAFETY: the caller guarantees `list` is NULL or live.
        match unsafe { list.as_ref() } {
            Some(list) if !list.header.is_poisoned() => list.entities.len(),
            _ => 0,
        }
    })
}

/// @brief Returns the entity at `index` (0-based) as a NEW handle in `*out`, freed with
///        `ftrack_entity_destroy`; NULL on failure.
///
/// @param list the list handle.
/// @param index zero-based position, less than ftrack_entity_list_len().
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (`index` >= length) or
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_list_get(
    list: *const ftrack_entity_list,
    index: usize,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let list = unsafe { borrow(list, "list")? };
        let entity = list.entities.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "index {index} is out of range for a list of {} entities",
                list.entities.len()
            ))
        })?;
        *out = new_entity(entity.clone(), list.header.secret().cloned());
        Ok(())
    })
}

/// @brief Frees a list handle (entity handles taken from it stay valid).
///
/// NULL is a no-op. Destroying the same handle twice, or while another thread uses it,
/// is forbidden.
///
/// @param list the list handle, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_list_destroy(list: *mut ftrack_entity_list) {
    ffi_boundary!(value: (), { unsafe { destroy_handle(list) } })
}
