/**
 * The invariants of a fleet rollout run (issue 14, "a real run, not a model"), judged on what
 * the run recorded: {@link checkFleetRun} turns a {@link FleetRunObservation} into typed
 * {@link FleetRunFinding}s, one per breach, and the figures the benchmark reports.
 *
 * Pure: no AWS, no clock. The scenario (`fleet-run-scenario.ts`) observes a real run on the
 * emulated account; the unit tests (test/bench/fleet-run-check.test.ts) hand it synthetic
 * observations, so every rule is proved to fail on the breach it names.
 *
 * The five invariants:
 * 1. `replaced-once`: every drifted instance replaced exactly once: one succeeded execution
 *    per original instance naming one replacement, no execution replacing a replacement, no
 *    instance launched that is not a recorded replacement, and no member left drifted.
 * 2. `healthy-capacity`: at every sample, each fleet's healthy members (an Auto Scaling
 *    group's InService and Healthy members; a tag fleet's running members), and its healthy
 *    serving targets where the sample read them, are at least its size (`minHealthyPercent: 100`).
 * 3. `execution-ended`: no execution ended blocked, failed, rolled back, in error or asking
 *    for a human, and the run itself reported no error.
 * 4. `budget`: at every sample, each fleet's leases held and its instances beyond its size
 *    (replacements visible on the account) are at most its budget in instances; and at every
 *    grant the run recorded, so are the fleet's leases certainly held then (granted, their
 *    release not yet begun: {@link grantedInFlight}), which no sampling interval can miss.
 * 5. `order`: the lease queue served its waiters as stated — see {@link checkOrder}.
 */

/** An instance of a fleet as it was before the run. */
export interface ObservedInstance {
  instanceId: string;
  az: string;
  /** Epoch milliseconds. */
  launchTime: number;
}

/** A fleet of the run. */
export interface ObservedFleet {
  name: string;
  kind: 'asg' | 'tags';
  /** The capacity the fleet is meant to have (the group's desired capacity before the run, or the fleet's members). */
  size: number;
  /** Replacements allowed in flight at once, in instances (`maxConcurrent` resolved against `size`). */
  budget: number;
  /** The drifted instances the run must replace. */
  originals: ObservedInstance[];
}

/** How one execution ended (the reconciler's record). */
export interface ObservedExecution {
  instanceId: string;
  fleet: string;
  outcome: string;
  reason: string;
  detail: string;
  replacementId: string | null;
}

/** One look at the account while the run went on. */
export interface CapacitySample {
  /** Epoch milliseconds. */
  at: number;
  fleet: string;
  /** An Auto Scaling group's InService and Healthy members; a tag fleet's running members. */
  healthy: number;
  /**
   * Targets healthy in the fleet's target group whose instance runs with status checks ok
   * (read at some samples only: it takes two more calls).
   */
  serving?: number;
  /** Budget leases (slots) the fleet's executions hold in the state table. */
  leases: number;
  /** Members beyond the fleet's size: replacements launched whose old instance is not gone yet. */
  surplus: number;
  /** The instances whose execution waits in the fleet's queue, parked and not answered (when the sampler reads the queue). */
  waiting?: string[];
  /** When `waiting` was read back (epoch milliseconds): every one of them was parked by then. */
  waitingAt?: number;
}

/**
 * What the lease step's output carries for a grant made after a wait (`$.lease.queue`): the
 * waiter's zone and launch time as the queue read them, when it parked and when it was granted.
 */
export interface QueueData {
  az: string;
  /** Epoch milliseconds. */
  launchTime: number;
  parkedAt: number;
  grantedAt: number;
  /** When the granting admission read the queue (absent in grants older than it). */
  readAt?: number;
}

