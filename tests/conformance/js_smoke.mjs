// Smoke test: the official @ftrack/api client against the sandbox binary.
// Starts `$FTRACK_SANDBOX_BIN --demo --port 0 --print-env`, then: session
// start, one query, one security-role action. Exits non-zero on failure.
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

  const roles = await session.query('select id from SecurityRole where name is "Project Manager"');
  const [result] = await session.call([
    { action: "add_user_security_role", user_id: artist.id, role_id: roles.data[0].id },
  ]);
  assert.equal(result.action, "add_user_security_role");

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
