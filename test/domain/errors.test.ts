import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as awsErrors from '../../functions/aws/errors';
import * as chatRelayErrors from '../../functions/chat-relay/errors';
import * as demoErrors from '../../functions/demo/errors';
import * as desiredStateErrors from '../../functions/domain/desired-state/errors';
import * as domainErrors from '../../functions/domain/errors';
import { PhoenixError } from '../../functions/domain/errors';
import * as evaluatorErrors from '../../functions/evaluate-drift/errors';
import * as localErrors from '../../functions/local/errors';
import * as remediationErrors from '../../functions/remediation/errors';
import * as runtimeErrors from '../../functions/runtime/errors';
import * as infraErrors from '../../infra/errors';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Every package's errors module, by its path. */
const MODULES: Record<string, Record<string, unknown>> = {
  'functions/domain/errors.ts': domainErrors,
  'functions/domain/desired-state/errors.ts': desiredStateErrors,
  'functions/aws/errors.ts': awsErrors,
  'functions/evaluate-drift/errors.ts': evaluatorErrors,
  'functions/remediation/errors.ts': remediationErrors,
  'functions/local/errors.ts': localErrors,
  'functions/chat-relay/errors.ts': chatRelayErrors,
  'functions/demo/errors.ts': demoErrors,
  'functions/runtime/errors.ts': runtimeErrors,
  'infra/errors.ts': infraErrors,
};

/** Names that are another service's on purpose (the local Step Functions answers as AWS does). */
const FOREIGN_NAMES: Record<string, string> = { ExecutionAlreadyExistsError: 'ExecutionAlreadyExists' };

type ErrorClass = new (...args: never[]) => Error;

function errorClasses(module: Record<string, unknown>): Array<[string, ErrorClass]> {
  return Object.entries(module).filter(
    (entry): entry is [string, ErrorClass] =>
      typeof entry[1] === 'function' && (entry[1] === Error || entry[1].prototype instanceof Error),
  );
}

/** One instance of a class, whatever its constructor takes first. */
function probe(E: ErrorClass): Error {
  const Construct = E as unknown as new (first: unknown) => Error;
  return E === desiredStateErrors.DesiredStateInvalidError ? new Construct([]) : new Construct('probe');
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('errors: one hierarchy, one errors.ts per package', () => {
  it('every exported error extends PhoenixError and calls itself by its class name', () => {
    const wrong: string[] = [];
    for (const [path, module] of Object.entries(MODULES)) {
      const classes = errorClasses(module);
      expect(classes.length, `${path} exports errors`).toBeGreaterThan(0);
      for (const [key, E] of classes) {
        const error = probe(E);
        if (!(error instanceof PhoenixError)) wrong.push(`${path}: ${key} is not a PhoenixError`);
        if (error.name !== (FOREIGN_NAMES[key] ?? key))
          wrong.push(`${path}: ${key} calls itself ${error.name}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('declares error classes only in errors.ts modules (the local Step Functions’ StateError aside)', () => {
    const outside: string[] = [];
    for (const dir of ['functions', 'infra']) {
      for (const path of sources(join(ROOT, dir))) {
        const file = relative(ROOT, path);
        if (file.endsWith('/errors.ts')) continue;
        for (const match of readFileSync(path, 'utf8').matchAll(/class (\w+) extends (\w*Error)\b/g)) {
          if (file === 'functions/local/step-functions/tasks.ts' && match[1] === 'StateError') continue;
          outside.push(`${file}: ${match[1]}`);
        }
      }
    }
    expect(outside).toEqual([]);
    expect(Object.keys(MODULES).sort()).toEqual(
      ['functions', 'infra']
        .flatMap((dir) => sources(join(ROOT, dir)))
        .map((path) => relative(ROOT, path))
        .filter((file) => file.endsWith('/errors.ts') || file === 'infra/errors.ts')
        .sort(),
    );
  });
});