/** One lease granted to an execution. */
export interface LeaseGrant {
  fleet: string;
  instanceId: string;
  /** Epoch milliseconds, when the lease step returned the lease (observed by the run). */
  grantedAt: number;
  /** When the execution first asked, if it asked more than once (observed: today's polling). */
  waitedFrom?: number;
  /**
   * Granted at its first ask: when that lease step started (observed). Its lease's transaction,
   * which read who waits, ran between this and `grantedAt`.
   */
  askedAt?: number;
  /** The queue's own account of the wait (`$.lease.queue`), when the lease step gives one. */
  queue?: QueueData;
  /** `$.lease.queue` was there but not of the stated shape: its text, cut short. */
  queueUnreadable?: string;
}

/** A lease given back: the releasing step ran from `from` to `to` (the release is somewhere in between). */
export interface LeaseRelease {
  fleet: string;
  instanceId: string;
  from: number;
  to: number;
}

/** A member of a fleet after the run, as the drift engine judges it. */
export interface FinalMember {
  fleet: string;
  instanceId: string;
  inSync: boolean;
  /** Why not in sync (the engine's reasons), or empty. */
  detail: string;
}

/** Everything the run recorded. */
export interface FleetRunObservation {
  fleets: ObservedFleet[];
  executions: ObservedExecution[];
  /** Every instance launched in the fleets' account during the run, terminated ones included. */
  launched: string[];
  samples: CapacitySample[];
  grants: LeaseGrant[];
  releases: LeaseRelease[];
  finalMembers: FinalMember[];
  /** Errors the run reported (a sweep or a local execution that broke). */
  errors: string[];
}

/** Which grants the order check reads: the queue's account, or the waits the run observed. */
export type OrderSource = 'queue' | 'observed';

/** One breach of one invariant. */
export type FleetRunFinding =
  | { invariant: 'replaced-once'; kind: 'not-replaced'; fleet: string; instanceId: string; detail: string }
  | {
      invariant: 'replaced-once';
      kind: 'replaced-twice';
      fleet: string;
      instanceId: string;
      replacements: string[];
    }
  | {
      invariant: 'replaced-once';
      kind: 'replacement-replaced';
      fleet: string;
      instanceId: string;
      replacementId: string | null;
    }
  | { invariant: 'replaced-once'; kind: 'unaccounted-launch'; instanceId: string }
  | { invariant: 'replaced-once'; kind: 'left-drifted'; fleet: string; instanceId: string; detail: string }
  | {
      invariant: 'healthy-capacity';
      kind: 'below-size';
      fleet: string;
      at: number;
      measure: 'healthy' | 'serving';
      seen: number;
      size: number;
    }
  | { invariant: 'healthy-capacity'; kind: 'no-samples'; fleet: string }
  | {
      invariant: 'execution-ended';
      kind: 'ended-badly';
      fleet: string;
      instanceId: string;
      outcome: string;
      detail: string;
    }
  | { invariant: 'execution-ended'; kind: 'run-error'; message: string }
  | {
      invariant: 'budget';
      kind: 'over-budget';
      fleet: string;
      at: number;
      /** `granted`: leases held at a grant, from the run's record of grants and releases. */
      measure: 'leases' | 'surplus' | 'granted';
      seen: number;
      budget: number;
    }
  | { invariant: 'order'; kind: 'no-queue-data'; fleet: string }
  | { invariant: 'order'; kind: 'queue-data-unreadable'; fleet: string; instanceId: string; queue: string }
  | {
      invariant: 'order';
      kind: 'queue-data-wrong';
      fleet: string;
      instanceId: string;
      field: 'az' | 'launchTime';
      queue: string;
      actual: string;
    }
  | {
      invariant: 'order';
      kind: 'older-served-later';
      fleet: string;
      az: string;
      /** Granted first, though younger. */
      granted: string;
      /** Older, parked before `granted` was granted, granted after it. */
      older: string;
    }
  | {
      invariant: 'order';
      kind: 'zone-not-fewest';
      fleet: string;
      granted: string;
      az: string;
      /** Replacements certainly in flight in `az` when `granted` got its lease. */
      inFlight: number;
      waitingAz: string;
      /** Replacements at most in flight in `waitingAz` then, which had a waiter. */
      waitingInFlight: number;
    };

