import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { compileDesiredState } from '../../../functions/domain/desired-state/compile';
import { desiredStateJsonSchema } from '../../../functions/domain/desired-state/json-schema';
import { formatIssue, parseDesiredState } from '../../../functions/domain/desired-state/validate';

const examplesDir = new URL('../../../examples/', import.meta.url);
const exampleFiles = (await readdir(examplesDir)).filter((name) => name.endsWith('.yaml')).sort();

async function readExample(name: string): Promise<string> {
  return readFile(new URL(name, examplesDir), 'utf8');
}

type JsonSchemaNode = { properties?: Record<string, JsonSchemaNode>; additionalProperties?: unknown };

/** Every field path the schema allows; a map's keys (fleet names, tag keys) read as `*`. */
function schemaPaths(node: JsonSchemaNode, prefix: string): string[] {
  const paths: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    paths.push(`${prefix}${key}`, ...schemaPaths(child, `${prefix}${key}.`));
  }
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
    const child = node.additionalProperties as JsonSchemaNode;
    paths.push(`${prefix}*`, ...schemaPaths(child, `${prefix}*.`));
  }
  return paths;
}

/** Every field path a document uses, named the way {@link schemaPaths} names them. */
function usedPaths(value: unknown, node: JsonSchemaNode, prefix: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const paths: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const known = node.properties?.[key];
    const segment = known !== undefined ? key : '*';
    const childNode = known ?? (node.additionalProperties as JsonSchemaNode | undefined) ?? {};
    paths.push(`${prefix}${segment}`, ...usedPaths(child, childNode, `${prefix}${segment}.`));
  }
  return paths;
}

describe('examples/', () => {
  it('holds phoenix.yaml (the one cdk.json deploys) and minimal.yaml', () => {
    expect(exampleFiles).toEqual(expect.arrayContaining(['phoenix.yaml', 'minimal.yaml']));
  });

  it.each(exampleFiles)('%s is valid and compiles', async (name) => {
    const text = await readExample(name);

    const result = parseDesiredState(text, `examples/${name}`);

    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([]);
    if (!result.ok) return;
    const sha256 = createHash('sha256').update(text).digest('hex');
    expect(
      compileDesiredState(result.value, { commit: 'test', path: `examples/${name}`, sha256 }).fleets.length,
    ).toBe(Object.keys(result.value.fleets).length);
  });

  it.each(exampleFiles)('%s points editors at the committed JSON Schema', async (name) => {
    const text = await readExample(name);

    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/phoenix.schema.json');
  });

  it('phoenix.yaml uses every field the schema knows (so it documents them all)', async () => {
    const schema = desiredStateJsonSchema() as JsonSchemaNode;
    const result = parseDesiredState(await readExample('phoenix.yaml'), 'examples/phoenix.yaml');
    if (!result.ok) throw new Error('examples/phoenix.yaml is invalid');

    const used = new Set(usedPaths(result.value, schema, ''));
    // The schema link is the comment on line 1; a `$schema` key would say the same thing twice.
    const unused = schemaPaths(schema, '').filter((path) => path !== '$schema' && !used.has(path));

    expect(unused).toEqual([]);
  });

  it('phoenix.yaml shows each way to name a launch template version and to select instances', async () => {
    const result = parseDesiredState(await readExample('phoenix.yaml'), 'examples/phoenix.yaml');
    if (!result.ok) throw new Error('examples/phoenix.yaml is invalid');
    const fleets = Object.values(result.value.fleets);

    const versions = new Set(
      fleets.map((fleet) =>
        typeof fleet.launchTemplate.version === 'number' ? 'number' : fleet.launchTemplate.version,
      ),
    );
    const references = new Set(
      fleets.map((fleet) => (fleet.launchTemplate.id === undefined ? 'name' : 'id')),
    );
    const selectors = new Set(
      fleets.map((fleet) => (fleet.match.tags === undefined ? 'autoScalingGroup' : 'tags')),
    );

    expect([...versions].sort()).toEqual(['$Default', '$Latest', 'number']);
    expect([...references].sort()).toEqual(['id', 'name']);
    expect([...selectors].sort()).toEqual(['autoScalingGroup', 'tags']);
  });
});
