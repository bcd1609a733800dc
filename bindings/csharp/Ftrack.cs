// Ftrack.cs: a thin P/Invoke binding of the libftrack C ABI (include/ftrack.h) for
// .NET and Mono hosts (Unity, tools).
//
// * Handles are SafeHandles: disposing (or finalizing) them calls the matching
//   ftrack_*_destroy exactly once.
// * Strings go in as NUL-terminated UTF-8 byte arrays and come out through caller
//   buffers that are grown once when the library reports the size it needs.
// * Every failing call throws FtrackException with the Status and this thread's
//   last error message (never the API key).
//
//   using (var session = Ftrack.Session.FromEnvironment())
//   using (var users = session.Query("select username from User"))
//       foreach (var user in users) using (user) Console.WriteLine(user.GetString("username"));
//
// The native library is loaded as "ftrack" (libftrack.so: put it on LD_LIBRARY_PATH
// or next to the assembly).
using System;
using System.Collections;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Ftrack
{
    /// <summary>The ftrack_status values of ftrack.h.</summary>
    public enum Status : uint
    {
        Ok = 0,
        InvalidArgument = 100,
        NullPointer = 101,
        InvalidUtf8 = 102,
        BufferTooSmall = 103,
        MissingConfiguration = 104,
        Connection = 200,
        Timeout = 201,
        Tls = 202,
        Protocol = 203,
        Cancelled = 204,
        Server = 300,
        Authentication = 301,
        PermissionDenied = 302,
        Validation = 303,
        IncompatibleServer = 304,
        QuerySyntax = 400,
        NotFound = 401,
        MultipleResults = 402,
        UnknownAttribute = 403,
        TypeMismatch = 404,
        UnknownEntityType = 405,
        RoleAlreadyAssigned = 500,
        RoleNotAssigned = 501,
        RoleNotAssignable = 502,
        ProjectAlreadyGranted = 503,
        ProjectNotGranted = 504,
        Panic = 900,
        Poisoned = 901,
        Internal = 999,
    }

    /// <summary>The ftrack_log_level values of ftrack.h.</summary>
    public enum LogLevel : uint
    {
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
    }

    /// <summary>ftrack_log_fn: a log line (UTF-8, valid during the call only).</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void LogCallback(IntPtr userData, LogLevel level, IntPtr message);

    /// <summary>ftrack_progress_fn: returns non-zero to cancel the operation.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int ProgressCallback(IntPtr userData, IntPtr operation, ulong done, long total);

    /// <summary>A libftrack call failed.</summary>
    public sealed class FtrackException : Exception
    {
        public Status Status { get; }
        /// <summary>The C name of the status, e.g. FTRACK_STATUS_NOT_FOUND.</summary>
        public string StatusName { get; }
        /// <summary>The library's message (what failed and what to do).</summary>
        public string Detail { get; }

        internal FtrackException(Status status, string detail)
            : base(Native.StatusName(status) + ": " + detail)
        {
            Status = status;
            StatusName = Native.StatusName(status);
            Detail = detail;
        }
    }

    /// <summary>Owner of an ftrack_session handle.</summary>
    public sealed class SessionHandle : SafeHandle
    {
        public SessionHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Native.ftrack_session_destroy(handle); return true; }
    }

    /// <summary>Owner of an ftrack_session_options handle.</summary>
    public sealed class OptionsHandle : SafeHandle
    {
        public OptionsHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Native.ftrack_session_options_destroy(handle); return true; }
    }

    /// <summary>Owner of an ftrack_entity handle.</summary>
    public sealed class EntityHandle : SafeHandle
    {
        public EntityHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Native.ftrack_entity_destroy(handle); return true; }
    }

    /// <summary>Owner of an ftrack_entity_list handle.</summary>
    public sealed class EntityListHandle : SafeHandle
    {
        public EntityListHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Native.ftrack_entity_list_destroy(handle); return true; }
    }

    /// <summary>Owner of an ftrack_string handle (a library-owned result).</summary>
    public sealed class StringHandle : SafeHandle
    {
        public StringHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Native.ftrack_string_destroy(handle); return true; }
    }

    /// <summary>Owner of an ftrack_query_cursor handle.</summary>
    public sealed class QueryCursorHandle : SafeHandle
    {
        public QueryCursorHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Native.ftrack_query_cursor_destroy(handle); return true; }
    }

    /// <summary>The raw C functions and the marshalling helpers.</summary>
    public static class Native
    {
        const string Lib = "ftrack";

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr ftrack_status_name(uint status);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr ftrack_version_string();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern uint ftrack_version_number();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_last_error_message(byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_last_call_reply(byte[] buffer, UIntPtr len, out UIntPtr outLen);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_create(out OptionsHandle options);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_session_options_destroy(IntPtr options);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_server_url(OptionsHandle o, byte[] v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_api_key(OptionsHandle o, byte[] v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_api_user(OptionsHandle o, byte[] v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_timeout_ms(OptionsHandle o, ulong ms);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_add_header(OptionsHandle o, byte[] name, byte[] value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_add_cookie(OptionsHandle o, byte[] name, byte[] value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_strict_api(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_auto_populate(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_idempotent_role_changes(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_record_operations(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_schema_cache_path(OptionsHandle o, byte[] v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_disable_schema_cache(OptionsHandle o);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_page_size(OptionsHandle o, UIntPtr v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_max_concurrent_pages(OptionsHandle o, UIntPtr v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_max_attempts(OptionsHandle o, uint v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_retry_delay_ms(OptionsHandle o, ulong v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_ca_bundle_path(OptionsHandle o, byte[] v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_persistent_cache_path(OptionsHandle o, byte[] v);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_connect_timeout_ms(OptionsHandle o, ulong ms);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_request_deadline_ms(OptionsHandle o, ulong ms);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_max_reply_bytes(OptionsHandle o, ulong bytes);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_allow_insecure_http(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool allow);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_logger(OptionsHandle o, LogLevel level, LogCallback callback, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_create(byte[] serverUrl, byte[] apiKey, byte[] apiUser, out SessionHandle session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_create_with_options(OptionsHandle options, out SessionHandle session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_session_destroy(IntPtr session);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_query(SessionHandle s, byte[] expression, out EntityListHandle list);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_query_first(SessionHandle s, byte[] expression, out EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_query_one(SessionHandle s, byte[] expression, out EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_create_entity(SessionHandle s, byte[] type, byte[] dataJson, out EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_delete_entity(SessionHandle s, EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_commit(SessionHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_rollback(SessionHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_pending_count(SessionHandle s, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_pending_json(SessionHandle s, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_call(SessionHandle s, byte[] batchJson, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_set_logger(SessionHandle s, LogLevel level, LogCallback callback, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_set_progress(SessionHandle s, ProgressCallback callback, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_cancel(SessionHandle s);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern UIntPtr ftrack_entity_list_len(EntityListHandle list);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_list_get(EntityListHandle list, UIntPtr index, out EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_entity_list_destroy(IntPtr list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_entity_destroy(IntPtr entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_clone(EntityHandle e, out EntityHandle copy);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_type_name(EntityHandle e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_id(EntityHandle e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_string(EntityHandle e, byte[] attribute, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_json(EntityHandle e, byte[] attribute, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_bool(EntityHandle e, byte[] attribute, [MarshalAs(UnmanagedType.I1)] out bool value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_int64(EntityHandle e, byte[] attribute, out long value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_double(EntityHandle e, byte[] attribute, out double value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_datetime(EntityHandle e, byte[] attribute, out long value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_is_null(EntityHandle e, byte[] attribute, [MarshalAs(UnmanagedType.I1)] out bool value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_entity(EntityHandle e, byte[] attribute, out EntityHandle value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_get_list(EntityHandle e, byte[] attribute, out EntityListHandle value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_string(EntityHandle e, byte[] attribute, byte[] value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_bool(EntityHandle e, byte[] attribute, [MarshalAs(UnmanagedType.I1)] bool value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_int64(EntityHandle e, byte[] attribute, long value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_double(EntityHandle e, byte[] attribute, double value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_datetime(EntityHandle e, byte[] attribute, long microsecondsUtc);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_null(EntityHandle e, byte[] attribute);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_entity(EntityHandle e, byte[] attribute, EntityHandle value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_set_json(EntityHandle e, byte[] attribute, byte[] json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_collection_append(EntityHandle owner, byte[] attribute, EntityHandle item);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_entity_collection_remove(EntityHandle owner, byte[] attribute, EntityHandle item);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_security_roles(SessionHandle s, byte[] roleType, out EntityListHandle list);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_security_role_find(SessionHandle s, byte[] name, out EntityHandle role);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_find(SessionHandle s, byte[] username, out EntityHandle user);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_project_find(SessionHandle s, byte[] name, out EntityHandle project);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_security_roles(SessionHandle s, EntityHandle user, out EntityListHandle list);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_role_append(SessionHandle s, EntityHandle user, EntityHandle role, [MarshalAs(UnmanagedType.I1)] bool allOpenProjects);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_role_remove(SessionHandle s, EntityHandle user, EntityHandle role);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_role_replace(SessionHandle s, EntityHandle user, EntityHandle oldRole, EntityHandle newRole);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_role_grant_project(SessionHandle s, EntityHandle user, EntityHandle role, EntityHandle project);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_user_role_revoke_project(SessionHandle s, EntityHandle user, EntityHandle role, EntityHandle project);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_security_role_audit_json(SessionHandle s, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_users(SessionHandle s, byte[] criteria, out EntityListHandle list);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr ftrack_string_data(StringHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern UIntPtr ftrack_string_len(StringHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_string_destroy(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_pending_json_string(SessionHandle s, out StringHandle str);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_security_role_audit_json_string(SessionHandle s, out StringHandle str);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_call_string(SessionHandle s, byte[] batchJson, out StringHandle str);

        /// <summary>A NUL-terminated UTF-8 string from the library (valid during a callback).</summary>
        public static string FromUtf8(IntPtr text)
        {
            if (text == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(text, n) != 0) n++;
            var bytes = new byte[n];
            Marshal.Copy(text, bytes, 0, n);
            return System.Text.Encoding.UTF8.GetString(bytes);
        }

        /// <summary>The text of a library-owned string, then frees it.</summary>
        public static string Take(StringHandle h)
        {
            using (h)
            {
                int n = checked((int)(ulong)ftrack_string_len(h));
                var bytes = new byte[n];
                if (n > 0) Marshal.Copy(ftrack_string_data(h), bytes, 0, n);
                return System.Text.Encoding.UTF8.GetString(bytes);
            }
        }

        // the ftrack_api-shaped surface (issue 8)
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_get(SessionHandle s, byte[] type, byte[] id, out EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_ensure(SessionHandle s, byte[] type, byte[] dataJson, byte[] identifyingKeysJson, out EntityHandle entity);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_populate(SessionHandle s, IntPtr[] entities, UIntPtr count, byte[] projections);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_reset(SessionHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_set_auto_populate(SessionHandle s, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_get_auto_populate(SessionHandle s, [MarshalAs(UnmanagedType.I1)] out bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_set_record_operations(SessionHandle s, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_get_record_operations(SessionHandle s, [MarshalAs(UnmanagedType.I1)] out bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_recorded_operations_json(SessionHandle s, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_entity_schema_json(SessionHandle s, byte[] type, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_entity_types_json(SessionHandle s, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_security_roles_all_open_projects(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_query_cursor(SessionHandle s, byte[] expression, UIntPtr pageSize, out QueryCursorHandle cursor);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_query_cursor_next_page(QueryCursorHandle c, out EntityListHandle list);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_query_cursor_destroy(IntPtr cursor);

        /// <summary>NUL-terminated UTF-8 bytes of a string (null stays null).</summary>
        public static byte[] Utf8(string value)
        {
            if (value == null) return null;
            int n = Encoding.UTF8.GetByteCount(value);
            var bytes = new byte[n + 1];
            Encoding.UTF8.GetBytes(value, 0, value.Length, bytes, 0);
            return bytes;
        }

        public static string StatusName(Status status) => Marshal.PtrToStringAnsi(ftrack_status_name((uint)status));

        public delegate Status Fill(byte[] buffer, UIntPtr len, out UIntPtr outLen);

        /// <summary>Runs a buffer-pattern call, growing the buffer once.</summary>
        public static Status Read(Fill fill, out string text)
        {
            var buffer = new byte[256];
            Status status = fill(buffer, (UIntPtr)buffer.Length, out UIntPtr needed);
            if (status == Status.BufferTooSmall)
            {
                buffer = new byte[(int)needed];
                status = fill(buffer, (UIntPtr)buffer.Length, out needed);
            }
            int length = (int)needed > 0 ? (int)needed - 1 : 0;
            text = status == Status.Ok ? Encoding.UTF8.GetString(buffer, 0, length) : "";
            return status;
        }

        public static string LastErrorMessage()
        {
            Read(ftrack_last_error_message, out string text);
            return text;
        }

        public static void Check(Status status)
        {
            if (status != Status.Ok) throw new FtrackException(status, LastErrorMessage());
        }

        public static string Text(Fill fill)
        {
            Check(Read(fill, out string text));
            return text;
        }
    }

    /// <summary>One entity of a session's cache (disposing frees the handle, not the server entity).</summary>
    public sealed class Entity : IDisposable
    {
        public EntityHandle Handle { get; }
        internal Entity(EntityHandle handle) { Handle = handle; }
        public void Dispose() => Handle.Dispose();

        /// <summary>A second handle to the same entity (ftrack_entity_clone); dispose both.</summary>
        public Entity Clone() { Native.Check(Native.ftrack_entity_clone(Handle, out EntityHandle h)); return new Entity(h); }

        public string TypeName => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_entity_type_name(Handle, b, n, out o));
        public string Id => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_entity_id(Handle, b, n, out o));

        public string GetString(string attribute)
        {
            var a = Native.Utf8(attribute);
            return Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_entity_get_string(Handle, a, b, n, out o));
        }
        /// <summary>Any attribute as wire JSON text.</summary>
        public string GetJson(string attribute)
        {
            var a = Native.Utf8(attribute);
            return Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_entity_get_json(Handle, a, b, n, out o));
        }
        public bool GetBool(string attribute) { Native.Check(Native.ftrack_entity_get_bool(Handle, Native.Utf8(attribute), out bool v)); return v; }
        public long GetInt64(string attribute) { Native.Check(Native.ftrack_entity_get_int64(Handle, Native.Utf8(attribute), out long v)); return v; }
        public double GetDouble(string attribute) { Native.Check(Native.ftrack_entity_get_double(Handle, Native.Utf8(attribute), out double v)); return v; }
        /// <summary>Microseconds since the Unix epoch, UTC.</summary>
        public long GetDateTimeMicroseconds(string attribute) { Native.Check(Native.ftrack_entity_get_datetime(Handle, Native.Utf8(attribute), out long v)); return v; }
        public DateTime GetDateTime(string attribute) => new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(GetDateTimeMicroseconds(attribute) * 10);
        public bool IsNull(string attribute) { Native.Check(Native.ftrack_entity_is_null(Handle, Native.Utf8(attribute), out bool v)); return v; }
        /// <summary>The referenced entity, or null for a null reference.</summary>
        public Entity GetEntity(string attribute)
        {
            Native.Check(Native.ftrack_entity_get_entity(Handle, Native.Utf8(attribute), out EntityHandle h));
            if (h.IsInvalid) { h.Dispose(); return null; }
            return new Entity(h);
        }
        public EntityList GetList(string attribute)
        {
            Native.Check(Native.ftrack_entity_get_list(Handle, Native.Utf8(attribute), out EntityListHandle h));
            return new EntityList(h);
        }

        public void SetString(string attribute, string value) => Native.Check(Native.ftrack_entity_set_string(Handle, Native.Utf8(attribute), Native.Utf8(value)));
        public void SetBool(string attribute, bool value) => Native.Check(Native.ftrack_entity_set_bool(Handle, Native.Utf8(attribute), value));
        public void SetInt64(string attribute, long value) => Native.Check(Native.ftrack_entity_set_int64(Handle, Native.Utf8(attribute), value));
        public void SetDouble(string attribute, double value) => Native.Check(Native.ftrack_entity_set_double(Handle, Native.Utf8(attribute), value));
        public void SetDateTimeMicroseconds(string attribute, long value) => Native.Check(Native.ftrack_entity_set_datetime(Handle, Native.Utf8(attribute), value));
        public void SetNull(string attribute) => Native.Check(Native.ftrack_entity_set_null(Handle, Native.Utf8(attribute)));
        public void SetEntity(string attribute, Entity value) => Native.Check(Native.ftrack_entity_set_entity(Handle, Native.Utf8(attribute), value.Handle));
        public void SetJson(string attribute, string json) => Native.Check(Native.ftrack_entity_set_json(Handle, Native.Utf8(attribute), Native.Utf8(json)));
        public void Append(string attribute, Entity item) => Native.Check(Native.ftrack_entity_collection_append(Handle, Native.Utf8(attribute), item.Handle));
        public void Remove(string attribute, Entity item) => Native.Check(Native.ftrack_entity_collection_remove(Handle, Native.Utf8(attribute), item.Handle));
    }

    /// <summary>An immutable list of entities; each access returns a new Entity to dispose.</summary>
    public sealed class EntityList : IDisposable, IEnumerable<Entity>
    {
        public EntityListHandle Handle { get; }
        internal EntityList(EntityListHandle handle) { Handle = handle; }
        public void Dispose() => Handle.Dispose();

        public int Count => (int)Native.ftrack_entity_list_len(Handle);
        public Entity this[int index]
        {
            get
            {
                if (index < 0) throw new ArgumentOutOfRangeException(nameof(index));
                Native.Check(Native.ftrack_entity_list_get(Handle, (UIntPtr)index, out EntityHandle h));
                return new Entity(h);
            }
        }
        public IEnumerator<Entity> GetEnumerator() { for (int i = 0; i < Count; i++) yield return this[i]; }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Session options; setters return this for chaining.</summary>
    public sealed class SessionOptions : IDisposable
    {
        public OptionsHandle Handle { get; }
        public SessionOptions() { Native.Check(Native.ftrack_session_options_create(out OptionsHandle h)); Handle = h; }
        public void Dispose() => Handle.Dispose();

        SessionOptions Do(Status s) { Native.Check(s); return this; }
        public SessionOptions ServerUrl(string v) => Do(Native.ftrack_session_options_set_server_url(Handle, Native.Utf8(v)));
        public SessionOptions ApiKey(string v) => Do(Native.ftrack_session_options_set_api_key(Handle, Native.Utf8(v)));
        public SessionOptions ApiUser(string v) => Do(Native.ftrack_session_options_set_api_user(Handle, Native.Utf8(v)));
        public SessionOptions TimeoutMs(ulong v) => Do(Native.ftrack_session_options_set_timeout_ms(Handle, v));
        public SessionOptions ConnectTimeoutMs(ulong v) => Do(Native.ftrack_session_options_set_connect_timeout_ms(Handle, v));
        public SessionOptions RequestDeadlineMs(ulong v) => Do(Native.ftrack_session_options_set_request_deadline_ms(Handle, v));
        public SessionOptions MaxReplyBytes(ulong v) => Do(Native.ftrack_session_options_set_max_reply_bytes(Handle, v));
        public SessionOptions AllowInsecureHttp(bool v) => Do(Native.ftrack_session_options_set_allow_insecure_http(Handle, v));
        public SessionOptions Header(string name, string value) => Do(Native.ftrack_session_options_add_header(Handle, Native.Utf8(name), Native.Utf8(value)));
        public SessionOptions Cookie(string name, string value) => Do(Native.ftrack_session_options_add_cookie(Handle, Native.Utf8(name), Native.Utf8(value)));
        public SessionOptions StrictApi(bool v) => Do(Native.ftrack_session_options_set_strict_api(Handle, v));
        public SessionOptions AutoPopulate(bool v) => Do(Native.ftrack_session_options_set_auto_populate(Handle, v));
        public SessionOptions IdempotentRoleChanges(bool v) => Do(Native.ftrack_session_options_set_idempotent_role_changes(Handle, v));
        public SessionOptions RecordOperations(bool v) => Do(Native.ftrack_session_options_set_record_operations(Handle, v));
        public SessionOptions SchemaCachePath(string v) => Do(Native.ftrack_session_options_set_schema_cache_path(Handle, Native.Utf8(v)));
        public SessionOptions DisableSchemaCache() => Do(Native.ftrack_session_options_disable_schema_cache(Handle));
        public SessionOptions PageSize(ulong v) => Do(Native.ftrack_session_options_set_page_size(Handle, (UIntPtr)v));
        public SessionOptions MaxConcurrentPages(ulong v) => Do(Native.ftrack_session_options_set_max_concurrent_pages(Handle, (UIntPtr)v));
        public SessionOptions MaxAttempts(uint v) => Do(Native.ftrack_session_options_set_max_attempts(Handle, v));
        public SessionOptions RetryDelayMs(ulong v) => Do(Native.ftrack_session_options_set_retry_delay_ms(Handle, v));
        public SessionOptions CaBundlePath(string v) => Do(Native.ftrack_session_options_set_ca_bundle_path(Handle, Native.Utf8(v)));
        public SessionOptions PersistentCachePath(string v) => Do(Native.ftrack_session_options_set_persistent_cache_path(Handle, Native.Utf8(v)));
        /// <summary>Scope of roles appended through User.security_roles (default false: no project).</summary>
        public SessionOptions SecurityRolesAllOpenProjects(bool v) => Do(Native.ftrack_session_options_set_security_roles_all_open_projects(Handle, v));
    }

    /// <summary>A lazy query result: one request per page, nothing sent before the first.</summary>
    public sealed class QueryCursor : IDisposable
    {
        public QueryCursorHandle Handle { get; }
        internal QueryCursor(QueryCursorHandle handle) { Handle = handle; }
        public void Dispose() => Handle.Dispose();
        /// <summary>The next page, or null when every page has been read.</summary>
        public EntityList NextPage()
        {
            Native.Check(Native.ftrack_query_cursor_next_page(Handle, out EntityListHandle h));
            if (h.IsInvalid) { h.Dispose(); return null; }
            return new EntityList(h);
        }
    }

    /// <summary>A connection to an ftrack server.</summary>
    public sealed class Session : IDisposable
    {
        public SessionHandle Handle { get; }

        /// <summary>Connects; null arguments are read from FTRACK_SERVER / FTRACK_API_KEY / FTRACK_API_USER.</summary>
        public Session(string serverUrl, string apiKey, string apiUser)
        {
            Native.Check(Native.ftrack_session_create(Native.Utf8(serverUrl), Native.Utf8(apiKey), Native.Utf8(apiUser), out SessionHandle h));
            Handle = h;
        }
        public Session(SessionOptions options)
        {
            Native.Check(Native.ftrack_session_create_with_options(options.Handle, out SessionHandle h));
            Handle = h;
        }
        public static Session FromEnvironment() => new Session((string)null, null, null);
        /// <summary>Destroys the session and frees the event handlers subscribed on it. Once it
        /// returned, none of the session's callbacks (event and reply handlers, logger, progress) is
        /// running on another thread or called again, even while entities of the session live on.</summary>
        public void Dispose()
        {
            if (Handle.IsClosed) return;
            // Forgotten first: once destroyed, the address may be reused by a new session. A
            // handler running meanwhile finishes (the delegate is alive while it runs); the
            // library waits for it before destroying.
            EventHub.Forget(Handle.DangerousGetHandle());
            Handle.Dispose();
            // The library calls no hook of a destroyed session.
            lock (HookLock) { Loggers.Remove(hookKey); Progresses.Remove(hookKey); }
        }

        public EntityList Query(string expression)
        {
            Native.Check(Native.ftrack_session_query(Handle, Native.Utf8(expression), out EntityListHandle h));
            return new EntityList(h);
        }
        /// <summary>The first match, or null.</summary>
        public Entity QueryFirst(string expression)
        {
            Status s = Native.ftrack_session_query_first(Handle, Native.Utf8(expression), out EntityHandle h);
            if (s == Status.NotFound) { h.Dispose(); return null; }
            Native.Check(s);
            return new Entity(h);
        }
        public Entity QueryOne(string expression)
        {
            Native.Check(Native.ftrack_session_query_one(Handle, Native.Utf8(expression), out EntityHandle h));
            return new Entity(h);
        }
        public Entity Create(string entityType, string dataJson = "{}")
        {
            Native.Check(Native.ftrack_session_create_entity(Handle, Native.Utf8(entityType), Native.Utf8(dataJson), out EntityHandle h));
            return new Entity(h);
        }
        public void Delete(Entity entity) => Native.Check(Native.ftrack_session_delete_entity(Handle, entity.Handle));
        public void Commit() => Native.Check(Native.ftrack_session_commit(Handle));
        /// <summary>Makes this session's in-flight call (on any thread) return Status.Cancelled.</summary>
        public void Cancel() => Native.Check(Native.ftrack_session_cancel(Handle));

        // The library is given one static delegate per kind of hook, alive for the
        // whole process (what IL2CPP and other AOT runtimes can marshal, and never
        // collected), with this session's key as user_data; the host's delegate is
        // looked up by that key.
        private static readonly LogCallback LogTrampoline = LogInvoke;
        private static readonly ProgressCallback ProgressTrampoline = ProgressInvoke;
        private static readonly object HookLock = new object();
        private static readonly Dictionary<long, Action<LogLevel, string>> Loggers = new Dictionary<long, Action<LogLevel, string>>();
        private static readonly Dictionary<long, Func<string, ulong, long?, bool>> Progresses = new Dictionary<long, Func<string, ulong, long?, bool>>();
        private static long lastHookKey;
        private readonly long hookKey = System.Threading.Interlocked.Increment(ref lastHookKey);

        [AOT.MonoPInvokeCallback(typeof(LogCallback))]
        private static void LogInvoke(IntPtr userData, LogLevel level, IntPtr message)
        {
            Action<LogLevel, string> log;
            lock (HookLock)
                if (!Loggers.TryGetValue(userData.ToInt64(), out log)) return;
            try { log(level, Native.FromUtf8(message)); } catch (Exception) { }
        }

        [AOT.MonoPInvokeCallback(typeof(ProgressCallback))]
        private static int ProgressInvoke(IntPtr userData, IntPtr operation, ulong done, long total)
        {
            Func<string, ulong, long?, bool> report;
            lock (HookLock)
                if (!Progresses.TryGetValue(userData.ToInt64(), out report)) return 0;
            try { return report(Native.FromUtf8(operation), done, total < 0 ? (long?)null : total) ? 0 : 1; }
            catch (Exception) { return 0; }
        }

        /// <summary>Sends log lines of <paramref name="level"/> and more severe to <paramref name="log"/> (null stops logging). Lines never hold the API key; the callback runs on the thread of the call that logs (for the pages a paged query requests ahead, on the library threads that fetch them), before that call returns. An exception it throws is dropped.</summary>
        public void SetLogger(LogLevel level, Action<LogLevel, string> log)
        {
            lock (HookLock)
                if (log != null) Loggers[hookKey] = log;
            Native.Check(Native.ftrack_session_set_logger(Handle, level, log != null ? LogTrampoline : null, new IntPtr(hookKey)));
            // Once set_logger returned, the library no longer calls the old logger.
            if (log == null)
                lock (HookLock) Loggers.Remove(hookKey);
        }

        /// <summary>Reports progress of long operations as (operation, done, total or null); returning false cancels the operation (it then fails with Status.Cancelled). Null stops reporting. An exception it throws counts as true.</summary>
        public void SetProgress(Func<string, ulong, long?, bool> report)
        {
            lock (HookLock)
                if (report != null) Progresses[hookKey] = report;
            Native.Check(Native.ftrack_session_set_progress(Handle, report != null ? ProgressTrampoline : null, new IntPtr(hookKey)));
            if (report == null)
                lock (HookLock) Progresses.Remove(hookKey);
        }
        public void Rollback() => Native.Check(Native.ftrack_session_rollback(Handle));
        public int PendingCount { get { Native.Check(Native.ftrack_session_pending_count(Handle, out UIntPtr n)); return (int)n; } }
        /// <summary>The batch Commit() would send, as JSON (a dry run).</summary>
        public string PendingJson()
        {
            Native.Check(Native.ftrack_session_pending_json_string(Handle, out StringHandle h));
            return Native.Take(h);
        }
        /// <summary>Sends a raw batch once and returns the whole JSON answer.</summary>
        public string Call(string batchJson)
        {
            Native.Check(Native.ftrack_session_call_string(Handle, Native.Utf8(batchJson), out StringHandle h));
            return Native.Take(h);
        }

        // ---- the ftrack_api-shaped surface (issue 8) ----

        /// <summary>The entity with this id (cache first), or null.</summary>
        public Entity Get(string entityType, string id)
        {
            Status s = Native.ftrack_session_get(Handle, Native.Utf8(entityType), Native.Utf8(id), out EntityHandle h);
            if (s == Status.NotFound) { h.Dispose(); return null; }
            Native.Check(s);
            return new Entity(h);
        }
        /// <summary>Gets or creates (and commits) by identifying keys (a JSON array; null = all keys).</summary>
        public Entity Ensure(string entityType, string dataJson, string identifyingKeysJson = null)
        {
            Native.Check(Native.ftrack_session_ensure(Handle, Native.Utf8(entityType), Native.Utf8(dataJson), Native.Utf8(identifyingKeysJson), out EntityHandle h));
            return new Entity(h);
        }
        /// <summary>Loads projections for the entities, one query per type.</summary>
        public void Populate(IList<Entity> entities, string projections)
        {
            var raws = new IntPtr[entities.Count];
            var added = new bool[entities.Count];
            try
            {
                for (int i = 0; i < raws.Length; i++)
                {
                    entities[i].Handle.DangerousAddRef(ref added[i]);
                    raws[i] = entities[i].Handle.DangerousGetHandle();
                }
                Native.Check(Native.ftrack_session_populate(Handle, raws, (UIntPtr)raws.Length, Native.Utf8(projections)));
            }
            finally
            {
                for (int i = 0; i < raws.Length; i++) if (added[i]) entities[i].Handle.DangerousRelease();
            }
        }
        /// <summary>Clears the cache and the pending operations.</summary>
        public void Reset() => Native.Check(Native.ftrack_session_reset(Handle));
        /// <summary>A lazy result; pageSize 0 uses the session's page size.</summary>
        public QueryCursor QueryCursor(string expression, ulong pageSize = 0)
        {
            Native.Check(Native.ftrack_session_query_cursor(Handle, Native.Utf8(expression), (UIntPtr)pageSize, out QueryCursorHandle h));
            return new QueryCursor(h);
        }
        public bool AutoPopulate
        {
            get { Native.Check(Native.ftrack_session_get_auto_populate(Handle, out bool v)); return v; }
            set => Native.Check(Native.ftrack_session_set_auto_populate(Handle, value));
        }
        public bool RecordOperations
        {
            get { Native.Check(Native.ftrack_session_get_record_operations(Handle, out bool v)); return v; }
            set => Native.Check(Native.ftrack_session_set_record_operations(Handle, value));
        }
        /// <summary>The recorded operations as JSON (see ftrack_session_recorded_operations_json).</summary>
        public string RecordedOperationsJson() => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_session_recorded_operations_json(Handle, b, n, out o));
        /// <summary>The schema of one type as JSON, derived collections marked.</summary>
        public string EntitySchemaJson(string entityType)
        {
            var t = Native.Utf8(entityType);
            return Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_session_entity_schema_json(Handle, t, b, n, out o));
        }
        /// <summary>The entity type names as a JSON array.</summary>
        public string EntityTypesJson() => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => Native.ftrack_session_entity_types_json(Handle, b, n, out o));

        // ---- security roles (issue 4); changes are recorded and sent by Commit() ----

        /// <summary>Security roles, optionally of one type ("PROJECT", "ASSIGNED", "API").</summary>
        public EntityList SecurityRoles(string roleType = null)
        {
            Native.Check(Native.ftrack_security_roles(Handle, Native.Utf8(roleType), out EntityListHandle h));
            return new EntityList(h);
        }
        public Entity FindSecurityRole(string name) { Native.Check(Native.ftrack_security_role_find(Handle, Native.Utf8(name), out EntityHandle h)); return new Entity(h); }
        public Entity FindUser(string username) { Native.Check(Native.ftrack_user_find(Handle, Native.Utf8(username), out EntityHandle h)); return new Entity(h); }
        public Entity FindProject(string name) { Native.Check(Native.ftrack_project_find(Handle, Native.Utf8(name), out EntityHandle h)); return new Entity(h); }
        /// <summary>The user's UserSecurityRole entities with role and granted projects loaded.</summary>
        public EntityList UserSecurityRoles(Entity user)
        {
            Native.Check(Native.ftrack_user_security_roles(Handle, user.Handle, out EntityListHandle h));
            return new EntityList(h);
        }
        public void RoleAppend(Entity user, Entity role, bool allOpenProjects) => Native.Check(Native.ftrack_user_role_append(Handle, user.Handle, role.Handle, allOpenProjects));
        public void RoleRemove(Entity user, Entity role) => Native.Check(Native.ftrack_user_role_remove(Handle, user.Handle, role.Handle));
        public void RoleReplace(Entity user, Entity oldRole, Entity newRole) => Native.Check(Native.ftrack_user_role_replace(Handle, user.Handle, oldRole.Handle, newRole.Handle));
        public void GrantProject(Entity user, Entity role, Entity project) => Native.Check(Native.ftrack_user_role_grant_project(Handle, user.Handle, role.Handle, project.Handle));
        public void RevokeProject(Entity user, Entity role, Entity project) => Native.Check(Native.ftrack_user_role_revoke_project(Handle, user.Handle, role.Handle, project.Handle));
        /// <summary>Users matching a query condition (null: all) with their roles loaded in one paged query, so role changes to them validate without a request each.</summary>
        public EntityList Users(string criteria = null)
        {
            Native.Check(Native.ftrack_users(Handle, Native.Utf8(criteria), out EntityListHandle h));
            return new EntityList(h);
        }
        /// <summary>Every user x role x scope as a JSON array (see ftrack_security_role_audit_json), read once.</summary>
        public string SecurityRoleAuditJson()
        {
            Native.Check(Native.ftrack_security_role_audit_json_string(Handle, out StringHandle h));
            return Native.Take(h);
        }
    }

    public static class Library
    {
        public static string Version => Marshal.PtrToStringAnsi(Native.ftrack_version_string());
        public static uint VersionNumber => Native.ftrack_version_number();
    }

    // ---- event hub and plugins (see ftrack_event_hub_* in ftrack.h) ----

    /// <summary>The event a handler receives (valid only during the call), or an owned reply.</summary>
    public sealed class FtrackEvent : IDisposable
    {
        private IntPtr raw;
        private readonly bool owned;
        internal FtrackEvent(IntPtr raw, bool owned) { this.raw = raw; this.owned = owned; }
        public string Topic => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_topic(raw, b, n, out o));
        public string Id => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_id(raw, b, n, out o));
        public string DataJson => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_data_json(raw, b, n, out o));
        public string SourceJson => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_source_json(raw, b, n, out o));
        /// <summary>The whole event as a JSON object in its wire form (id, topic, data, source, target, inReplyToEvent, sent): what subscriptions match (EventHub.ExpressionMatches) and what EventHub.PublishEvent takes back.</summary>
        public string Json => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_json(raw, b, n, out o));
        /// <summary>One value of the data by JSON pointer, e.g. "/entities/0/entityId" (strings unquoted, others as JSON); Status.NotFound when absent.</summary>
        public string DataGet(string pointer) => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_data_get(raw, Native.Utf8(pointer), b, n, out o));
        /// <summary>In a handler: the reply (JSON) sent back to the publisher.</summary>
        public void SetReply(string json) => Native.Check(EventNative.ftrack_event_set_reply(raw, Native.Utf8(json)));
        public void Dispose()
        {
            if (owned && raw != IntPtr.Zero) EventNative.ftrack_event_destroy(raw);
            raw = IntPtr.Zero;
        }
    }

    public static class EventNative
    {
        private const string Lib = "ftrack";
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int Callback(IntPtr userData, IntPtr evt);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_auto_connect_event_hub(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool on);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_event_dispatch_thread(OptionsHandle o, [MarshalAs(UnmanagedType.I1)] bool on);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_add_plugin_path(OptionsHandle o, byte[] path);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_session_options_set_plugin_arguments(OptionsHandle o, byte[] json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_connect(SessionHandle s, ulong timeoutMs);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_disconnect(SessionHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_is_connected(SessionHandle s, [MarshalAs(UnmanagedType.I1)] out bool connected);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_subscribe(SessionHandle s, byte[] subscription, byte[] subscriberJson, int priority, Callback callback, IntPtr userData, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_unsubscribe(SessionHandle s, byte[] subscriberId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_publish(SessionHandle s, byte[] topic, byte[] dataJson, byte[] target);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_publish_and_wait(SessionHandle s, byte[] topic, byte[] dataJson, byte[] target, ulong timeoutMs, out IntPtr reply);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_dispatch(SessionHandle s, ulong timeoutMs, out UIntPtr handled);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_publish_event(SessionHandle s, byte[] eventJson, Callback onReply, IntPtr userData, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_hub_id(SessionHandle s, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_json(IntPtr e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_expression_matches(byte[] expression, byte[] json, [MarshalAs(UnmanagedType.I1)] out bool matches);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_topic(IntPtr e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_id(IntPtr e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_data_json(IntPtr e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_source_json(IntPtr e, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_data_get(IntPtr e, byte[] pointer, byte[] buffer, UIntPtr len, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern Status ftrack_event_set_reply(IntPtr e, byte[] json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void ftrack_event_destroy(IntPtr e);
    }

    /// <summary>
    /// The session's event hub. Handlers run on the thread that calls Dispatch
    /// (or the library's dispatch thread when the options asked for it); a
    /// handler returns 0 when it handled the event and must not throw (an
    /// exception is reported as a failure and logged). A handler may call
    /// Unsubscribe, its own included. Reply handlers of PublishEvent follow the
    /// same rules. Handlers are kept until unsubscribed or until their Session
    /// is disposed (a reply handler: until the Session is disposed, or 10000
    /// newer ones replaced it, as the library keeps them); once Unsubscribe or
    /// Dispose returned, the handlers they removed are not running on another
    /// thread and are never called again (the library guarantees it).
    /// </summary>
    public sealed class EventHub
    {
        private readonly Session session;
        public EventHub(Session session) { this.session = session; }

        // The library is given one delegate, a static method alive for the whole
        // process (never collected; also what AOT runtimes can marshal), and a key
        // per subscriber as user_data. Handlers are looked up by key, so the
        // garbage collector can never free a callback the library still holds,
        // and a handler unsubscribed meanwhile is skipped.
        private static readonly EventNative.Callback Trampoline = Invoke;
        private static readonly object Lock = new object();
        private static readonly Dictionary<long, Func<FtrackEvent, int>> ByKey = new Dictionary<long, Func<FtrackEvent, int>>();
        // "<session handle>/<subscriber id>" -> key: ids are unique per session only.
        private static readonly Dictionary<string, long> ById = new Dictionary<string, long>();
        // Each session's reply handler keys, oldest first (at most MaxReplyHandlers).
        private static readonly Dictionary<long, Queue<long>> Replies = new Dictionary<long, Queue<long>>();
        private static long lastKey;

        /// <summary>Reply handlers kept per session, as the library keeps the callbacks of the latest 10000 events; past it the oldest is forgotten (its later replies are not handled).</summary>
        public const int MaxReplyHandlers = 10000;

        [AOT.MonoPInvokeCallback(typeof(EventNative.Callback))]
        private static int Invoke(IntPtr userData, IntPtr e)
        {
            Func<FtrackEvent, int> handler;
            lock (Lock)
                if (!ByKey.TryGetValue(userData.ToInt64(), out handler)) return 0;
            try { return handler(new FtrackEvent(e, false)); } catch (Exception) { return -1; }
        }

        private static string IdKey(IntPtr session, string id) => session.ToInt64().ToString() + "/" + id;

        /// <summary>Frees the handlers of a session about to be destroyed (Session.Dispose, before
        /// the handle: once destroyed, its address may be reused by a new session).</summary>
        internal static void Forget(IntPtr session)
        {
            string prefix = IdKey(session, "");
            lock (Lock)
            {
                var gone = new List<string>();
                foreach (var entry in ById)
                    if (entry.Key.StartsWith(prefix, StringComparison.Ordinal)) { gone.Add(entry.Key); ByKey.Remove(entry.Value); }
                foreach (var k in gone) ById.Remove(k);
                if (Replies.TryGetValue(session.ToInt64(), out Queue<long> replies))
                {
                    foreach (long key in replies) ByKey.Remove(key);
                    Replies.Remove(session.ToInt64());
                }
            }
        }

        public static void SetAutoConnect(SessionOptions o, bool on) => Native.Check(EventNative.ftrack_session_options_set_auto_connect_event_hub(o.Handle, on));
        public static void SetDispatchThread(SessionOptions o, bool on) => Native.Check(EventNative.ftrack_session_options_set_event_dispatch_thread(o.Handle, on));
        public static void AddPluginPath(SessionOptions o, string path) => Native.Check(EventNative.ftrack_session_options_add_plugin_path(o.Handle, Native.Utf8(path)));
        public static void SetPluginArguments(SessionOptions o, string json) => Native.Check(EventNative.ftrack_session_options_set_plugin_arguments(o.Handle, Native.Utf8(json)));
        public void Connect(ulong timeoutMs) => Native.Check(EventNative.ftrack_event_hub_connect(session.Handle, timeoutMs));
        public void Disconnect() => Native.Check(EventNative.ftrack_event_hub_disconnect(session.Handle));
        /// <summary>The hub's id: the source.id of the events it publishes, which replies target ("id=&lt;hub id&gt;"). Stable for the session's life.</summary>
        public string Id => Native.Text((byte[] b, UIntPtr n, out UIntPtr o) => EventNative.ftrack_event_hub_id(session.Handle, b, n, out o));
        /// <summary>Whether a subscription expression (the language of Subscribe) matches a JSON value: an event as FtrackEvent.Json gives it, or subscriber metadata for a target. Status.InvalidArgument for a bad expression (the message says where) or JSON.</summary>
        public static bool ExpressionMatches(string expression, string json)
        {
            Native.Check(EventNative.ftrack_event_expression_matches(Native.Utf8(expression), Native.Utf8(json), out bool matches));
            return matches;
        }
        public bool IsConnected { get { Native.Check(EventNative.ftrack_event_hub_is_connected(session.Handle, out bool c)); return c; } }
        /// <summary>Subscribes; returns the subscriber id. <paramref name="subscriberJson"/> is subscriber metadata (a JSON object; its "id" is used when present, else one is generated).</summary>
        public string Subscribe(string subscription, Func<FtrackEvent, int> handler, string subscriberJson = null, int priority = 100)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            long key;
            lock (Lock) { key = ++lastKey; ByKey[key] = handler; }
            byte[] metadata = Native.Utf8(subscriberJson);
            // One call: the library subscribes even when the id does not fit, so the
            // buffer holds any id: a generated one (32 characters) or the metadata's
            // "id", never longer than the JSON text holding it.
            var buffer = new byte[Math.Max(256, metadata == null ? 0 : metadata.Length)];
            Status status = EventNative.ftrack_event_hub_subscribe(session.Handle, Native.Utf8(subscription), metadata, priority,
                Trampoline, new IntPtr(key), buffer, (UIntPtr)buffer.Length, out UIntPtr needed);
            if (status != Status.Ok)
            {
                var failure = new FtrackException(status, Native.LastErrorMessage());
                if (status != Status.BufferTooSmall) lock (Lock) ByKey.Remove(key); // else subscribed: keep it
                throw failure;
            }
            string id = Encoding.UTF8.GetString(buffer, 0, Math.Max((int)needed - 1, 0));
            lock (Lock) ById[IdKey(session.Handle.DangerousGetHandle(), id)] = key;
            return id;
        }
        /// <summary>Removes a subscriber (Status.NotFound when none has that id).</summary>
        public void Unsubscribe(string subscriberId)
        {
            Native.Check(EventNative.ftrack_event_hub_unsubscribe(session.Handle, Native.Utf8(subscriberId)));
            string k = IdKey(session.Handle.DangerousGetHandle(), subscriberId);
            lock (Lock)
                if (ById.TryGetValue(k, out long key)) { ById.Remove(k); ByKey.Remove(key); }
        }
        public void Publish(string topic, string dataJson = "{}", string target = null) => Native.Check(EventNative.ftrack_event_hub_publish(session.Handle, Native.Utf8(topic), Native.Utf8(dataJson), Native.Utf8(target)));
        /// <summary>Publishes and waits up to <paramref name="timeoutMs"/> for the first reply (Status.Timeout when none came); dispose the reply.</summary>
        public FtrackEvent PublishAndWait(string topic, string dataJson, ulong timeoutMs, string target = null)
        {
            Native.Check(EventNative.ftrack_event_hub_publish_and_wait(session.Handle, Native.Utf8(topic), Native.Utf8(dataJson), Native.Utf8(target), timeoutMs, out IntPtr reply));
            return new FtrackEvent(reply, true);
        }
        /// <summary>
        /// Publishes an event given as one JSON object ("topic" required; "id", "data", "target", "source",
        /// "in_reply_to_event" kept when given: see ftrack_event_hub_publish_event) and returns its id.
        /// <paramref name="onReply"/>, when given, runs for every reply to it where handlers run (Dispatch, or
        /// the dispatch thread), as often as replies come; a non-zero return is logged. It is kept until the
        /// Session is disposed, or until 10000 newer events were published with one on the session.
        /// </summary>
        public string PublishEvent(string eventJson, Func<FtrackEvent, int> onReply = null)
        {
            long key = 0;
            if (onReply != null) lock (Lock) { key = ++lastKey; ByKey[key] = onReply; }
            byte[] text = Native.Utf8(eventJson);
            // One call: the library publishes even when the id does not fit, so the buffer
            // holds any id: a generated one (32 characters) or the event's "id", never longer
            // than the JSON text holding it.
            var buffer = new byte[Math.Max(256, text == null ? 0 : text.Length)];
            Status status = EventNative.ftrack_event_hub_publish_event(session.Handle, text, onReply == null ? null : Trampoline,
                new IntPtr(key), buffer, (UIntPtr)buffer.Length, out UIntPtr needed);
            var failure = status == Status.Ok ? null : new FtrackException(status, Native.LastErrorMessage());
            if (onReply != null)
                lock (Lock)
                {
                    if (status != Status.Ok && status != Status.BufferTooSmall) ByKey.Remove(key); // not published
                    else
                    {
                        long s = session.Handle.DangerousGetHandle().ToInt64();
                        if (!Replies.TryGetValue(s, out Queue<long> kept)) Replies[s] = kept = new Queue<long>();
                        kept.Enqueue(key);
                        while (kept.Count > MaxReplyHandlers) ByKey.Remove(kept.Dequeue());
                    }
                }
            if (failure != null) throw failure;
            return Encoding.UTF8.GetString(buffer, 0, Math.Max((int)needed - 1, 0));
        }
        /// <summary>Runs handlers of arrived events on this thread; returns how many were handled.</summary>
        public ulong Dispatch(ulong timeoutMs) { Native.Check(EventNative.ftrack_event_hub_dispatch(session.Handle, timeoutMs, out UIntPtr n)); return n.ToUInt64(); }
    }
}

#if !UNITY_5_3_OR_NEWER
namespace AOT
{
    /// <summary>Marks a static method that native code calls back. IL2CPP (Unity) needs it on
    /// every such method and finds it by name; Unity defines it, other hosts get this one.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { Type = type; }
        public Type Type { get; }
    }
}
#endif
