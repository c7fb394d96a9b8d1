/**
 * The JSON Schema editors use to autocomplete and check `phoenix.yaml`
 * (`# yaml-language-server: $schema=…`), generated from the zod schema so the two never
 * disagree. Committed as `schema/phoenix.schema.json`; `npm run schema` rewrites it.
 */
import { z } from 'zod';
import { DesiredStateFileSchema, LaunchTemplateRef, Match, TagKey } from './schema';

/** Where the generated schema is committed, relative to the repository root. */
export const JSON_SCHEMA_PATH = 'schema/phoenix.schema.json';

/** Rules validate.ts enforces across fields that JSON Schema can still say, for editors. */
const EXACTLY_ONE = new Map<unknown, readonly [string, string]>([
  [Match, ['autoScalingGroup', 'tags']],
  [LaunchTemplateRef, ['name', 'id']],
]);

/**
 * The JSON Schema (draft-07, the dialect YAML editors support best) of what may be
 * *written*: fields with defaults are optional.
 */
export function desiredStateJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(DesiredStateFileSchema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema }) => {
      const choices = EXACTLY_ONE.get(zodSchema);
      if (choices !== undefined) jsonSchema.oneOf = choices.map((key) => ({ required: [key] }));
      // The refinement that refuses aws: keys in declared tags, said the JSON Schema way.
      if (zodSchema === TagKey) jsonSchema.not = { pattern: '^[aA][wW][sS]:' };
    },
  });
  return { ...generated, title: 'Phoenix desired state (phoenix.yaml)' };
}

/** The file's exact text: two-space JSON and a final newline, so a regenerated file diffs cleanly. */
export function desiredStateJsonSchemaText(): string {
  return `${JSON.stringify(desiredStateJsonSchema(), null, 2)}\n`;
}