export type Invariant = FleetRunFinding['invariant'];

export const INVARIANTS: readonly Invariant[] = [
  'replaced-once',
  'healthy-capacity',
  'execution-ended',
  'budget',
  'order',
];

/** The figures of a run, beside its findings. */
export interface FleetRunFigures {
  /** Original instances with exactly one succeeded replacement. */
  replaced: number;
  /** Executions ended `blocked`. */
  blocked: number;
  /** Executions ended failed, rolled back, in error or asking for a human. */
  failed: number;
  samples: number;
  /** Per fleet and over all fleets: the lowest healthy (and serving) capacity seen, in % of size. */
  minHealthyPercent: Record<string, number>;
  /** Per fleet: the most leases or surplus members seen at a sample, or leases held at a grant. */
  maxInFlight: Record<string, number>;
}

export interface FleetRunVerdict {
  findings: FleetRunFinding[];
  figures: FleetRunFigures;
}

/** Outcomes that are a remediation not done: invariant 3. */
const BAD_OUTCOMES: ReadonlySet<string> = new Set([
  'blocked',
  'failed',
  'rolled-back',
  'error',
  'manual-action-required',
]);

/** Judges a run against the five invariants (the module comment) and computes its figures. */
export function checkFleetRun(
  observation: FleetRunObservation,
  order: OrderSource = 'queue',
): FleetRunVerdict {
  const findings = [
    ...checkReplacedOnce(observation),
    ...checkCapacity(observation),
    ...checkExecutions(observation),
    ...checkBudget(observation),
    ...observation.fleets.flatMap((fleet) => checkOrder(fleet, observation, order)),
  ];
  return { findings, figures: figuresOf(observation) };
}

/** The findings of one invariant. */
export function findingsOf<I extends Invariant>(
  findings: readonly FleetRunFinding[],
  invariant: I,
): Extract<FleetRunFinding, { invariant: I }>[] {
  return findings.filter((f): f is Extract<FleetRunFinding, { invariant: I }> => f.invariant === invariant);
}

function fleetOfInstance(observation: FleetRunObservation): Map<string, string> {
  return new Map(observation.fleets.flatMap((f) => f.originals.map((o) => [o.instanceId, f.name] as const)));
}

/** Invariant 1. */
export function checkReplacedOnce(observation: FleetRunObservation): FleetRunFinding[] {
  const findings: FleetRunFinding[] = [];
  const original = fleetOfInstance(observation);
  for (const fleet of observation.fleets) {
    for (const { instanceId } of fleet.originals) {
      const runs = observation.executions.filter((e) => e.instanceId === instanceId);
      const replacements = [
        ...new Set(runs.filter((e) => e.outcome === 'succeeded').map((e) => e.replacementId ?? '?')),
      ];
      if (replacements.length === 0) {
        const last = runs.at(-1);
        findings.push({
          invariant: 'replaced-once',
          kind: 'not-replaced',
          fleet: fleet.name,
          instanceId,
          detail: last === undefined ? 'no execution ran' : `${last.outcome}: ${last.detail}`,
        });
      } else if (replacements.length > 1) {
        findings.push({
          invariant: 'replaced-once',
          kind: 'replaced-twice',
          fleet: fleet.name,
          instanceId,
          replacements,
        });
      }
    }
  }
  for (const execution of observation.executions) {
    if (original.has(execution.instanceId) || execution.outcome !== 'succeeded') continue;
    findings.push({
      invariant: 'replaced-once',
      kind: 'replacement-replaced',
      fleet: execution.fleet,
      instanceId: execution.instanceId,
      replacementId: execution.replacementId,
    });
  }
  const recorded = new Set(
    observation.executions.filter((e) => e.outcome === 'succeeded').map((e) => e.replacementId),
  );
  for (const instanceId of observation.launched) {
    if (!recorded.has(instanceId))
      findings.push({ invariant: 'replaced-once', kind: 'unaccounted-launch', instanceId });
  }
  for (const member of observation.finalMembers) {
    if (!member.inSync)
      findings.push({
        invariant: 'replaced-once',
        kind: 'left-drifted',
        fleet: member.fleet,
        instanceId: member.instanceId,
        detail: member.detail,
      });
  }
  return findings;
}

