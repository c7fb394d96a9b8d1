import { describe, expect, it } from 'vitest';
import {
  formatIssue,
  parseDesiredState,
  type ValidationIssue,
} from '../../../functions/domain/desired-state/validate';

const FILE = 'phoenix.yaml';

/** Lines joined into a file (each case reads as the file it is). */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** A valid fleet to embed, so each case shows only what it breaks. */
const WEB = ['  web:', '    match: { autoScalingGroup: web-prod }', '    launchTemplate: { name: web-lt }'];

/**
 * Where an issue must point: the 1-based line and the text it must start at on that line
 * (the column is where that text begins, so the case says *what* is pointed at).
 */
interface Expected {
  line: number;
  at: string;
  message: string;
}

function columnOf(text: string, line: number, at: string): number {
  if (at === '') return 1;
  const source = text.split('\n')[line - 1] ?? '';
  const index = source.indexOf(at);
  if (index < 0) throw new Error(`"${at}" does not occur on line ${line}: ${source}`);
  if (source.indexOf(at, index + at.length) >= 0)
    throw new Error(`"${at}" is ambiguous on line ${line}: ${source}`);
  return index + 1;
}

function expectedIssue(text: string, expected: Expected): ValidationIssue {
  return {
    file: FILE,
    line: expected.line,
    column: columnOf(text, expected.line, expected.at),
    message: expected.message,
  };
}

function issuesOf(text: string): ValidationIssue[] {
  const result = parseDesiredState(text, FILE);
  if (result.ok) throw new Error('expected the file to be refused, but it validated');
  return result.issues;
}

interface Case {
  name: string;
  text: string;
  expected: Expected;
}

