// Validates a Teams app manifest (JSON on stdin) against the official schema bundled in the npm package
// @microsoft/app-manifest, offline: the schema file is read from the installed package and handed to
// AppManifestUtils.validateAgainstSchema, which then never fetches it.
//
// usage: node validate.mjs PROJECT_ROOT SCHEMA_VERSION < manifest.json
// stdout: {"errors": [{"path": "/bots/0/botId", "message": "...", "details": "..."}]}; exit 0 when it ran.
// exit 3 with one line on stderr when the package or the schema version is not installed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const [root, version] = process.argv.slice(2);
const PACKAGE = "@microsoft/app-manifest";

function fail(message) {
  process.stderr.write(message + "\n");
  process.exit(3);
}

if (!root || !version) fail("usage: node validate.mjs PROJECT_ROOT SCHEMA_VERSION < manifest.json");

const require = createRequire(join(root, "package.json"));
let entry;
try {
  entry = require.resolve(PACKAGE);
} catch {
  fail(`${PACKAGE} is not installed under ${root}/node_modules`);
}
const { AppManifestUtils } = require(entry);

// build/index.js sits beside build/json-schemas/.
const schemaFile = join(dirname(entry), "json-schemas", "teams", `v${version}`, "MicrosoftTeams.schema.json");
let schemaText;
try {
  schemaText = readFileSync(schemaFile, "utf8");
} catch {
  fail(`${PACKAGE} has no Teams manifest schema v${version} (looked for ${schemaFile})`);
}
// The same clean-up the package applies to the published files (they carry \a and \v escapes JSON lacks).
const schema = JSON.parse(schemaText.replace(/^\uFEFF/, "").replace(/\\a/g, "\\u0007").replace(/\\v/g, "\\u000b"));

const manifest = JSON.parse(readFileSync(0, "utf8"));
const failures = await AppManifestUtils.validateAgainstSchema(manifest, schema);

// Each failure is "<instancePath> <message>. Details: <params as JSON>".
const errors = failures.map((line) => {
  const match = /^(\S*) ([\s\S]*?)\. Details: ([\s\S]*)$/.exec(line);
  return match ? { path: match[1], message: match[2], details: match[3] } : { path: "", message: line, details: "" };
});
process.stdout.write(JSON.stringify({ errors }) + "\n");