/** Invariant 2. */
export function checkCapacity(observation: FleetRunObservation): FleetRunFinding[] {
  const findings: FleetRunFinding[] = [];
  for (const fleet of observation.fleets) {
    const samples = observation.samples.filter((s) => s.fleet === fleet.name);
    if (samples.length === 0) {
      findings.push({ invariant: 'healthy-capacity', kind: 'no-samples', fleet: fleet.name });
      continue;
    }
    for (const sample of samples) {
      for (const measure of ['healthy', 'serving'] as const) {
        const seen = sample[measure];
        if (seen !== undefined && seen < fleet.size)
          findings.push({
            invariant: 'healthy-capacity',
            kind: 'below-size',
            fleet: fleet.name,
            at: sample.at,
            measure,
            seen,
            size: fleet.size,
          });
      }
    }
  }
  return findings;
}

/** Invariant 3. */
export function checkExecutions(observation: FleetRunObservation): FleetRunFinding[] {
  const findings: FleetRunFinding[] = observation.executions
    .filter((e) => BAD_OUTCOMES.has(e.outcome))
    .map((e) => ({
      invariant: 'execution-ended' as const,
      kind: 'ended-badly' as const,
      fleet: e.fleet,
      instanceId: e.instanceId,
      outcome: e.outcome,
      detail: e.detail,
    }));
  for (const message of observation.errors)
    findings.push({ invariant: 'execution-ended', kind: 'run-error', message });
  return findings;
}

/**
 * Per grant of the fleet, the leases certainly held right after it: the grant itself and
 * every other grant made before it whose release step had not begun. A release running at
 * that moment counts as done (the lease queue hands a slot on while it releases it), so the
 * count is never more than were held.
 */
export function grantedInFlight(
  fleet: string,
  observation: Pick<FleetRunObservation, 'grants' | 'releases'>,
): { at: number; held: number }[] {
  const grants = observation.grants.filter((g) => g.fleet === fleet);
  const releaseBegins = (g: LeaseGrant) =>
    observation.releases
      .filter((r) => r.fleet === fleet && r.instanceId === g.instanceId && r.to >= g.grantedAt)
      .reduce((first, r) => Math.min(first, r.from), Number.POSITIVE_INFINITY);
  const spans = grants.map((g) => ({ grant: g, from: g.grantedAt, releasing: releaseBegins(g) }));
  return spans.map(({ grant, from }) => ({
    at: from,
    held: 1 + spans.filter((o) => o.grant !== grant && o.from < from && o.releasing >= from).length,
  }));
}

/** Invariant 4. */
export function checkBudget(observation: FleetRunObservation): FleetRunFinding[] {
  const findings: FleetRunFinding[] = [];
  for (const fleet of observation.fleets) {
    for (const sample of observation.samples.filter((s) => s.fleet === fleet.name)) {
      for (const measure of ['leases', 'surplus'] as const) {
        if (sample[measure] > fleet.budget)
          findings.push({
            invariant: 'budget',
            kind: 'over-budget',
            fleet: fleet.name,
            at: sample.at,
            measure,
            seen: sample[measure],
            budget: fleet.budget,
          });
      }
    }
    for (const { at, held } of grantedInFlight(fleet.name, observation)) {
      if (held > fleet.budget)
        findings.push({
          invariant: 'budget',
          kind: 'over-budget',
          fleet: fleet.name,
          at,
          measure: 'granted',
          seen: held,
          budget: fleet.budget,
        });
    }
  }
  return findings;
}

/** A grant as the order check reads it: zone, age, and the wait if it waited. */
interface Served {
  instanceId: string;
  az: string;
  launchTime: number;
  grantedAt: number;
  /** When the admission that granted it read the queue (its grant, when not known). */
  readAt: number;
  /** Set for a waiter: when it parked. */
  parkedAt?: number;
  releasedFrom: number;
  releasedTo: number;
}