const cases: Case[] = [
  {
    name: 'a YAML syntax error',
    text: yaml('version: 1', 'fleets:', '  web: match: {}'),
    expected: {
      line: 3,
      at: 'match',
      message: 'YAML syntax error: Nested mappings are not allowed in compact mappings',
    },
  },
  {
    name: 'a tab used as indentation',
    text: yaml('version: 1', 'fleets:', '\tweb: {}'),
    expected: { line: 3, at: '', message: 'YAML syntax error: Tabs are not allowed as indentation' },
  },
  {
    name: 'a misspelt key, with the key it was meant to be',
    text: yaml('version: 1', 'fleets:', ...WEB, '    chekcs: { image: false }'),
    expected: { line: 6, at: 'chekcs', message: 'fleets.web: unknown key "chekcs"; did you mean "checks"?' },
  },
  {
    name: 'an unknown key with no close match, listing what is allowed',
    text: yaml('version: 1', 'colour: blue', 'fleets:', ...WEB),
    expected: {
      line: 2,
      at: 'colour',
      message: 'unknown key "colour"; expected one of: $schema, version, defaults, fleets',
    },
  },
  {
    name: 'a misspelt enum value',
    text: yaml('version: 1', 'defaults:', '  mode: enforcing', 'fleets:', ...WEB),
    expected: {
      line: 3,
      at: 'enforcing',
      message:
        'defaults.mode: expected one of observe, notify, enforce, got the string "enforcing"; did you mean enforce?',
    },
  },
  {
    name: 'a number where a tag value (a string) is expected',
    text: yaml('version: 1', 'fleets:', ...WEB, '    tags: { Revision: 1234 }'),
    expected: {
      line: 6,
      at: '1234',
      message:
        'fleets.web.tags.Revision: expected a string, got the number 1234; quote it to make it a string: "1234"',
    },
  },
  {
    name: 'a string where a number is expected',
    text: yaml('version: 1', 'fleets:', ...WEB, '    checks: { maxAgeDays: "30" }'),
    expected: {
      line: 6,
      at: '"30"',
      message: 'fleets.web.checks.maxAgeDays: expected a number, got the string "30"',
    },
  },
  {
    name: 'an empty value where a mapping is expected',
    text: yaml('version: 1', 'fleets:', '  web:', '    match:', '    launchTemplate: { name: web-lt }'),
    expected: { line: 4, at: 'match', message: 'fleets.web.match: expected a mapping, got an empty value' },
  },
  {
    name: 'a missing required key, at the mapping that lacks it',
    text: yaml('version: 1', 'fleets:', '  web:', '    match: { autoScalingGroup: web-prod }'),
    expected: {
      line: 3,
      at: 'web',
      message: 'fleets.web: missing required key "launchTemplate" (expected a mapping)',
    },
  },
  {
    name: 'a missing format version',
    text: yaml('# no version', 'fleets:', ...WEB),
    expected: { line: 2, at: 'fleets', message: 'missing required key "version" (expected 1)' },
  },
  {
    name: 'an unsupported format version',
    text: yaml('version: 2', 'fleets:', ...WEB),
    expected: { line: 1, at: '2', message: 'version: expected 1, got the number 2' },
  },
  {
    name: 'a file with no fleet',
    text: yaml('version: 1', 'fleets: {}'),
    expected: { line: 2, at: '{}', message: 'fleets: expected at least one fleet, got an empty mapping' },
  },
  {
    name: 'a fleet name that cannot name AWS resources',
    text: yaml(
      'version: 1',
      'fleets:',
      '  Web_Prod:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 3,
      at: 'Web_Prod',
      message:
        'fleets: invalid key "Web_Prod": expected a fleet name of lowercase letters, digits and dashes (at most 63)',
    },
  },
  {
    name: 'a duplicate fleet name, with the line of the first',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '  web:',
      '    match: { autoScalingGroup: web-blue }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 6,
      at: 'web:',
      message: 'fleets: duplicate fleet name "web" (first declared at line 3): expected each fleet name once',
    },
  },
  {
    name: 'a duplicate key inside a fleet',
    text: yaml('version: 1', 'fleets:', ...WEB, '    team: web', '    team: api'),
    expected: {
      line: 7,
      at: 'team',
      message: 'fleets.web: duplicate key "team" (first at line 6): expected each key once',
    },
  },
  {
    name: 'a fleet matched by both selectors',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod, tags: { App: web } }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 4,
      at: 'match',
      message: 'fleets.web.match: expected exactly one of autoScalingGroup or tags, got both',
    },
  },
  {
    name: 'a fleet with no selector',
    text: yaml('version: 1', 'fleets:', '  web:', '    match: {}', '    launchTemplate: { name: web-lt }'),
    expected: {
      line: 4,
      at: 'match',
      message: 'fleets.web.match: expected exactly one of autoScalingGroup or tags, got neither',
    },
  },
  {
    name: 'a fleet named __proto__ (it used to vanish, leaving "valid (1 fleet)")',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '  __proto__:',
      '    match: { autoScalingGroup: other }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 6,
      at: '__proto__',
      message:
        'fleets: invalid key "__proto__": expected a fleet name of lowercase letters, digits and dashes (at most 63)',
    },
  },
  {
    name: 'a declared __proto__ tag whose value is no string',
    text: yaml('version: 1', 'fleets:', ...WEB, '    tags: { __proto__: 5 }'),
    expected: {
      line: 6,
      at: '5',
      message:
        'fleets.web.tags.__proto__: expected a string, got the number 5; quote it to make it a string: "5"',
    },
  },
  {
    name: 'a __proto__ key where the schema knows its keys',
    text: yaml('version: 1', 'defaults: { __proto__: { mode: enforce } }', 'fleets:', ...WEB),
    expected: {
      line: 2,
      at: '__proto__',
      message:
        'defaults: unknown key "__proto__"; expected one of: mode, budget, rollout, window, checks, notifications',
    },
  },
  {
    name: 'an empty tag selector (it would match every instance)',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { tags: {} }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 4,
      at: '{}',
      message:
        'fleets.web.match.tags: expected at least one tag (an empty selector would match every instance), got an empty mapping',
    },
  },
  {
    name: 'two fleets selecting the same Auto Scaling group',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '  api:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: api-lt }',
    ),
    expected: {
      line: 7,
      at: 'web-prod',
      message:
        'fleets.api.match.autoScalingGroup: Auto Scaling group "web-prod" is already selected by fleet "web" (line 4): expected each instance to belong to one fleet',
    },
  },
  {
    name: 'two fleets selecting the same tags, whatever their order',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { tags: { App: web, Env: prod } }',
      '    launchTemplate: { name: web-lt }',
      '  web2:',
      '    match: { tags: { Env: prod, App: web } }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 7,
      at: 'tags',
      message:
        'fleets.web2.match.tags: the tag selector {App=web, Env=prod} is already selected by fleet "web" (line 4): expected each instance to belong to one fleet',
    },
  },
  {
    name: 'a launch template named both ways',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt, id: lt-0123456789abcdef0 }',
    ),
    expected: {
      line: 5,
      at: 'launchTemplate',
      message: 'fleets.web.launchTemplate: expected exactly one of name or id, got both',
    },
  },
  {
    name: 'a launch template named neither way',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { version: 3 }',
    ),
    expected: {
      line: 5,
      at: 'launchTemplate',
      message: 'fleets.web.launchTemplate: expected exactly one of name or id, got neither',
    },
  },
  {
    name: 'a launch template version that is neither $Default, $Latest nor a number',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt, version: latest }',
    ),
    expected: {
      line: 5,
      at: 'latest',
      message:
        'fleets.web.launchTemplate.version: expected $Default, $Latest or a version number (1 or more), got the string "latest"',
    },
  },
  {
    name: 'a malformed launch template id',
    text: yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { id: web-lt }',
    ),
    expected: {
      line: 5,
      at: 'web-lt',
      message:
        'fleets.web.launchTemplate.id: expected a launch template id like lt-0123456789abcdef0, got the string "web-lt"',
    },
  },
  {
    name: 'an invalid time zone, with the zone it was meant to be',
    text: yaml(
      'version: 1',
      'defaults:',
      '  window: { timezone: Europe/Berln, allow: ["Mon-Fri 09:00-17:00"] }',
      'fleets:',
      ...WEB,
    ),
    expected: {
      line: 3,
      at: 'Europe/Berln',
      message:
        'defaults.window.timezone: expected an IANA time zone such as Europe/Berlin or UTC, got "Europe/Berln"; did you mean Europe/Berlin?',
    },
  },
  {
    name: 'overlapping window ranges, saying when they overlap',
    text: yaml(
      'version: 1',
      'defaults:',
      '  window:',
      '    timezone: UTC',
      '    allow:',
      '      - "Mon-Fri 09:00-17:00"',
      '      - "Wed 16:00-18:00"',
      'fleets:',
      ...WEB,
    ),
    expected: {
      line: 7,
      at: '"Wed',
      message:
        'defaults.window.allow[1]: "Wed 16:00-18:00" overlaps allow[0] "Mon-Fri 09:00-17:00" (Wed 16:00 to Wed 17:00): expected ranges that do not overlap',
    },
  },
  {
    name: 'an overnight range overlapping the next morning across the end of the week',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '    window: { timezone: UTC, allow: ["Sun 22:00-02:00", "Mon 01:00-03:00"] }',
    ),
    expected: {
      line: 6,
      at: '"Mon',
      message:
        'fleets.web.window.allow[1]: "Mon 01:00-03:00" overlaps allow[0] "Sun 22:00-02:00" (Mon 01:00 to Mon 02:00): expected ranges that do not overlap',
    },
  },
  {
    name: 'an empty window range (start equals end)',
    text: yaml('version: 1', 'fleets:', ...WEB, '    window: { timezone: UTC, allow: ["Sat 10:00-10:00"] }'),
    expected: {
      line: 6,
      at: '"Sat',
      message:
        'fleets.web.window.allow[0]: "Sat 10:00-10:00" is empty: expected an end time different from the start (a whole day is 00:00-24:00)',
    },
  },
  {
    name: 'a window range that lists a day twice',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '    window: { timezone: UTC, allow: ["Mon-Wed,Tue 10:00-11:00"] }',
    ),
    expected: {
      line: 6,
      at: '"Mon',
      message:
        'fleets.web.window.allow[0]: "Mon-Wed,Tue 10:00-11:00" lists Tue twice: expected each day once',
    },
  },
  {
    name: 'a window range that is not "DAYS HH:MM-HH:MM"',
    text: yaml('version: 1', 'fleets:', ...WEB, '    window: { timezone: UTC, allow: ["weekdays 9-5"] }'),
    expected: {
      line: 6,
      at: '"weekdays',
      message:
        'fleets.web.window.allow[0]: expected days and a time range like "Mon-Fri 09:00-17:00" (days Mon..Sun, ranged or comma-separated; 24-hour times HH:MM, end may be 24:00), got the string "weekdays 9-5"',
    },
  },
  {
    name: 'a window with no range',
    text: yaml('version: 1', 'fleets:', ...WEB, '    window: { timezone: UTC, allow: [] }'),
    expected: { line: 6, at: '[]', message: 'fleets.web.window.allow: expected at least 1 entry, got none' },
  },
  {
    name: 'maxConcurrent below 1',
    text: yaml('version: 1', 'defaults:', '  budget: { maxConcurrent: 0 }', 'fleets:', ...WEB),
    expected: {
      line: 3,
      at: '0',
      message:
        'defaults.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 0',
    },
  },
  {
    name: 'maxConcurrent that is not a whole number',
    text: yaml('version: 1', 'fleets:', ...WEB, '    budget: { maxConcurrent: 1.5 }'),
    expected: {
      line: 6,
      at: '1.5',
      message:
        'fleets.web.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 1.5',
    },
  },
  {
    name: 'minHealthyPercent above 100',
    text: yaml('version: 1', 'fleets:', ...WEB, '    budget: { minHealthyPercent: 101 }'),
    expected: {
      line: 6,
      at: '101',
      message: 'fleets.web.budget.minHealthyPercent: expected a number from 0 to 100, got 101',
    },
  },
  {
    name: 'minHealthyPercent below 0',
    text: yaml('version: 1', 'defaults:', '  budget: { minHealthyPercent: -5 }', 'fleets:', ...WEB),
    expected: {
      line: 3,
      at: '-5',
      message: 'defaults.budget.minHealthyPercent: expected a number from 0 to 100, got -5',
    },
  },
  {
    name: 'a declared tag key starting with aws:',
    text: yaml('version: 1', 'fleets:', ...WEB, '    tags: { "aws:owner": team-web }'),
    expected: {
      line: 6,
      at: '"aws:owner"',
      message:
        'fleets.web.tags: invalid key "aws:owner": expected a key that does not start with "aws:" (reserved by AWS, it cannot be set)',
    },
  },
  {
    name: 'a tag key longer than 128 characters',
    text: yaml('version: 1', 'fleets:', ...WEB, `    tags: { ${'k'.repeat(129)}: v }`),
    expected: {
      line: 6,
      at: 'k'.repeat(129),
      message: `fleets.web.tags: invalid key "${'k'.repeat(60)}…": expected at most 128 characters, got 129 characters`,
    },
  },
  {
    name: 'a tag value longer than 256 characters',
    text: yaml('version: 1', 'fleets:', ...WEB, `    tags: { Owner: ${'v'.repeat(257)} }`),
    expected: {
      line: 6,
      at: 'v'.repeat(257),
      message: 'fleets.web.tags.Owner: expected at most 256 characters, got 257 characters',
    },
  },
  {
    name: 'an exclusion tag value that is a boolean',
    text: yaml('version: 1', 'fleets:', ...WEB, '    exclude: { tags: { "phoenix:skip": true } }'),
    expected: {
      line: 6,
      at: 'true',
      message:
        'fleets.web.exclude.tags["phoenix:skip"]: expected a string, got the boolean true; quote it to make it a string: "true"',
    },
  },
  {
    name: 'maxAgeDays of 0',
    text: yaml('version: 1', 'defaults:', '  checks:', '    maxAgeDays: 0', 'fleets:', ...WEB),
    expected: {
      line: 4,
      at: '0',
      message: 'defaults.checks.maxAgeDays: expected a whole number of at least 1, got 0',
    },
  },
  {
    name: 'a YAML merge key, which the format does not support',
    text: yaml('version: 1', 'fleets:', ...WEB, '    <<: { team: web }'),
    expected: {
      line: 6,
      at: '<<',
      message:
        'fleets.web: unknown key "<<"; YAML merge keys are not supported: repeat the keys, or anchor (&) and alias (*) a whole value',
    },
  },
  {
    name: 'a budget percentage of 0%',
    text: yaml('version: 1', 'defaults:', '  budget: { maxConcurrent: "0%" }', 'fleets:', ...WEB),
    expected: {
      line: 3,
      at: '"0%"',
      message:
        'defaults.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the string "0%"',
    },
  },
  {
    name: 'a budget percentage above 100%',
    text: yaml('version: 1', 'fleets:', ...WEB, '    budget: { maxConcurrent: 150% }'),
    expected: {
      line: 6,
      at: '150%',
      message:
        'fleets.web.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the string "150%"',
    },
  },
  {
    name: 'a budget of a fraction of an instance',
    text: yaml('version: 1', 'fleets:', ...WEB, '    budget: { maxConcurrent: 1.5 }'),
    expected: {
      line: 6,
      at: '1.5',
      message:
        'fleets.web.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 1.5',
    },
  },
  {
    name: 'a canary that is a word',
    text: yaml('version: 1', 'fleets:', ...WEB, '    rollout: { canary: some }'),
    expected: {
      line: 6,
      at: 'some',
      message:
        'fleets.web.rollout.canary: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the string "some"',
    },
  },
  {
    name: 'a negative bake',
    text: yaml('version: 1', 'fleets:', ...WEB, '    rollout: { bakeMinutes: -5 }'),
    expected: {
      line: 6,
      at: '-5',
      message: 'fleets.web.rollout.bakeMinutes: expected a whole number from 0 to 10080, got -5',
    },
  },
  {
    name: 'an approval that is neither manual nor automatic',
    text: yaml('version: 1', 'fleets:', ...WEB, '    rollout: { approval: yes-please }'),
    expected: {
      line: 6,
      at: 'yes-please',
      message: 'fleets.web.rollout.approval: expected one of manual, automatic, got the string "yes-please"',
    },
  },
  {
    name: 'an alarm listed twice',
    text: yaml('version: 1', 'fleets:', ...WEB, '    rollout: { alarms: [web-5xx, web-p99, web-5xx] }'),
    expected: {
      line: 6,
      at: 'web-5xx]',
      message: 'fleets.web.rollout.alarms[2]: alarm "web-5xx" is listed twice: expected each alarm once',
    },
  },
  {
    name: 'a promotion from a fleet that is not declared',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '    rollout: { after: stagign }',
      '  staging:',
      '    match: { autoScalingGroup: staging }',
      '    launchTemplate: { name: web-lt }',
    ),
    expected: {
      line: 6,
      at: 'stagign',
      message:
        'fleets.web.rollout.after: expected the name of another declared fleet, got "stagign"; did you mean "staging"?',
    },
  },
  {
    name: 'a fleet promoted from itself',
    text: yaml('version: 1', 'fleets:', ...WEB, '    rollout: { after: web }'),
    expected: {
      line: 6,
      at: 'web }',
      message:
        'fleets.web.rollout.after: a fleet cannot be promoted from itself: expected the name of another fleet',
    },
  },
  {
    name: 'promotions that go round in a cycle',
    text: yaml(
      'version: 1',
      'fleets:',
      ...WEB,
      '    rollout: { after: api }',
      '  api:',
      '    match: { autoScalingGroup: api-prod }',
      '    launchTemplate: { name: api-lt }',
      '    rollout: { after: web }',
    ),
    expected: {
      line: 6,
      at: 'api }',
      message:
        'fleets.web.rollout.after: promotion goes round in a cycle (web → api → web): expected a chain that starts somewhere',
    },
  },
  {
    name: 'an empty file',
    text: '',
    expected: {
      line: 1,
      at: '',
      message: 'the file is empty: expected a mapping with version: 1 and fleets',
    },
  },
  {
    name: 'a file that is a list, not a mapping',
    text: yaml('- web', '- api'),
    expected: { line: 1, at: '-', message: 'expected a mapping, got a list' },
  },
];

