// Smoke test: the official @ftrack/api client against the sandbox binary.
// Starts `$FTRACK_SANDBOX_BIN --demo --port 0 --print-env`, then: session
// start, one query, one security-role action, and the event hub receiving the
// ftrack.update of that action. Exits non-zero on failure.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import { Session } from "@ftrack/api";

const binary = process.env.FTRACK_SANDBOX_BIN;
if (!binary) {
  console.error(
    "FTRACK_SANDBOX_BIN is not set: build the sandbox and point it at the ftrack-sandbox binary",
  );
  process.exit(2);
}

const child = spawn(binary, ["--demo", "--port", "0", "--print-env", "--quiet"], {
  stdio: ["ignore", "pipe", "inherit"],
});

async function readEnv() {
  const env = {};
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const at = line.indexOf("=");
    env[line.slice(0, at)] = line.slice(at + 1);
    if (Object.keys(env).length === 3) break;
  }
  return env;
}

async function main() {
  const env = await readEnv();
  const session = new Session(env.FTRACK_SERVER, env.FTRACK_API_USER, env.FTRACK_API_KEY);
  await session.initializing;
  assert.ok(session.schemas.some((schema) => schema.id === "UserSecurityRole"));

  const users = await session.query(
    'select id, username from User where username is "artist"',
  );
  assert.equal(users.data.length, 1);
  const artist = users.data[0];
  assert.equal(artist.__entity_type__, "User");

  // The event hub: connect with the api_user / api_key query parameters and
  // receive the ftrack.update of the role action below.
  session.eventHub.connect();
  const update = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no ftrack.update within 20 s")), 20000);
    session.eventHub.subscribe("topic=ftrack.update", (event) => {
      clearTimeout(timer);
      resolve(event);
    });
  });
  for (let i = 0; i < 200 && !session.eventHub.isConnected(); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(session.eventHub.isConnected(), "the JavaScript event hub did not connect");
  // Let the subscribe packet reach the server before the change.
  await new Promise((resolve) => setTimeout(resolve, 300));

  const roles = await session.query('select id from SecurityRole where name is "Project Manager"');
  const [result] = await session.call([
    { action: "add_user_security_role", user_id: artist.id, role_id: roles.data[0].id },
  ]);
  assert.equal(result.action, "add_user_security_role");
  const event = await update;
  const entity = event.data.entities[0];
  assert.equal(entity.entity_type, "UserSecurityRole");
  assert.equal(entity.action, "add");
  assert.equal(entity.changes.userid.new, artist.id);
  session.eventHub.disconnect?.();

  const after = await session.query(
    'select security_role.name from UserSecurityRole where user.username is "artist"',
  );
  const names = after.data.map((usr) => usr.security_role.name).sort();
  assert.deepEqual(names, ["Project Manager", "User"]);

  // A refused action surfaces as the client's permission error.
  const restricted = new Session(env.FTRACK_SERVER, "restricted", "demo-key-restricted");
  await assert.rejects(
    restricted.call([
      { action: "remove_user_security_role", user_id: artist.id, role_id: roles.data[0].id },
    ]),
    (error) => error.name === "ServerPermissionDeniedError",
  );
  console.log("js smoke test passed");
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  child.kill("SIGTERM");
}
process.exitCode = failed ? 1 : 0;