/**
 * Invariant 5, for one fleet: "oldest launch time first, spread across Availability Zones
 * (the next grant goes to the AZ with fewest replacements in flight)". Exactly:
 *
 * - Which grants waited. `queue` (the rule the run is judged by): the grants whose lease step
 *   output carries `$.lease.queue`, with its `parkedAt` and `grantedAt`; none in a fleet is
 *   the finding `no-queue-data` (the queue was not used, or says nothing). The queue's `az` and
 *   `launchTime` must be the instance's (`queue-data-wrong`); a `queue` not of that shape is
 *   `queue-data-unreadable`, not taken for no data. `observed` (to judge today's
 *   polling by the same rule): the grants the run saw ask more than once, parked at their
 *   first ask, with the zone and launch time the account reported before the run.
 * - When a waiter parked: when the samples read the queue (`CapacitySample.waiting`), the first
 *   sample that saw it parked (see {@link firstSeenParked}); else the queue's `parkedAt`.
 * - Oldest first, per zone (`older-served-later`): of two waiters A and B of one fleet and one
 *   zone that were both parked before either's admission read the queue
 *   (`max(parkedAt) < min(readAt)`, `readAt` being the grant's when the queue does not say),
 *   if A was launched strictly earlier, A is not granted strictly after B.
 * - Spread across zones (`zone-not-fewest`): at every grant g of the fleet (waiter or not),
 *   if another zone Y had a waiter then (parked before g's admission read the queue, granted
 *   after g; one parked while that admission was already serving was not yet its to see), g's zone
 *   did not have strictly more replacements in flight than Y. Judged as the admission knew it:
 *   it read the leases at `readAt` and granted at `grantedAt` (a waiter's recheck comes between;
 *   no read can be one with the lease's transaction). In g's zone, certainly: the other grants
 *   there made before the read, or since by the same admission (the same `readAt`: it counts
 *   its own), whose release had not begun at g's grant. In Y, at most: the grants there made by
 *   g's grant and not released before the read (a release seen while its step ran,
 *   `from < t < to`, counts as not yet). A finding is a breach at every moment between the
 *   admission's read and its grant, never a race of the observer or of the read.
 */
