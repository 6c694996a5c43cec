#!/usr/bin/env node
// Converts @grafana/schema's classic `Dashboard` TypeScript type into a JSON Schema.
// Extra properties stay allowed: Grafana keeps fields its schema does not model, and so
// do we (e.g. `fieldConfig.defaults.custom` of each panel type).
// Usage: node build-schema.js   (writes build/dashboard.schema.json; run by `make setup`)
"use strict";

const fs = require("fs");
const path = require("path");
const { source, SCHEMA_FILE, schemaComment } = require("./source");

function main() {
  const { createGenerator } = require("ts-json-schema-generator");
  const schema = createGenerator({
    path: source().typesFile,
    type: "Dashboard",
    additionalProperties: true,
    skipTypeCheck: true,
  }).createSchema("Dashboard");
  schema.$comment = schemaComment();
  fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
  // Written whole, then renamed: a half-written schema never exists.
  const tmp = `${SCHEMA_FILE}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(schema, null, 2)}\n`);
  fs.renameSync(tmp, SCHEMA_FILE);
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)} (${schema.$comment})`);
}

main();
