import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compileDesiredState } from '../../../functions/domain/desired-state/compile';
import { BUILT_IN_DEFAULTS, type DesiredStateFile } from '../../../functions/domain/desired-state/schema';
import { parseDesiredState } from '../../../functions/domain/desired-state/validate';
import { InvalidInputError } from '../../../functions/domain/errors';
import type { CompiledFleet, Provenance } from '../../../functions/domain/model';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function provenanceOf(text: string): Provenance {
  return {
    commit: '0123abc',
    path: 'infra/phoenix.yaml',
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

function parsed(text: string): DesiredStateFile {
  const result = parseDesiredState(text, 'phoenix.yaml');
  if (!result.ok) throw new Error(result.issues.map((issue) => issue.message).join('\n'));
  return result.value;
}

function compile(text: string) {
  return compileDesiredState(parsed(text), provenanceOf(text));
}

function fleet(text: string, name: string): CompiledFleet {
  const found = compile(text).fleets.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no fleet ${name}`);
  return found;
}

const WITH_DEFAULTS = yaml(
  'version: 1',
  'defaults:',
  '  mode: notify',
  '  budget: { maxConcurrent: 3 }',
  '  window: { timezone: Europe/Berlin, allow: ["Mon-Fri 09:00-17:00"] }',
  '  checks: { image: false, maxAgeDays: 30, strictTags: { prefix: "acme:" } }',
  '  notifications: { team: platform }',
  'fleets:',
  '  inherits:',
  '    match: { autoScalingGroup: inherits-asg }',
  '    launchTemplate: { name: lt-a }',
  '  overrides:',
  '    match: { tags: { App: api } }',
  '    launchTemplate: { id: lt-0123456789abcdef0, version: 5 }',
  '    mode: enforce',
  '    team: api',
  '    budget: { minHealthyPercent: 50 }',
  '    checks: { image: true, securityGroups: false, maxAgeDays: 7 }',
  '    window: { timezone: UTC, allow: ["Sat,Sun 22:00-04:00"] }',
  '    tags: { Owner: team-api }',
  '    exclude: { tags: { "phoenix:skip": "true" } }',
);

describe('compileDesiredState', () => {
  it('gives a fleet with no settings of its own the built-in defaults', () => {
    const text = yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt }',
    );

    expect(fleet(text, 'web')).toEqual({
      name: 'web',
      mode: BUILT_IN_DEFAULTS.mode,
      match: { kind: 'autoScalingGroup', autoScalingGroup: 'web-prod' },
      launchTemplate: { name: 'web-lt', version: '$Default' },
      tags: {},
      checks: { ...BUILT_IN_DEFAULTS.checks },
      team: BUILT_IN_DEFAULTS.team,
      exclude: { tags: {} },
      budget: {
        maxConcurrent: { count: BUILT_IN_DEFAULTS.budget.maxConcurrent },
        minHealthyPercent: BUILT_IN_DEFAULTS.budget.minHealthyPercent,
      },
      rollout: { bakeMinutes: 0, alarms: [], maxFailures: 0, approval: 'automatic' },
    });
  });

  it('gives a fleet the file-wide defaults, each field falling back to the built-in one', () => {
    expect(fleet(WITH_DEFAULTS, 'inherits')).toEqual({
      name: 'inherits',
      mode: 'notify',
      match: { kind: 'autoScalingGroup', autoScalingGroup: 'inherits-asg' },
      launchTemplate: { name: 'lt-a', version: '$Default' },
      tags: {},
      checks: {
        image: false,
        instanceType: BUILT_IN_DEFAULTS.checks.instanceType,
        securityGroups: BUILT_IN_DEFAULTS.checks.securityGroups,
        maxAgeDays: 30,
        strictTags: { prefix: 'acme:' },
      },
      team: 'platform',
      exclude: { tags: {} },
      budget: { maxConcurrent: { count: 3 }, minHealthyPercent: BUILT_IN_DEFAULTS.budget.minHealthyPercent },
      rollout: { bakeMinutes: 0, alarms: [], maxFailures: 0, approval: 'automatic' },
      window: {
        timezone: 'Europe/Berlin',
        allow: [{ text: 'Mon-Fri 09:00-17:00', days: [0, 1, 2, 3, 4], startMinute: 540, endMinute: 1020 }],
      },
    });
  });

  it('lets a fleet override each default field by field, and replace the window whole', () => {
    expect(fleet(WITH_DEFAULTS, 'overrides')).toEqual({
      name: 'overrides',
      mode: 'enforce',
      match: { kind: 'tags', tags: { App: 'api' } },
      launchTemplate: { id: 'lt-0123456789abcdef0', version: 5 },
      tags: { Owner: 'team-api' },
      checks: {
        image: true,
        instanceType: BUILT_IN_DEFAULTS.checks.instanceType,
        securityGroups: false,
        maxAgeDays: 7,
        strictTags: { prefix: 'acme:' },
      },
      team: 'api',
      exclude: { tags: { 'phoenix:skip': 'true' } },
      budget: { maxConcurrent: { count: 3 }, minHealthyPercent: 50 },
      rollout: { bakeMinutes: 0, alarms: [], maxFailures: 0, approval: 'automatic' },
      window: {
        timezone: 'UTC',
        allow: [{ text: 'Sat,Sun 22:00-04:00', days: [5, 6], startMinute: 1320, endMinute: 240 }],
      },
    });
  });

  it('lists fleets by name, whatever order the file declares them in', () => {
    const text = yaml(
      'version: 1',
      'fleets:',
      ...['zeta', 'alpha', 'mid'].flatMap((name) => [
        `  ${name}:`,
        `    match: { autoScalingGroup: ${name}-asg }`,
        '    launchTemplate: { name: lt }',
      ]),
    );

    expect(compile(text).fleets.map((compiled) => compiled.name)).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('stamps the result with its provenance and a revision taken from the sha256', () => {
    const provenance = provenanceOf(WITH_DEFAULTS);

    const compiled = compileDesiredState(parsed(WITH_DEFAULTS), provenance);

    expect(compiled.formatVersion).toBe(1);
    expect(compiled.provenance).toEqual(provenance);
    expect(compiled.revision).toBe(provenance.sha256.slice(0, 12));
  });

  it('compiles the same file to the same result every time, and that result survives JSON unchanged', () => {
    const first = compile(WITH_DEFAULTS);
    const second = compile(WITH_DEFAULTS);

    expect(second).toEqual(first);
    expect(JSON.parse(JSON.stringify(first))).toStrictEqual(first);
  });

  it('gives a different revision to a file that differs by one byte', () => {
    const edited = WITH_DEFAULTS.replace('maxConcurrent: 3', 'maxConcurrent: 4');

    expect(compile(edited).revision).not.toBe(compile(WITH_DEFAULTS).revision);
  });

  it('does not share objects with its input (the compiled form may be handed around freely)', () => {
    const file = parsed(WITH_DEFAULTS);

    const compiled = compileDesiredState(file, provenanceOf(WITH_DEFAULTS));
    const overrides = compiled.fleets.find((candidate) => candidate.name === 'overrides');
    if (overrides?.match.kind !== 'tags') throw new Error('expected a tag selector');
    overrides.tags.Owner = 'changed';
    overrides.match.tags.App = 'changed';

    expect(file.fleets.overrides?.tags.Owner).toBe('team-api');
    expect(file.fleets.overrides?.match.tags?.App).toBe('api');
  });

  it.each([
    {
      name: 'a fleet with two selectors',
      change: (file: DesiredStateFile) => {
        const web = file.fleets.web;
        if (web !== undefined) web.match = { autoScalingGroup: 'a', tags: { App: 'a' } };
      },
      message: 'fleet "web": match needs exactly one of autoScalingGroup or tags',
    },
    {
      name: 'a launch template with neither name nor id',
      change: (file: DesiredStateFile) => {
        const web = file.fleets.web;
        if (web !== undefined) web.launchTemplate = { version: '$Default' };
      },
      message: 'fleet "web": launchTemplate needs exactly one of name or id',
    },
  ])('refuses $name even when handed an unvalidated file', ({ change, message }) => {
    const text = yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt }',
    );
    const file = parsed(text);
    change(file);

    expect(() => compileDesiredState(file, provenanceOf(text))).toThrow(new InvalidInputError(message));
  });

  it('refuses a provenance whose sha256 is not one', () => {
    const text = yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt }',
    );

    expect(() => compileDesiredState(parsed(text), { commit: 'abc', path: 'p', sha256: 'abc' })).toThrow(
      InvalidInputError,
    );
  });
});

describe('budgets and rollouts as compiled', () => {
  const withRollouts = yaml(
    'version: 1',
    'defaults:',
    '  budget: { maxConcurrent: "10%" }',
    '  rollout: { canary: 1, bakeMinutes: 30, alarms: [site-5xx], after: staging }',
    'fleets:',
    '  staging:',
    '    match: { autoScalingGroup: staging-asg }',
    '    launchTemplate: { name: lt }',
    '  web:',
    '    match: { autoScalingGroup: web-asg }',
    '    launchTemplate: { name: lt }',
    '    budget: { maxConcurrent: 25% }',
    '    rollout: { canary: "5%", alarms: [web-5xx, web-p99], maxFailures: 1, approval: manual }',
    '  api:',
    '    match: { autoScalingGroup: api-asg }',
    '    launchTemplate: { name: lt }',
    '    budget: { maxConcurrent: 4 }',
    '    rollout: { after: web }',
  );

  it('keeps a percentage budget as a share of the fleet, and a count as a count', () => {
    expect(fleet(withRollouts, 'staging').budget.maxConcurrent).toEqual({ percent: 10 });
    expect(fleet(withRollouts, 'web').budget.maxConcurrent).toEqual({ percent: 25 });
    expect(fleet(withRollouts, 'api').budget.maxConcurrent).toEqual({ count: 4 });
  });

  it('inherits each rollout field from defaults separately; a list replaces the default list whole', () => {
    expect(fleet(withRollouts, 'web').rollout).toEqual({
      canary: { percent: 5 },
      bakeMinutes: 30,
      alarms: ['web-5xx', 'web-p99'],
      maxFailures: 1,
      approval: 'manual',
      after: 'staging',
    });
    expect(fleet(withRollouts, 'api').rollout).toEqual({
      canary: { count: 1 },
      bakeMinutes: 30,
      alarms: ['site-5xx'],
      maxFailures: 0,
      approval: 'automatic',
      after: 'web',
    });
  });

  it('does not promote the fleet a default `after` names from itself', () => {
    expect(fleet(withRollouts, 'staging').rollout.after).toBeUndefined();
  });
});