export function checkOrder(
  fleet: ObservedFleet,
  observation: Pick<FleetRunObservation, 'grants' | 'releases'> &
    Partial<Pick<FleetRunObservation, 'samples'>>,
  source: OrderSource = 'queue',
): FleetRunFinding[] {
  const findings: FleetRunFinding[] = [];
  const seenParked = source === 'queue' ? firstSeenParked(fleet.name, observation.samples ?? []) : undefined;
  const facts = new Map(fleet.originals.map((o) => [o.instanceId, o]));
  const grants = observation.grants.filter((g) => g.fleet === fleet.name);
  if (source === 'queue') {
    for (const g of grants)
      if (g.queueUnreadable !== undefined)
        findings.push({
          invariant: 'order',
          kind: 'queue-data-unreadable',
          fleet: fleet.name,
          instanceId: g.instanceId,
          queue: g.queueUnreadable,
        });
    if (!grants.some((g) => g.queue !== undefined || g.queueUnreadable !== undefined))
      return [{ invariant: 'order', kind: 'no-queue-data', fleet: fleet.name }];
  }
  const served: Served[] = [];
  for (const grant of grants) {
    const fact = facts.get(grant.instanceId);
    const queue = source === 'queue' ? grant.queue : undefined;
    if (queue !== undefined && fact !== undefined) {
      if (queue.az !== fact.az) findings.push(wrong(fleet.name, grant.instanceId, 'az', queue.az, fact.az));
      if (queue.launchTime !== fact.launchTime)
        findings.push(
          wrong(
            fleet.name,
            grant.instanceId,
            'launchTime',
            new Date(queue.launchTime).toISOString(),
            new Date(fact.launchTime).toISOString(),
          ),
        );
    }
    const az = queue?.az ?? fact?.az;
    const launchTime = queue?.launchTime ?? fact?.launchTime;
    if (az === undefined || launchTime === undefined) continue;
    const grantedAt = queue?.grantedAt ?? grant.grantedAt;
    const release = observation.releases
      .filter((r) => r.instanceId === grant.instanceId && r.to >= grantedAt)
      .sort((a, b) => a.to - b.to)[0];
    const parkedAt =
      source === 'observed'
        ? grant.waitedFrom
        : seenParked === undefined
          ? queue?.parkedAt
          : seenParked.get(grant.instanceId);
    served.push({
      instanceId: grant.instanceId,
      az,
      launchTime,
      grantedAt,
      readAt: Math.min(queue?.readAt ?? grant.askedAt ?? grantedAt, grantedAt),
      ...(parkedAt === undefined ? {} : { parkedAt }),
      releasedFrom: release?.from ?? Number.POSITIVE_INFINITY,
      releasedTo: release?.to ?? Number.POSITIVE_INFINITY,
    });
  }
  const waiters = served.filter((s) => s.parkedAt !== undefined);

  for (const a of waiters) {
    for (const b of waiters) {
      if (a === b || a.az !== b.az) continue;
      // Parked before either's admission read the queue: both were there to be served.
      const bothParked = Math.max(a.parkedAt ?? 0, b.parkedAt ?? 0) < Math.min(a.readAt, b.readAt);
      if (bothParked && a.launchTime < b.launchTime && a.grantedAt > b.grantedAt)
        findings.push({
          invariant: 'order',
          kind: 'older-served-later',
          fleet: fleet.name,
          az: a.az,
          granted: b.instanceId,
          older: a.instanceId,
        });
    }
  }

  for (const g of served) {
    const t = g.grantedAt;
    const known = (h: Served) => h.grantedAt < g.readAt || (h.readAt === g.readAt && h.grantedAt < t);
    const inFlight = (az: string, certain: boolean) =>
      served.filter((h) => {
        if (h === g || h.az !== az) return false;
        if (certain) return known(h) && h.releasedFrom >= t;
        return h.grantedAt <= t && h.releasedTo > g.readAt;
      }).length;
    const here = inFlight(g.az, true);
    const waitingZones = new Set(
      waiters
        .filter((w) => w !== g && w.az !== g.az && (w.parkedAt ?? t) < g.readAt && w.grantedAt > t)
        .map((w) => w.az),
    );
    for (const zone of [...waitingZones].sort()) {
      const there = inFlight(zone, false);
      if (here > there)
        findings.push({
          invariant: 'order',
          kind: 'zone-not-fewest',
          fleet: fleet.name,
          granted: g.instanceId,
          az: g.az,
          inFlight: here,
          waitingAz: zone,
          waitingInFlight: there,
        });
    }
  }
  return findings;
}

/**
 * When the samples read the fleet's queue: the first sample at which each instance's execution
 * was seen parked, the moment it was certainly there for an admission to see. A waiter's
 * `parkedAt` is stamped before its park is written, and a loaded account may commit that
 * write after a grant made later than the stamp (the grant could not see it: no breach). A
 * waiter granted between two samples was never seen, and is judged as no waiter. Undefined when
 * no sample read the queue (then `parkedAt` stands).
 */
function firstSeenParked(fleet: string, samples: readonly CapacitySample[]): Map<string, number> | undefined {
  const read = samples.filter((s) => s.fleet === fleet && s.waiting !== undefined);
  if (read.length === 0) return undefined;
  const seen = new Map<string, number>();
  for (const sample of [...read].sort((a, b) => a.at - b.at))
    for (const id of sample.waiting ?? []) if (!seen.has(id)) seen.set(id, sample.waitingAt ?? sample.at);
  return seen;
}

