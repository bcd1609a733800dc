// Test of Ftrack.cs against a server (FTRACK_SERVER / FTRACK_API_KEY /
// FTRACK_API_USER: the sandbox's demo studio). Compiled by mcs and run by mono
// from ffi/tests/bindings_csharp.rs.
using System;
using System.Diagnostics;
using Ftrack;

static class FtrackTest
{
    static int passed, failed;

    static void Expect(bool condition, string what)
    {
        if (condition) passed++;
        else { failed++; Console.Error.WriteLine("FAIL: " + what); }
    }

    static Status StatusOf(Action action)
    {
        try { action(); }
        catch (FtrackException e) { return e.Status; }
        return Status.Ok;
    }

    // Dispatches the hub's events on this thread until done() holds (15 s at most).
    static bool DispatchUntil(EventHub hub, Func<bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done() && clock.Elapsed < TimeSpan.FromSeconds(15)) hub.Dispatch(100);
        return done();
    }

    // The string value of "key":"..." in compact JSON text (null when absent).
    static string JsonString(string json, string key)
    {
        string start = "\"" + key + "\":\"";
        int at = json.IndexOf(start, StringComparison.Ordinal);
        if (at < 0) return null;
        at += start.Length;
        return json.Substring(at, json.IndexOf('"', at) - at);
    }

    // Handlers built here and referenced by nothing but the binding: a collection
    // between subscribing and dispatching must not free what the library calls.
    static string SubscribeUnrooted(EventHub hub, string subscription, int[] counter, string subscriberJson)
    {
        return hub.Subscribe(subscription, e => { counter[0]++; return e.Topic == "ftrack.update" ? 0 : 1; }, subscriberJson);
    }

    // The event hub: a commit by another session arrives as ftrack.update on this
    // thread's Dispatch; a reply set by another session's handler comes back to
    // PublishAndWait; an unsubscribed handler gets nothing more.
    static void Events()
    {
        using (var session = Session.FromEnvironment())
        using (var writer = Session.FromEnvironment())
        using (var options = new SessionOptions())
        {
            var hub = new EventHub(session);
            int updates = 0;
            string topic = null, entityId = null, newName = null, user = null;
            string watcher = hub.Subscribe("topic=ftrack.update", e =>
            {
                topic = e.Topic;
                entityId = e.DataGet("/entities/0/entityId");
                newName = e.DataGet("/entities/0/changes/fullname/new");
                user = e.DataGet("/user/name");
                updates++;
                return 0;
            }, "{\"id\": \"cs-test\", \"app\": \"csharp\"}");
            Expect(watcher == "cs-test", "subscriber id from the metadata");
            var sentinel = new int[1];
            string longId = new string('c', 300);
            Expect(SubscribeUnrooted(hub, "topic=ftrack.update", sentinel, "{\"id\": \"" + longId + "\"}") == longId, "a long subscriber id");
            string onceId = null;
            int onceCalls = 0;
            onceId = hub.Subscribe("topic=ftrack.update", e => { onceCalls++; hub.Unsubscribe(onceId); return 0; });
            Expect(StatusOf(() => hub.Subscribe("(topic=x", e => 0)) == Status.InvalidArgument, "bad subscription");
            hub.Connect(15000);
            Expect(hub.IsConnected, "connected");

            // The responder: the same subscriber id in another session, its
            // handlers on the library's dispatch thread.
            EventHub.SetDispatchThread(options, true);
            using (var responder = new Session(options))
            {
                var rhub = new EventHub(responder);
                Expect(rhub.Subscribe("topic=cs.ping", e =>
                {
                    e.SetReply("{\"pong\": " + e.DataGet("/n") + ", \"from\": \"csharp\"}");
                    return 0;
                }, "{\"id\": \"cs-test\"}") == "cs-test", "the same id in another session");
                rhub.Connect(15000);
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();

                using (var alpha = writer.FindProject("alpha"))
                {
                    alpha.SetString("full_name", "Alpha from C#");
                    writer.Commit();
                    Expect(DispatchUntil(hub, () => updates > 0 && sentinel[0] > 0), "the update arrives");
                    Expect(topic == "ftrack.update", "update topic");
                    Expect(entityId == alpha.Id, "update entity");
                    Expect(newName == "Alpha from C#", "update change");
                    Expect(user == "admin", "update user");
                    Expect(onceCalls == 1, "a handler that unsubscribed itself ran once");

                    string pong = null, replyTopic = null;
                    for (int i = 0; i < 15 && pong == null; i++)
                    {
                        try
                        {
                            using (var reply = hub.PublishAndWait("cs.ping", "{\"n\": 5}", 1000))
                            {
                                pong = reply.DataGet("/pong") + "/" + reply.DataGet("/from");
                                replyTopic = reply.Topic;
                            }
                        }
                        catch (FtrackException e) { Expect(e.Status == Status.Timeout, "no reply yet is a timeout"); }
                    }
                    Expect(pong == "5/csharp", "the reply set with SetReply");
                    Expect(replyTopic == "ftrack.meta.reply", "reply topic");

                    // PublishEvent with a reply handler: a second subscriber of the
                    // responder answers too, so each event gets two replies, handled
                    // here in Dispatch. The handlers are referenced by the binding only.
                    Expect(rhub.Subscribe("topic=cs.ping", e =>
                    {
                        e.SetReply("{\"pong\": " + e.DataGet("/n") + ", \"from\": \"second\"}");
                        return 0;
                    }).Length == 32, "a second responder");
                    var byEvent = new System.Collections.Generic.Dictionary<string, int>();
                    string froms = "";
                    bool otherThread = false;
                    int mainThread = System.Threading.Thread.CurrentThread.ManagedThreadId;
                    string asked = null;
                    for (int i = 0; i < 15 && asked == null; i++)
                    {
                        string id = hub.PublishEvent("{\"topic\": \"cs.ping\", \"data\": {\"n\": 8}}", reply =>
                        {
                            otherThread |= System.Threading.Thread.CurrentThread.ManagedThreadId != mainThread;
                            string to = JsonString(reply.Json, "inReplyToEvent") ?? "";
                            byEvent[to] = (byEvent.TryGetValue(to, out int n) ? n : 0) + 1;
                            froms += reply.DataGet("/pong") + reply.DataGet("/from") + ";";
                            return reply.Topic == "ftrack.meta.reply" ? 0 : 1;
                        });
                        Expect(id.Length == 32, "a generated event id");
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                        var clock = Stopwatch.StartNew();
                        int got;
                        while (clock.Elapsed < TimeSpan.FromSeconds(1) && !(byEvent.TryGetValue(id, out got) && got >= 2)) hub.Dispatch(100);
                        if (byEvent.TryGetValue(id, out got) && got >= 2) asked = id;
                    }
                    Expect(asked != null, "two replies to one event reach the reply handler");
                    Expect(froms.Contains("8csharp;") && froms.Contains("8second;"), "the replies' data");
                    Expect(!otherThread, "reply handlers run in Dispatch");
                    Expect(StatusOf(() => hub.PublishEvent("{\"data\": {}}", e => 0)) == Status.InvalidArgument, "an event without a topic");

                    // The hub id: stable, and the source.id of what the hub publishes.
                    string hubId = hub.Id;
                    Expect(hubId.Length == 32 && hub.Id == hubId, "hub id");
                    Expect(rhub.Id != hubId, "another session's hub id");

                    // An event's JSON goes back into PublishEvent unchanged (a local-only
                    // topic: its subscribers run now, on this thread); expressions match it.
                    var seenJson = new System.Collections.Generic.List<string>();
                    string local = hub.Subscribe("topic=ftrack.api.session.configure-location", e => { seenJson.Add(e.Json); return 0; });
                    Expect(hub.PublishEvent("{\"topic\": \"ftrack.api.session.configure-location\", \"id\": \"cs-local-1\", " +
                        "\"data\": {\"n\": [1, \"\u00e9\"]}, \"source\": {\"app\": \"csharp\"}}") == "cs-local-1", "an event's own id");
                    Expect(seenJson.Count == 1, "a local event is handled at once");
                    if (seenJson.Count == 1)
                    {
                        string first = seenJson[0];
                        Expect(first.Contains("\"id\":\"cs-local-1\"") && first.Contains("\"n\":[1,\"\u00e9\"]"), "json of the event");
                        Expect(first.Contains("\"id\":\"" + hubId + "\""), "the hub id is the source id");
                        Expect(hub.PublishEvent(first) == "cs-local-1", "json published again");
                        Expect(seenJson.Count == 2 && seenJson[1] == first, "json round trip");
                        Expect(EventHub.ExpressionMatches("topic=ftrack.api.session.* and source.app=csharp", first), "expression matches");
                        Expect(!EventHub.ExpressionMatches("topic=cs.ping", first), "expression does not match");
                    }
                    Expect(StatusOf(() => EventHub.ExpressionMatches("topic=(", "{}")) == Status.InvalidArgument, "bad expression");
                    Expect(StatusOf(() => EventHub.ExpressionMatches("topic=x", "{")) == Status.InvalidArgument, "bad JSON");
                    hub.Unsubscribe(local);

                    hub.Unsubscribe(watcher);
                    Expect(StatusOf(() => hub.Unsubscribe(watcher)) == Status.NotFound, "unsubscribed twice");
                    alpha.SetString("full_name", "Alpha from C#, again");
                    writer.Commit();
                    Expect(DispatchUntil(hub, () => sentinel[0] > 1), "the next update arrives");
                    Expect(updates == 1, "nothing for the unsubscribed handler");
                    Expect(onceCalls == 1, "nothing more for the handler that unsubscribed itself");
                }
            }
            hub.Disconnect();
            Expect(!hub.IsConnected, "disconnected");
        }
    }

    static void Run()
    {
        Expect(Library.Version.Split('.').Length >= 3, "version");
        Expect(Library.VersionNumber > 0, "version number");

        using (var session = Session.FromEnvironment())
        {
            int users = 0;
            bool foundAdmin = false;
            using (var list = session.Query("select username, is_active from User"))
            {
                foreach (var user in list)
                    using (user)
                    {
                        users++;
                        if (user.GetString("username") == "admin") foundAdmin = true;
                    }
            }
            Expect(users >= 5 && foundAdmin, "query users");

            using (var admin = session.QueryOne("User where username is \"admin\""))
            {
                Expect(admin.TypeName == "User", "type name");
                Expect(admin.Id.Length > 0, "id");
                Expect(admin.GetBool("is_active"), "get bool");
                Expect(admin.GetJson("username") == "\"admin\"", "get json");
                Expect(StatusOf(() => admin.GetInt64("username")) == Status.TypeMismatch, "type mismatch");
                Expect(StatusOf(() => admin.GetString("nope")) == Status.UnknownAttribute, "unknown attribute");
                using (var copy = admin.Clone())
                {
                    Expect(copy.Handle.DangerousGetHandle() != admin.Handle.DangerousGetHandle(), "clone is a new handle");
                    Expect(copy.GetString("username") == "admin", "clone reads the same entity");
                }
                Expect(admin.GetString("username") == "admin", "original survives the clone's disposal");
                using (var roles = admin.GetList("user_security_roles"))
                {
                    Expect(roles.Count >= 1, "collection");
                    using (var usr = roles[0])
                    using (var role = usr.GetEntity("security_role"))
                        Expect(role != null && role.GetString("name") == "Administrator", "reference");
                }
            }

            Expect(session.QueryFirst("User where username is \"nobody-here\"") == null, "query first none");
            Expect(StatusOf(() => session.QueryOne("User")) == Status.MultipleResults, "multiple results");
            try
            {
                session.Query("select from User where");
                Expect(false, "query syntax throws");
            }
            catch (FtrackException e)
            {
                Expect(e.Status == Status.QuerySyntax, "query syntax status");
                Expect(e.StatusName == "FTRACK_STATUS_QUERY_SYNTAX", "status name");
                Expect(e.Detail.Contains("ftrack_session_query"), "message names the function");
            }

            using (var project = session.Create("Project", "{\"name\": \"cs_binding\", \"full_name\": \"C# binding\"}"))
            {
                project.SetDateTimeMicroseconds("start_date", 1714979289000000);
                Expect(session.PendingCount >= 1, "pending count");
                Expect(session.PendingJson().Contains("cs_binding"), "pending json");
                session.Commit();
                project.SetString("full_name", "C# binding, renamed \u00e9");
                session.Commit();
                using (var again = session.QueryOne("select full_name, start_date from Project where name is \"cs_binding\""))
                {
                    Expect(again.GetString("full_name") == "C# binding, renamed \u00e9", "utf-8 round trip");
                    Expect(again.GetDateTime("start_date") == new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc), "datetime");
                }
                project.SetString("full_name", "never sent");
                session.Rollback();
                Expect(session.PendingCount == 0, "rollback");
                session.Delete(project);
                session.Commit();
                Expect(session.QueryFirst("Project where name is \"cs_binding\"") == null, "deleted");
            }

            // security roles: give artist the Project Manager role on gamma only
            using (var artist = session.FindUser("artist"))
            using (var pmRole = session.FindSecurityRole("Project Manager"))
            using (var gamma = session.FindProject("gamma"))
            {
                int before;
                using (var roles = session.UserSecurityRoles(artist)) before = roles.Count;
                using (var all = session.SecurityRoles()) Expect(all.Count >= 3, "security roles");
                session.RoleAppend(artist, pmRole, false);
                session.GrantProject(artist, pmRole, gamma);
                Expect(session.PendingCount == 2, "role operations pending");
                session.Commit();
                using (var roles = session.UserSecurityRoles(artist)) Expect(roles.Count == before + 1, "role appended");
                Expect(StatusOf(() => session.RoleAppend(artist, pmRole, false)) == Status.RoleAlreadyAssigned, "role already assigned");
                Expect(StatusOf(() => session.FindUser("nobody-here").Dispose()) == Status.NotFound, "user not found");
                using (var some = session.Users("username like \"a%\""))
                    Expect(some.Count >= 2, "users with roles (admin, artist)");
                string audit = session.SecurityRoleAuditJson();
                Expect(audit.Contains("\"artist\"") && audit.Contains("\"gamma\""), "audit");

                // the ftrack_api-shaped surface (issue 8)
                using (var held = artist.GetList("security_roles")) Expect(held.Count == 2, "security_roles read");
                Expect(StatusOf(() => artist.Append("security_roles", pmRole)) == Status.RoleAlreadyAssigned, "validation through the collection call");
                using (var cursor = session.QueryCursor("select username from User", 2))
                {
                    int rows = 0, pages = 0;
                    for (var page = cursor.NextPage(); page != null; page = cursor.NextPage())
                        using (page) { rows += page.Count; pages++; }
                    Expect(rows == 5 && pages == 3, "cursor pages");
                }
                using (var got = session.Get("User", artist.Id)) Expect(got != null, "get by id");
                Expect(session.Get("User", "no-such-id") == null, "get missing");
                using (var group = session.Ensure("Group", "{\"name\": \"CSharp\", \"local\": true}"))
                using (var again = session.Ensure("Group", "{\"name\": \"CSharp\", \"local\": true}", "[\"name\"]"))
                {
                    Expect(group.Id == again.Id, "ensure");
                    session.Populate(new System.Collections.Generic.List<Entity> { artist, group }, "id");
                }
                session.AutoPopulate = false;
                Expect(!session.AutoPopulate, "auto populate toggle");
                session.AutoPopulate = true;
                session.RecordOperations = false;
                Expect(!session.RecordOperations, "record toggle");
                session.RecordOperations = true;
                artist.SetString("last_name", "CSharp");
                Expect(session.RecordedOperationsJson().Contains("\"last_name\""), "recorded operations");
                session.Reset();
                Expect(session.PendingCount == 0, "reset");
                Expect(session.EntitySchemaJson("User").Contains("\"derived\":true"), "schema");
                Expect(session.EntityTypesJson().Contains("\"User\""), "entity types");
            }

            // Host hooks: a logger sees the request, never the key; a progress
            // callback that says no cancels the query.
            var lines = new System.Collections.Generic.List<string>();
            session.SetLogger(LogLevel.Info, (level, line) => { lock (lines) lines.Add(line); });
            using (var all = session.Query("select username from User")) Expect(all.Count > 0, "query with a logger");
            session.SetLogger(LogLevel.Info, null);
            Expect(lines.Exists(l => l.Contains("[query]")), "a log line names the query");
            Expect(!lines.Exists(l => l.Contains(Environment.GetEnvironmentVariable("FTRACK_API_KEY"))), "no key in log lines");
            // Each session's logger gets its own lines, across a garbage collection
            // (the library holds one static delegate and a per-session key).
            using (var other = Session.FromEnvironment())
            {
                var mine = new System.Collections.Generic.List<string>();
                var theirs = new System.Collections.Generic.List<string>();
                session.SetLogger(LogLevel.Info, (level, line) => { lock (mine) mine.Add(line); });
                other.SetLogger(LogLevel.Info, (level, line) => { lock (theirs) theirs.Add(line); });
                GC.Collect();
                GC.WaitForPendingFinalizers();
                using (var one = other.Query("select username from User limit 1")) { }
                Expect(theirs.Count > 0 && mine.Count == 0, "a session's log lines reach only its logger");
                session.SetLogger(LogLevel.Info, null);
            }
            session.SetProgress((operation, done, total) => false);
            Expect(StatusOf(() => session.Query("select username from User").Dispose()) == Status.Cancelled, "progress cancels");
            session.SetProgress(null);

            string reply = session.Call("[{\"action\": \"query_server_information\"}]");
            Expect(reply.StartsWith("[") && reply.Contains("version"), "raw call");
        }

        using (var options = new SessionOptions())
        {
            options.ServerUrl("http://127.0.0.1:9").ApiKey("k").ApiUser("u").TimeoutMs(2000).MaxAttempts(1).SecurityRolesAllOpenProjects(false);
            Expect(StatusOf(() => new Session(options).Dispose()) == Status.Connection, "connection refused");
            Expect(StatusOf(() => options.TimeoutMs(0)) == Status.InvalidArgument, "invalid timeout");
        }
    }

    static int Main()
    {
        try { Run(); }
        catch (Exception e) { failed++; Console.Error.WriteLine("FAIL: unexpected " + e); }
        try { Events(); }
        catch (Exception e) { failed++; Console.Error.WriteLine("FAIL: unexpected in Events " + e); }
        Console.WriteLine("csharp binding: " + passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
