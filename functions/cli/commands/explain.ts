/**
 * `phoenix explain`: why Phoenix would (or would not) replace one instance. Offline: it
 * reads the desired state, the instance as JSON (from `aws ec2 describe-instances` or an
 * AWS Config item) and optionally its launch template version, and runs the same fleet
 * matching and drift engine the Lambdas run.
 */

import type { Instance, LaunchTemplateVersion } from '@aws-sdk/client-ec2';
import {
  factsFromConfigItem,
  factsFromEc2Instance,
  templateFactsFromVersion,
} from '../../aws/instance-facts';
import { evaluateDrift } from '../../domain/drift/engine';
import { type FleetMatch, findFleet } from '../../domain/drift/match';
import { InvalidInputError, PhoenixError } from '../../domain/errors';
import type {
  CompiledDesiredState,
  DriftReason,
  InstanceFacts,
  LaunchTemplateFacts,
  Verdict,
} from '../../domain/model';
import { readInputFile } from '../../io/input-file';
import { loadDesiredStateFor, outputFormatFrom, parseCommandLine } from '../command-line';
import type { CliIo } from '../io';

const HELP = `Usage: phoenix explain --desired-state FILE --instance-json FILE [options]

Says which fleet an instance belongs to and whether it has drifted, with every reason
(what is compared, what was expected, what was found, and where the expectation comes from).

  --desired-state FILE   phoenix.yaml
  --instance-json FILE   the instance: one Instance from \`aws ec2 describe-instances\`
                         (or the whole output, if it holds exactly one instance), or an
                         AWS Config configuration item for AWS::EC2::Instance
  --template-json FILE   the fleet's launch template version: one LaunchTemplateVersion from
                         \`aws ec2 describe-launch-template-versions\` (or the whole output,
                         if it holds exactly one). Without it, only the checks that need no
                         template run (declared tags, maximum age).
  --now ISO-8601         judge as of this time (default: now)
  --format text|json     output format (default: text)
  -h, --help             this help

Exit status: 0 not drifted (in sync, not applicable, or outside every fleet), 2 drifted,
1 error.`;

/** Exit status for a drifted instance, as `phoenix plan` uses it. */
export const EXIT_DRIFTED = 2;

interface Options {
  desiredState: string;
  instanceJson: string;
  templateJson: string | undefined;
  now: Date;
  format: 'text' | 'json';
}

/** What `--format json` prints. */
export interface Explanation {
  instanceId: string;
  desiredState: { path: string; commit: string; revision: string };
  match: { kind: FleetMatch['kind']; fleet?: string; why?: string };
  template: { id: string; name: string; version: number } | null;
  verdict: Verdict;
}

const OPTIONS = {
  'desired-state': { type: 'string' },
  'instance-json': { type: 'string' },
  'template-json': { type: 'string' },
  now: { type: 'string' },
  format: { type: 'string' },
} as const;

