// The official @ftrack/api on the first two tasks of the side-by-side benchmark
// (it has no typed role API; the table leaves the role task out for it).
// Prints one JSON line like libftrack.c. argv[2]: runs. It runs no role task,
// so "query-only" (argv[3], as for the other clients) changes nothing. With
// BENCH_TURNS set in the environment it takes turns with the other clients
// (benches/side_by_side/turns.py): before each run it reads a line from stdin,
// after it prints "turn".
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

// Resolved from the conformance suite's node_modules (FTRACK_NODE_MODULES).
const require = createRequire(`${process.env.FTRACK_NODE_MODULES}/`);
const { Session } = require("@ftrack/api");

const runs = Number(process.argv[2] ?? 3);
const out = { client: "@ftrack/api", start_ms: [], query_ms: [], roles_ms: [] };
const turns = process.env.BENCH_TURNS !== undefined;
const lines = turns ? createInterface({ input: process.stdin })[Symbol.asyncIterator]() : null;
for (let r = 0; r < runs; r++) {
  if (turns && (await lines.next()).done) throw new Error(`turns: stdin closed before run ${r + 1}`);
  let t = performance.now();
  const session = new Session(
    process.env.FTRACK_SERVER,
    process.env.FTRACK_API_USER,
    process.env.FTRACK_API_KEY,
    { autoConnectEventHub: false },
  );
  await session.initializing;
  out.start_ms.push(performance.now() - t);

  t = performance.now();
  let offset = 0;
  let total = 0;
  for (;;) {
    const page = await session.query(
      `select username, user_security_roles.security_role.name from User offset ${offset} limit 500`,
    );
    total += page.data.length;
    if (page.data.length < 500) break;
    offset += 500;
  }
  out.query_ms.push(performance.now() - t);
  if (total < 10000) throw new Error(`only ${total} users`);
  if (turns) process.stdout.write("turn\n");
}
console.log(JSON.stringify(out));