function wrong(
  fleet: string,
  instanceId: string,
  field: 'az' | 'launchTime',
  queue: string,
  actual: string,
): FleetRunFinding {
  return { invariant: 'order', kind: 'queue-data-wrong', fleet, instanceId, field, queue, actual };
}

function figuresOf(observation: FleetRunObservation): FleetRunFigures {
  const minHealthyPercent: Record<string, number> = {};
  const maxInFlight: Record<string, number> = {};
  for (const fleet of observation.fleets) {
    const samples = observation.samples.filter((s) => s.fleet === fleet.name);
    const lowest = Math.min(...samples.map((s) => Math.min(s.healthy, s.serving ?? s.healthy)));
    minHealthyPercent[fleet.name] = samples.length === 0 ? 0 : (100 * lowest) / fleet.size;
    maxInFlight[fleet.name] = Math.max(
      0,
      ...samples.map((s) => Math.max(s.leases, s.surplus)),
      ...grantedInFlight(fleet.name, observation).map((g) => g.held),
    );
  }
  const replaced = observation.fleets
    .flatMap((f) => f.originals)
    .filter(
      (o) =>
        new Set(
          observation.executions
            .filter((e) => e.instanceId === o.instanceId && e.outcome === 'succeeded')
            .map((e) => e.replacementId),
        ).size === 1,
    ).length;
  return {
    replaced,
    blocked: observation.executions.filter((e) => e.outcome === 'blocked').length,
    failed: observation.executions.filter((e) => e.outcome !== 'blocked' && BAD_OUTCOMES.has(e.outcome))
      .length,
    samples: observation.samples.length,
    minHealthyPercent,
    maxInFlight,
  };
}

/** One line per finding, as a person reads it (the benchmark's notes, a test's failure message). */
export function describeFinding(finding: FleetRunFinding): string {
  const at = (ms: number) => new Date(ms).toISOString().slice(11, 23);
  switch (finding.kind) {
    case 'not-replaced':
      return `${finding.fleet}: ${finding.instanceId} not replaced (${finding.detail})`;
    case 'replaced-twice':
      return `${finding.fleet}: ${finding.instanceId} replaced ${finding.replacements.length} times (${finding.replacements.join(', ')})`;
    case 'replacement-replaced':
      return `${finding.fleet}: ${finding.instanceId}, not an original instance, was replaced by ${finding.replacementId ?? '?'}`;
    case 'unaccounted-launch':
      return `${finding.instanceId} was launched but is no recorded replacement`;
    case 'left-drifted':
      return `${finding.fleet}: ${finding.instanceId} left drifted (${finding.detail})`;
    case 'below-size':
      return `${finding.fleet} at ${at(finding.at)}: ${finding.seen} ${finding.measure} < size ${finding.size}`;
    case 'no-samples':
      return `${finding.fleet}: never sampled`;
    case 'ended-badly':
      return `${finding.fleet}: ${finding.instanceId} ended ${finding.outcome} (${finding.detail})`;
    case 'run-error':
      return `the run reported: ${finding.message}`;
    case 'over-budget':
      return `${finding.fleet} at ${at(finding.at)}: ${finding.seen} ${finding.measure} > budget ${finding.budget}`;
    case 'no-queue-data':
      return `${finding.fleet}: no grant carries queue data ($.lease.queue): the order served cannot be judged`;
    case 'queue-data-unreadable':
      return `${finding.fleet}: the queue data of ${finding.instanceId} is not { az, launchTime, parkedAt, grantedAt }: ${finding.queue}`;
    case 'queue-data-wrong':
      return `${finding.fleet}: the queue says ${finding.instanceId} has ${finding.field} ${finding.queue}, the account ${finding.actual}`;
    case 'older-served-later':
      return `${finding.fleet} in ${finding.az}: ${finding.granted} was granted before the older ${finding.older}, both waiting`;
    case 'zone-not-fewest':
      return `${finding.fleet}: ${finding.granted} granted in ${finding.az} (${finding.inFlight} in flight) while ${finding.waitingAz} waited with at most ${finding.waitingInFlight}`;
  }
}