/** The options, or the exit code after printing what is wrong (or the help). */
function parseOptions(argv: string[], io: CliIo): Options | number {
  const parsed = parseCommandLine('explain', argv, OPTIONS, HELP, io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const missing = (['desired-state', 'instance-json'] as const).filter((flag) => values[flag] === undefined);
  const desiredState = values['desired-state'];
  const instanceJson = values['instance-json'];
  if (desiredState === undefined || instanceJson === undefined) {
    io.stderr(
      `phoenix explain: ${missing.map((flag) => `--${flag}`).join(' and ')} ${missing.length === 1 ? 'is' : 'are'} required (phoenix explain --help lists what it takes)`,
    );
    return 1;
  }
  // The clock is read here, at the edge; everything below takes `now` as given (checked ISO-8601).
  const now = values.now === undefined ? new Date() : new Date(values.now);
  return {
    desiredState,
    instanceJson,
    templateJson: values['template-json'],
    now,
    format: outputFormatFrom(values),
  };
}

async function readJson(file: string, flag: string): Promise<unknown> {
  const { text } = await readInputFile(file, `${flag} file`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8 says where: "… in JSON at position 14 (line 3 column 3)"; the position leads, as in file:line:col.
    const message = (error as Error).message;
    const where = / at position \d+ \(line (\d+) column (\d+)\)$/.exec(message);
    const what = message.replace(/ in JSON at position \d+.*$/, '').replace(/\s+/g, ' ');
    const position = where === null ? '' : `:${where[1]}:${where[2]}`;
    throw new InvalidInputError(`${flag} ${file}${position} is not JSON: ${what}`, { cause: error });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The one element of a list, or a clear error saying how many there were. */
function single<T>(items: readonly T[], what: string, flag: string, ids: (item: T) => string): T {
  const [only, ...rest] = items;
  if (only === undefined) throw new InvalidInputError(`${flag} holds no ${what}`);
  if (rest.length > 0) {
    throw new InvalidInputError(
      `${flag} holds ${items.length} ${what}s (${items.map(ids).join(', ')}): give exactly one`,
    );
  }
  return only;
}

/** Instance facts from whichever shape the JSON has. */
export function instanceFactsFromJson(json: unknown, flag = '--instance-json'): InstanceFacts {
  if (!isObject(json)) throw new InvalidInputError(`${flag} must hold a JSON object`);
  // A Config rule's invokingEvent wraps the item; the item itself names its resource type.
  if (isObject(json.configurationItem)) return factsFromConfigItem(json.configurationItem);
  if ('resourceType' in json || 'configurationItemStatus' in json) return factsFromConfigItem(json);
  if (Array.isArray(json.Reservations)) {
    const instances = (json.Reservations as unknown[]).flatMap((reservation) =>
      isObject(reservation) && Array.isArray(reservation.Instances)
        ? (reservation.Instances as Instance[])
        : [],
    );
    return factsFromEc2Instance(single(instances, 'instance', flag, (i) => i.InstanceId ?? '?'));
  }
  if ('InstanceId' in json) return factsFromEc2Instance(json as Instance);
  throw new InvalidInputError(
    `${flag} is neither an EC2 instance (InstanceId), a DescribeInstances output (Reservations) nor an AWS Config item (resourceType)`,
  );
}

/** Launch template facts from a LaunchTemplateVersion or a DescribeLaunchTemplateVersions output. */
export function templateFactsFromJson(json: unknown, flag = '--template-json'): LaunchTemplateFacts {
  if (!isObject(json)) throw new InvalidInputError(`${flag} must hold a JSON object`);
  if (Array.isArray(json.LaunchTemplateVersions)) {
    const versions = json.LaunchTemplateVersions as LaunchTemplateVersion[];
    return templateFactsFromVersion(
      single(versions, 'launch template version', flag, (v) => `${v.LaunchTemplateId}:${v.VersionNumber}`),
    );
  }
  if ('LaunchTemplateId' in json || 'VersionNumber' in json) {
    return templateFactsFromVersion(json as LaunchTemplateVersion);
  }
  throw new InvalidInputError(
    `${flag} is neither a launch template version (LaunchTemplateId, VersionNumber) nor a DescribeLaunchTemplateVersions output (LaunchTemplateVersions)`,
  );
}

/**
 * The explanation itself: fleet matching, then the drift engine for a member. Pure; the
 * command around it only reads files and prints.
 */
export function explain(
  desired: CompiledDesiredState,
  instance: InstanceFacts,
  template: LaunchTemplateFacts | undefined,
  now: Date,
): Explanation {
  const match = findFleet(instance, desired.fleets);
  const verdict: Verdict =
    match.kind === 'member'
      ? evaluateDrift({ instance, fleet: match.fleet, template, now })
      : match.kind === 'excluded'
        ? { status: 'not-applicable', fleet: match.fleet.name, why: match.why }
        : { status: 'not-applicable', why: match.why };
  const matched: Explanation['match'] =
    match.kind === 'member'
      ? { kind: 'member', fleet: match.fleet.name }
      : match.kind === 'excluded'
        ? { kind: 'excluded', fleet: match.fleet.name, why: match.why }
        : { kind: 'outside', why: match.why };
  return {
    instanceId: instance.instanceId,
    desiredState: {
      path: desired.provenance.path,
      commit: desired.provenance.commit,
      revision: desired.revision,
    },
    match: matched,
    template:
      template === undefined ? null : { id: template.id, name: template.name, version: template.version },
    verdict,
  };
}

function showValue(value: string | null): string {
  return value === null ? '(none)' : JSON.stringify(value);
}

function sourceText(reason: DriftReason, template: Explanation['template']): string {
  if (reason.source === 'desired-state') return 'the desired state';
  return template === null
    ? 'the launch template'
    : `launch template ${template.name} version ${template.version}`;
}

/** The text report: a person reads it in a terminal or a pull request comment. */
export function formatExplanation(explanation: Explanation): string {
  const { match, verdict, template } = explanation;
  const lines = [`Instance ${explanation.instanceId}`];
  if (match.kind === 'member') lines.push(`  fleet:    ${match.fleet}`);
  else if (match.kind === 'excluded') lines.push(`  fleet:    ${match.fleet} (excluded: ${match.why})`);
  else lines.push(`  fleet:    none (${match.why})`);
  lines.push(
    `  template: ${template === null ? 'not given (--template-json): only the checks that need no template ran' : `${template.name} (${template.id}) version ${template.version}`}`,
  );
  switch (verdict.status) {
    case 'in-sync':
      lines.push('  verdict:  in sync');
      break;
    case 'not-applicable':
      lines.push(`  verdict:  not applicable: ${verdict.why}`);
      break;
    case 'drifted': {
      const count = verdict.reasons.length;
      lines.push(
        `  verdict:  drifted (${count} reason${count === 1 ? '' : 's'}, fingerprint ${verdict.fingerprint})`,
      );
      verdict.reasons.forEach((reason, index) => {
        lines.push(
          `    ${index + 1}. ${reason.field}: expected ${showValue(reason.expected)}, actual ${showValue(reason.actual)} [${reason.kind}, from ${sourceText(reason, template)}]`,
        );
      });
      break;
    }
  }
  const { path, commit, revision } = explanation.desiredState;
  lines.push(`  desired state: ${path} at ${commit} (revision ${revision})`);
  return lines.join('\n');
}

/** Runs the command; returns the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const options = parseOptions(argv, io);
  if (typeof options === 'number') return options;

  const desired = await loadDesiredStateFor('explain', options.desiredState, io);
  if (desired === undefined) return 1;
  try {
    const instance = instanceFactsFromJson(await readJson(options.instanceJson, '--instance-json'));
    const template =
      options.templateJson === undefined
        ? undefined
        : templateFactsFromJson(await readJson(options.templateJson, '--template-json'));
    const explanation = explain(desired, instance, template, options.now);
    io.stdout(
      options.format === 'json' ? JSON.stringify(explanation, null, 2) : formatExplanation(explanation),
    );
    return explanation.verdict.status === 'drifted' ? EXIT_DRIFTED : 0;
  } catch (error) {
    if (error instanceof PhoenixError) {
      io.stderr(`phoenix explain: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
