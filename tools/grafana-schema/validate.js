#!/usr/bin/env node
// Validates dashboard JSON files against Grafana's classic dashboard schema.
// Usage: node validate.js FILE...
// Prints every problem as `FILE:LINE:COL: path: message`, sorted by position; exit 0 if
// all are valid, 1 if any is invalid, 2 if it cannot run (schema not built or stale, a
// file unreadable).
"use strict";

const fs = require("fs");
const Ajv = require("ajv");
const jsonMap = require("json-source-map");
const { SCHEMA_FILE, schemaComment, schemaName } = require("./source");

const EXIT_INVALID = 1;
const EXIT_CANNOT_RUN = 2;
const SCHEMA_ID = "dashboard";

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(EXIT_CANNOT_RUN);
}

function loadSchema() {
  if (!fs.existsSync(SCHEMA_FILE)) {
    fail(`${SCHEMA_FILE} is missing; run \`make setup\` (npm ci + build-schema.js)`);
  }
  const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8"));
  // A schema built from other package versions than the installed ones is stale.
  if (schema.$comment !== schemaComment()) {
    fail(`${SCHEMA_FILE} does not match the installed packages; run \`make setup\``);
  }
  return schema;
}

function resolve(root, schema) {
  if (!schema || !schema.$ref) return schema;
  return schema.$ref.slice(2).split("/").reduce((node, key) => node[key], root);
}

// The `type` constants a union's branches fix (a row panel's "row"); null for a branch
// that leaves `type` open (any other panel).
function fixedTypes(root, branch) {
  const t = resolve(root, (resolve(root, branch).properties || {}).type) || {};
  if (t.const !== undefined) return [t.const];
  return t.enum || null;
}

// The branch of a union (anyOf) an object meant: the one whose `type` constant it
// carries, else the one that leaves `type` open. Its errors alone say what is wrong;
// the other branches' only add noise. Without one, the object's `type` is the error.
function intendedBranch(root, branches, data) {
  const refs = branches.filter((b) => b.$ref);
  const exact = refs.find((b) => (fixedTypes(root, b) || []).includes(data.type));
  return exact || refs.find((b) => fixedTypes(root, b) === null) || null;
}

function typeError(root, union) {
  const allowed = union.schema.flatMap((b) => fixedTypes(root, b) || []);
  return {
    instancePath: `${union.instancePath}/type`,
    keyword: "enum",
    params: { allowedValues: allowed },
    message: "must be equal to one of the allowed values",
  };
}

// Replaces each union's errors with those of its intended branch, unions inside included.
function refine(ajv, root, errors) {
  let out = errors;
  for (const union of errors.filter((e) => e.keyword === "anyOf")) {
    const data = union.data;
    // Skipped: unions refined already (inside another), unions of non-objects.
    if (!out.includes(union) || !data || typeof data !== "object") continue;
    const at = union.instancePath;
    const inside = (e) => e.instancePath === at || e.instancePath.startsWith(`${at}/`);
    const branch = intendedBranch(root, union.schema, data);
    let own = [typeError(root, union)];
    if (branch) {
      const check = ajv.getSchema(SCHEMA_ID + branch.$ref);
      check(data);
      own = refine(ajv, root, (check.errors || []).map((e) => ({ ...e, instancePath: at + e.instancePath })));
    }
    out = out.filter((e) => !inside(e)).concat(own);
  }
  return out;
}

// "/templating/list/0/current" -> "templating.list[0].current" (the repo's path style).
function dottedPath(pointer) {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out || "$";
}

function describe(error) {
  const p = error.params;
  if (error.keyword === "required") return `missing required property '${p.missingProperty}'`;
  if (error.keyword === "enum") return `${error.message}: ${p.allowedValues.join(", ")}`;
  if (error.keyword === "const") return `must be ${JSON.stringify(p.allowedValue)}`;
  return error.message;
}

function located(file, pointers, errors) {
  const found = new Map();
  for (const error of errors) {
    const at = pointers[error.instancePath];
    const pos = at ? at.value : { line: 0, column: 0 };
    const text = `${file}:${pos.line + 1}:${pos.column + 1}: ${dottedPath(error.instancePath)}: ${describe(error)}`;
    found.set(text, [pos.line, pos.column]);
  }
  const order = ([a, [la, ca]], [b, [lb, cb]]) => la - lb || ca - cb || (a < b ? -1 : 1);
  return [...found.entries()].sort(order).map(([text]) => text);
}

function validateFile(ajv, root, file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    fail(`${file}: ${err.message}`);
  }
  let parsed;
  try {
    parsed = jsonMap.parse(text);
  } catch (err) {
    return [`${file}:1:1: $: not JSON: ${err.message}`];
  }
  const check = ajv.getSchema(SCHEMA_ID);
  if (check(parsed.data)) return [];
  return located(file, parsed.pointers, refine(ajv, root, [...check.errors]));
}

function main(files) {
  if (files.length === 0) fail("usage: validate.js FILE...");
  const root = loadSchema();
  // verbose: union errors carry their branches and the data, for refine().
  const ajv = new Ajv({ allErrors: true, verbose: true });
  ajv.addSchema(root, SCHEMA_ID);
  let invalid = 0;
  for (const file of files) {
    const lines = validateFile(ajv, root, file);
    if (lines.length) invalid += 1;
    for (const line of lines) console.log(line);
  }
  if (invalid) {
    console.log(`${invalid} of ${files.length} dashboard(s) invalid against ${schemaName()}`);
    process.exit(EXIT_INVALID);
  }
  console.log(`${files.length} dashboard(s) valid against ${schemaName()}`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  // A crash is not a verdict on the dashboards.
  fail(err.stack || String(err));
}
