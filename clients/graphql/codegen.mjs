// GraphQL Code Generator, run as a library (its CLI needs a newer Node.js than Debian ships):
//   node graphql/codegen.mjs <schema.graphql> <operations.graphql> <out.ts>
// Writes the TypeScript types of every operation in <operations.graphql>,
// after validating the operations against the schema (an invalid one fails the run).
import { readFileSync, writeFileSync } from "node:fs";

import { codegen } from "@graphql-codegen/core";
import * as typescriptOperations from "@graphql-codegen/typescript-operations";
import { buildSchema, parse, printSchema } from "graphql";

const [schemaPath, documentsPath, outPath] = process.argv.slice(2);
const schema = buildSchema(readFileSync(schemaPath, "utf8"));
const output = await codegen({
  schema: parse(printSchema(schema)),
  schemaAst: schema,
  documents: [{ location: documentsPath, document: parse(readFileSync(documentsPath, "utf8")) }],
  filename: outPath,
  config: {
    strictScalars: true,
    scalars: { UUID: "string", DateTime: "string", Decimal: "string" },
    enumsAsTypes: true,
  },
  // typescript-operations 6 writes the enums and inputs the operations use itself.
  plugins: [{ typescriptOperations: {} }],
  pluginMap: { typescriptOperations },
});
writeFileSync(outPath, output);