describe('parseDesiredState refuses each kind of bad input at the offending key or value', () => {
  it.each(cases)('$name', ({ text, expected }) => {
    const issues = issuesOf(text);

    expect(issues).toEqual([expectedIssue(text, expected)]);
  });
});

describe('parseDesiredState', () => {
  it('reports every problem in a file at once, in source order', () => {
    const text = yaml(
      'version: 1',
      'defaults:',
      '  mode: enforcing',
      '  budget: { maxConcurrent: 0, minHealthyPercent: 120 }',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt, id: lt-0abc }',
      '    tags: { "aws:x": y }',
      '    window: { timezone: Mars/Olympus, allow: ["Mon 09:00-12:00", "Mon 11:00-13:00"] }',
      '  api:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplat: { name: api-lt }',
    );

    const issues = issuesOf(text).map(formatIssue);

    expect(issues).toEqual([
      'phoenix.yaml:3:9 defaults.mode: expected one of observe, notify, enforce, got the string "enforcing"; did you mean enforce?',
      'phoenix.yaml:4:28 defaults.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 0',
      'phoenix.yaml:4:50 defaults.budget.minHealthyPercent: expected a number from 0 to 100, got 120',
      'phoenix.yaml:8:5 fleets.web.launchTemplate: expected exactly one of name or id, got both',
      'phoenix.yaml:9:13 fleets.web.tags: invalid key "aws:x": expected a key that does not start with "aws:" (reserved by AWS, it cannot be set)',
      'phoenix.yaml:10:25 fleets.web.window.timezone: expected an IANA time zone such as Europe/Berlin or UTC, got "Mars/Olympus"',
      'phoenix.yaml:10:66 fleets.web.window.allow[1]: "Mon 11:00-13:00" overlaps allow[0] "Mon 09:00-12:00" (Mon 11:00 to Mon 12:00): expected ranges that do not overlap',
      'phoenix.yaml:11:3 fleets.api: missing required key "launchTemplate" (expected a mapping)',
      'phoenix.yaml:12:32 fleets.api.match.autoScalingGroup: Auto Scaling group "web-prod" is already selected by fleet "web" (line 7): expected each instance to belong to one fleet',
      'phoenix.yaml:13:5 fleets.api: unknown key "launchTemplat"; did you mean "launchTemplate"?',
    ]);
  });

  it('reports every YAML syntax error, and only those (the rest of the file cannot be trusted)', () => {
    const text = yaml('version: 3', 'fleets:', '\tweb: {}', 'defaults: @x');

    const issues = issuesOf(text).map(formatIssue);

    expect(issues).toEqual([
      'phoenix.yaml:3:1 YAML syntax error: Tabs are not allowed as indentation',
      'phoenix.yaml:4:11 YAML syntax error: Plain value cannot start with reserved character @',
    ]);
  });

  it('still checks a fleet whose name is duplicated or invalid, so fixing one problem reveals no hidden one', () => {
    const text = yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match: { autoScalingGroup: web-prod }',
      '    launchTemplate: { name: web-lt }',
      '    budget: { maxConcurrent: 0 }',
      '  web:',
      '    match: { autoScalingGroup: web-blue }',
      '    launchTemplate: { name: web-lt }',
      '  Bad_Name:',
      '    match: { autoScalingGroup: other }',
      '    launchTemplate: { name: web-lt }',
      '    mode: sometimes',
    );

    const messages = issuesOf(text).map((issue) => `${issue.line}: ${issue.message}`);

    expect(messages).toEqual([
      '6: fleets.web.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 0',
      '7: fleets: duplicate fleet name "web" (first declared at line 3): expected each fleet name once',
      '10: fleets: invalid key "Bad_Name": expected a fleet name of lowercase letters, digits and dashes (at most 63)',
      '13: fleets.Bad_Name.mode: expected one of observe, notify, enforce, got the string "sometimes"',
    ]);
  });

  it('refuses aliases that expand exponentially ("billion laughs") instead of expanding them', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 9; level += 1) {
      lines.push(`a${level}: &a${level} [${Array.from({ length: 9 }, () => `*a${level - 1}`).join(', ')}]`);
    }

    const issues = issuesOf(yaml(...lines, 'version: 1', 'fleets:', ...WEB));

    expect(issues.map(formatIssue)).toEqual([
      'phoenix.yaml:1:1 YAML aliases expand too far: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });

  it.each([
    { style: 'flow', far: 100_000, nest: (n: number) => `${'['.repeat(n)}${']'.repeat(n)}` },
    {
      style: 'block',
      far: 5_000,
      nest: (n: number) => `\n${Array.from({ length: n }, (_, i) => `${'  '.repeat(i + 3)}k:`).join('\n')}`,
    },
  ])(
    'refuses $style nesting past 32 levels at the first level too deep, without overflowing the stack',
    ({ nest, far: farLevels }) => {
      // The root, fleets and web are three levels: the match value nests the rest.
      const at = (levels: number) =>
        yaml(
          'version: 1',
          'fleets:',
          '  web:',
          `    launchTemplate: { name: web-lt }`,
          `    match: ${nest(levels)}`,
        );

      const within = issuesOf(at(29)).map(formatIssue);
      const past = issuesOf(at(30)).map(formatIssue);
      const far = issuesOf(at(farLevels)).map(formatIssue);

      expect(within.join('\n')).not.toMatch(/nested too deeply|call stack/);
      expect(past).toEqual([
        expect.stringMatching(/^phoenix\.yaml:\d+:\d+ nested too deeply: more than 32 levels/),
      ]);
      expect(far).toEqual(past);
    },
  );

  it('points into block-style YAML as precisely as into flow style', () => {
    const text = yaml(
      'version: 1',
      'fleets:',
      '  web:',
      '    match:',
      '      autoScalingGroup: web-prod',
      '    launchTemplate:',
      '      name: web-lt',
      '    budget:',
      '      maxConcurrent: 0',
    );

    expect(issuesOf(text)).toEqual([
      {
        file: FILE,
        line: 9,
        column: 22,
        message:
          'fleets.web.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 0',
      },
    ]);
  });

  it('keeps a __proto__ tag, selector and exclusion as data: EC2 allows the key', () => {
    const result = parseDesiredState(
      yaml(
        'version: 1',
        'fleets:',
        '  web:',
        '    match: { tags: { __proto__: web } }',
        '    launchTemplate: { name: web-lt }',
        '    tags: { __proto__: x, constructor: y }',
        '    exclude: { tags: { __proto__: skip } }',
      ),
      FILE,
    );

    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    const web = result.value.fleets.web;
    expect(Object.entries(web?.tags ?? {})).toEqual([
      ['constructor', 'y'],
      ['__proto__', 'x'],
    ]);
    expect(Object.entries(web?.match.tags ?? {})).toEqual([['__proto__', 'web']]);
    expect(Object.entries(web?.exclude?.tags ?? {})).toEqual([['__proto__', 'skip']]);
    expect(Object.getPrototypeOf(web?.tags)).toBe(Object.prototype);
  });

  it('reads a minimal file, filling in what has a default', () => {
    const result = parseDesiredState(yaml('version: 1', 'fleets:', ...WEB), FILE);

    expect(result).toEqual({
      ok: true,
      value: {
        version: 1,
        fleets: {
          web: {
            match: { autoScalingGroup: 'web-prod' },
            launchTemplate: { name: 'web-lt', version: '$Default' },
            tags: {},
          },
        },
      },
    });
  });

  it.each([
    {
      name: 'aws: tag keys in selectors and exclusions (they are only read)',
      lines: [
        '  web:',
        '    match: { tags: { "aws:cloudformation:stack-name": web } }',
        '    launchTemplate: { name: web-lt }',
        '    exclude: { tags: { "aws:autoscaling:groupName": canary } }',
      ],
    },
    {
      name: 'window ranges that touch without overlapping, a 24:00 end and an overnight range',
      lines: [
        ...WEB,
        '    window:',
        '      timezone: Europe/Berlin',
        '      allow: ["Mon-Fri 09:00-12:00", "Mon-Fri 12:00-24:00", "Sat 22:00-02:00", "Sun 02:00-03:00"]',
      ],
    },
    {
      name: 'ranged days that wrap past Sunday',
      lines: [...WEB, '    window: { timezone: UTC, allow: ["Fri-Mon 01:00-05:00", "Tue-Thu 01:00-05:00"] }'],
    },
    {
      name: 'a launch template by id with a version number, and $Latest',
      lines: [
        '  web:',
        '    match: { autoScalingGroup: web-prod }',
        '    launchTemplate: { id: lt-0123456789abcdef0, version: 7 }',
        '  api:',
        '    match: { autoScalingGroup: api-prod }',
        '    launchTemplate: { name: api-lt, version: $Latest }',
      ],
    },
    {
      name: 'YAML anchors and aliases reused across fleets',
      lines: [
        '  web:',
        '    match: { autoScalingGroup: web-prod }',
        '    launchTemplate: { name: web-lt }',
        '    tags: &owned { Owner: team-web }',
        '  api:',
        '    match: { autoScalingGroup: api-prod }',
        '    launchTemplate: { name: api-lt }',
        '    tags: *owned',
      ],
    },
  ])('accepts $name', ({ lines }) => {
    const result = parseDesiredState(yaml('version: 1', 'fleets:', ...lines), FILE);

    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([]);
  });
});

describe('formatIssue', () => {
  it('prints file:line:col message, the form editors and CI logs link to', () => {
    expect(
      formatIssue({ file: 'infra/phoenix.yaml', line: 7, column: 22, message: 'fleets.web: expected x' }),
    ).toBe('infra/phoenix.yaml:7:22 fleets.web: expected x');
  });
});
