/**
 * Compiles a validated desired-state file into the normalised form every bundle carries:
 * each fleet with every default resolved, windows parsed, fleets in name order, stamped
 * with where the file came from.
 */
import { InvalidInputError } from '../errors';
import type {
  CompiledDesiredState,
  CompiledFleet,
  Concurrency,
  FleetChecks,
  FleetSelector,
  LaunchTemplateSpec,
  MaintenanceWindow,
  Provenance,
  RolloutPolicy,
  WindowRangeSpec,
} from '../model';
import { BUILT_IN_DEFAULTS, type DesiredStateFile, type FleetDeclaration } from './schema';
import { parseWindowRange } from './windows';

/** Characters of the sha256 that name a revision (as short Git hashes do). */
export const REVISION_LENGTH = 12;

type Defaults = NonNullable<DesiredStateFile['defaults']>;
type WindowDeclaration = NonNullable<Defaults['window']>;

/** Object spread that lets an explicit `undefined` fall through to the layer beneath. */
function layered<T extends object>(...layers: (Partial<T> | undefined)[]): Partial<T> {
  const result: Partial<T> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) (result as Record<string, unknown>)[key] = value;
    }
  }
  return result;
}

function compileWindow(window: WindowDeclaration, fleet: string): MaintenanceWindow {
  const allow: WindowRangeSpec[] = window.allow.map((text) => {
    const parsed = parseWindowRange(text);
    if (!parsed.ok) throw new InvalidInputError(`fleet "${fleet}": window range ${parsed.message}`);
    return parsed.range;
  });
  return { timezone: window.timezone, allow };
}

function compileSelector(fleet: FleetDeclaration, name: string): FleetSelector {
  const { autoScalingGroup, tags } = fleet.match;
  if (autoScalingGroup !== undefined && tags === undefined)
    return { kind: 'autoScalingGroup', autoScalingGroup };
  if (tags !== undefined && autoScalingGroup === undefined) return { kind: 'tags', tags: { ...tags } };
  throw new InvalidInputError(`fleet "${name}": match needs exactly one of autoScalingGroup or tags`);
}

function compileLaunchTemplate(fleet: FleetDeclaration, name: string): LaunchTemplateSpec {
  const { id, name: templateName, version } = fleet.launchTemplate;
  if (id !== undefined && templateName === undefined) return { id, version };
  if (templateName !== undefined && id === undefined) return { name: templateName, version };
  throw new InvalidInputError(`fleet "${name}": launchTemplate needs exactly one of name or id`);
}

function compileChecks(defaults: Defaults, fleet: FleetDeclaration): FleetChecks {
  const merged = layered<FleetChecks>(BUILT_IN_DEFAULTS.checks, defaults.checks, fleet.checks);
  const checks: FleetChecks = {
    image: merged.image ?? BUILT_IN_DEFAULTS.checks.image,
    instanceType: merged.instanceType ?? BUILT_IN_DEFAULTS.checks.instanceType,
    securityGroups: merged.securityGroups ?? BUILT_IN_DEFAULTS.checks.securityGroups,
  };
  // Absent rather than undefined: the compiled form is JSON and should read cleanly.
  if (merged.maxAgeDays !== undefined) checks.maxAgeDays = merged.maxAgeDays;
  if (merged.strictTags !== undefined) checks.strictTags = { prefix: merged.strictTags.prefix };
  return checks;
}

/** `3` or `"10%"` as the compiled form says it. */
export function compileConcurrency(value: number | string): Concurrency {
  return typeof value === 'number' ? { count: value } : { percent: Number.parseFloat(value) };
}

function compileRollout(name: string, defaults: Defaults, fleet: FleetDeclaration): RolloutPolicy {
  type RolloutDeclaration = NonNullable<Defaults['rollout']>;
  const merged = layered<RolloutDeclaration>(BUILT_IN_DEFAULTS.rollout, defaults.rollout, fleet.rollout);
  const rollout: RolloutPolicy = {
    bakeMinutes: merged.bakeMinutes ?? BUILT_IN_DEFAULTS.rollout.bakeMinutes,
    alarms: [...new Set(merged.alarms ?? [])],
    maxFailures: merged.maxFailures ?? BUILT_IN_DEFAULTS.rollout.maxFailures,
    approval: merged.approval ?? BUILT_IN_DEFAULTS.rollout.approval,
  };
  if (merged.canary !== undefined) rollout.canary = compileConcurrency(merged.canary);
  // A default `after` promotes every fleet from the one it names, but not that fleet itself.
  const after =
    fleet.rollout?.after ?? (defaults.rollout?.after === name ? undefined : defaults.rollout?.after);
  if (after !== undefined) rollout.after = after;
  return rollout;
}

function compileFleet(name: string, fleet: FleetDeclaration, defaults: Defaults): CompiledFleet {
  const budget = layered(BUILT_IN_DEFAULTS.budget, defaults.budget, fleet.budget);
  const window = fleet.window ?? defaults.window;
  const compiled: CompiledFleet = {
    name,
    mode: fleet.mode ?? defaults.mode ?? BUILT_IN_DEFAULTS.mode,
    match: compileSelector(fleet, name),
    launchTemplate: compileLaunchTemplate(fleet, name),
    tags: { ...fleet.tags },
    checks: compileChecks(defaults, fleet),
    team: fleet.team ?? defaults.notifications?.team ?? BUILT_IN_DEFAULTS.team,
    exclude: { tags: { ...(fleet.exclude?.tags ?? {}) } },
    budget: {
      maxConcurrent: compileConcurrency(budget.maxConcurrent ?? BUILT_IN_DEFAULTS.budget.maxConcurrent),
      minHealthyPercent: budget.minHealthyPercent ?? BUILT_IN_DEFAULTS.budget.minHealthyPercent,
    },
    rollout: compileRollout(name, defaults, fleet),
  };
  if (window !== undefined) compiled.window = compileWindow(window, name);
  return compiled;
}

/**
 * Resolves every default (built-in, then `defaults:`, then the fleet's own value) and stamps
 * the result with its provenance. The revision is the first {@link REVISION_LENGTH} hex
 * digits of the file's sha256, so the same bytes always compile to the same revision.
 *
 * Expects a file that passed `parseDesiredState`; throws {@link InvalidInputError} for a
 * state validation would have refused (two selectors, a malformed window range).
 */
export function compileDesiredState(file: DesiredStateFile, provenance: Provenance): CompiledDesiredState {
  if (!/^[0-9a-f]{64}$/.test(provenance.sha256)) {
    throw new InvalidInputError(
      `provenance.sha256 must be 64 lowercase hex digits, got "${provenance.sha256}"`,
    );
  }
  const defaults = file.defaults ?? {};
  const fleets = Object.entries(file.fleets)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, fleet]) => compileFleet(name, fleet, defaults));
  return {
    formatVersion: 1,
    revision: provenance.sha256.slice(0, REVISION_LENGTH),
    provenance: { commit: provenance.commit, path: provenance.path, sha256: provenance.sha256 },
    fleets,
  };
}
