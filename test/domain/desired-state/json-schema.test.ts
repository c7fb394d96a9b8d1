import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  desiredStateJsonSchema,
  desiredStateJsonSchemaText,
  JSON_SCHEMA_PATH,
} from '../../../functions/domain/desired-state/json-schema';

const committedPath = new URL(`../../../${JSON_SCHEMA_PATH}`, import.meta.url);

/** Follows a property path through the generated schema. */
function at(schema: unknown, ...properties: string[]): Record<string, unknown> {
  let current = schema as Record<string, unknown>;
  for (const property of properties) {
    const next =
      property === '*'
        ? current.additionalProperties
        : (current.properties as Record<string, unknown> | undefined)?.[property];
    if (next === undefined || next === null || typeof next !== 'object')
      throw new Error(`no ${property} in schema`);
    current = next as Record<string, unknown>;
  }
  return current;
}

describe('the JSON Schema for editors', () => {
  it(`is committed as ${JSON_SCHEMA_PATH} exactly as the zod schema generates it`, async () => {
    const committed = await readFile(committedPath, 'utf8').catch(() => '(missing)');

    expect(
      committed === desiredStateJsonSchemaText(),
      `${JSON_SCHEMA_PATH} is stale: run \`npm run schema\` and commit the result`,
    ).toBe(true);
  });

  it('describes what may be written: fields with defaults are optional', () => {
    const schema = desiredStateJsonSchema();

    expect(at(schema).required).toEqual(['version', 'fleets']);
    expect(at(schema, 'fleets', '*').required).toEqual(['match', 'launchTemplate']);
    expect(at(schema, 'fleets', '*', 'launchTemplate').required ?? []).not.toContain('version');
  });

  it('refuses unknown keys and asks for exactly one selector and one template reference', () => {
    const schema = desiredStateJsonSchema();

    expect(at(schema).additionalProperties).toBe(false);
    expect(at(schema, 'fleets', '*').additionalProperties).toBe(false);
    expect(at(schema, 'fleets', '*', 'match').oneOf).toEqual([
      { required: ['autoScalingGroup'] },
      { required: ['tags'] },
    ]);
    expect(at(schema, 'fleets', '*', 'launchTemplate').oneOf).toEqual([
      { required: ['name'] },
      { required: ['id'] },
    ]);
  });

  it('refuses aws: keys in declared tags but not in selectors, as validation does', () => {
    const schema = desiredStateJsonSchema();
    const fleet = at(schema, 'fleets', '*');

    expect(at(fleet, 'tags').propertyNames).toMatchObject({ not: { pattern: '^[aA][wW][sS]:' } });
    expect(at(fleet, 'match', 'tags').propertyNames).not.toHaveProperty('not');
    expect(at(fleet, 'exclude', 'tags').propertyNames).not.toHaveProperty('not');
  });
});
