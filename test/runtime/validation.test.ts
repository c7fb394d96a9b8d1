/**
 * Validation in Lambda bundles: zod/mini schemas whose issues read as sentences about the
 * field, the same whatever locale classic zod may have installed in the process.
 */

import { describe, expect, it } from 'vitest';
import * as classic from 'zod';
import * as z from 'zod/mini';
import { describeIssues, pathOf, validate } from '../../functions/runtime/validation';

function problemOf(schema: z.core.$ZodType, input: unknown, prefix?: string): string {
  const result = validate(schema, input, prefix);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be refused`);
  return result.problem;
}

const Item = z.object({
  id: z.string().check(z.minLength(1)),
  size: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(10))),
  kind: z.optional(z.enum(['web', 'worker'])),
  version: z.optional(z.literal(1)),
  when: z.optional(z.union([z.string(), z.number()])),
  tags: z.optional(z.array(z.object({ key: z.string() }))),
  arn: z.optional(z.string().check(z.regex(/^arn:/, 'is not an ARN'))),
  share: z.optional(z.number().check(z.gt(0), z.lt(1))),
});

describe('validate', () => {
  it('returns the parsed value, defaults applied, when the input is valid', () => {
    const schema = z.object({ name: z.string(), paused: z._default(z.boolean(), false) });

    expect(validate(schema, { name: 'web' })).toEqual({ ok: true, value: { name: 'web', paused: false } });
  });

  it.each([
    ['a missing field', {}, 'id is missing'],
    ['an empty string', { id: '' }, 'id is empty'],
    ['a value of the wrong type', { id: 7 }, 'id is a number, not a string'],
    ['null for an object', null, 'the value is null, not an object'],
    ['an array for an object', [], 'the value is an array, not an object'],
    ['a number below its minimum', { id: 'a', size: 0 }, 'size is 0, below the minimum of 1'],
    ['a number above its maximum', { id: 'a', size: 11 }, 'size is 11, above the maximum of 10'],
    ['a number at an exclusive lower bound', { id: 'a', share: 0 }, 'share is 0, must be more than 0'],
    ['a number at an exclusive upper bound', { id: 'a', share: 1 }, 'share is 1, must be less than 1'],
    ['a fraction for a whole number', { id: 'a', size: 1.5 }, 'size is 1.5, not a whole number'],
    ['a value outside an enum', { id: 'a', kind: 'db' }, 'kind is "db", not one of "web", "worker"'],
    ['another literal', { id: 'a', version: 2 }, 'version is 2, not 1'],
    [
      'a type no option of a union takes',
      { id: 'a', when: true },
      'when is a boolean, not a string or a number',
    ],
    ['a nested field in a list', { id: 'a', tags: [{ key: 'x' }, {}] }, 'tags[1].key is missing'],
    ['a check with its own message', { id: 'a', arn: 'x' }, 'arn is not an ARN'],
  ])('words %s as a sentence about the field', (_case, input, problem) => {
    expect(problemOf(Item, input)).toBe(problem);
  });

  it('names every problem at once, in order', () => {
    expect(problemOf(Item, { size: 'big' })).toBe('id is missing; size is a string, not a number');
  });

  it('puts the prefix before every path, and names the prefix itself for a problem at the root', () => {
    expect(problemOf(Item, {}, 'detail')).toBe('detail.id is missing');
    expect(problemOf(Item, null, 'detail')).toBe('detail is null, not an object');
  });

  it('says which tag a discriminated union does not know, or that it is missing', () => {
    const Message = z.discriminatedUnion('type', [
      z.object({ type: z.literal('a') }),
      z.object({ type: z.literal('b') }),
    ]);

    expect(problemOf(Message, { type: 'c' })).toBe('type is "c", not one of "a", "b"');
    expect(problemOf(Message, {})).toBe('type is missing');
  });

  it('names unknown keys of a strict object', () => {
    expect(problemOf(z.strictObject({ a: z.string() }), { a: 'x', b: 1, c: 2 })).toBe(
      'the value has unknown keys "b", "c"',
    );
  });

  it('words issues the same after classic zod installed its English locale in the process', () => {
    const before = problemOf(Item, { id: 7 });
    classic.string(); // classic zod registers its locale on its first schema

    expect(problemOf(Item, { id: 7 })).toBe(before);
  });
});

describe('describeIssues and pathOf', () => {
  it('joins names with dots and indexes with brackets, after the prefix', () => {
    expect(pathOf(['configuration', 'securityGroups', 0, 'groupId'])).toBe(
      'configuration.securityGroups[0].groupId',
    );
    expect(pathOf([0, 'key'], 'tags')).toBe('tags[0].key');
    expect(pathOf([], '')).toBe('');
  });

  it('formats issues zod produced elsewhere with the same sentences', () => {
    const issues = [{ code: 'custom' as const, path: ['a', 'b'], message: 'is not right' }];

    expect(describeIssues(issues)).toBe('a.b is not right');
  });
});
