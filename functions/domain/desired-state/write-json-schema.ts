/**
 * `npm run schema`: regenerates the committed JSON Schema from the zod schema.
 */
import { writeFile } from 'node:fs/promises';
import { desiredStateJsonSchemaText, JSON_SCHEMA_PATH } from './json-schema';

const target = new URL(`../../../${JSON_SCHEMA_PATH}`, import.meta.url);
await writeFile(target, desiredStateJsonSchemaText());
console.log(`wrote ${JSON_SCHEMA_PATH}`);
