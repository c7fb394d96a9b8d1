/**
 * The fleet run's checker on synthetic runs: a clean run holds every invariant, and each rule
 * fails on the breach it names (and only then), so the real run's verdict
 * (test/e2e/fleet-run.test.ts, `npm run bench -- --only fleet-run`) means what it says.
 */
import { describe, expect, it } from 'vitest';
import {
  type CapacitySample,
  checkFleetRun,
  checkOrder,
  describeFinding,
  type FleetRunFinding,
  type FleetRunObservation,
  findingsOf,
  INVARIANTS,
  type LeaseGrant,
  type LeaseRelease,
  type ObservedFleet,
} from '../../bench/lib/fleet-run-check';
import { LeaseRecorder, queueDataOf } from '../../bench/lib/fleet-run-scenario';

const T0 = Date.parse('2026-12-06T10:00:00Z');
const A = 'us-east-1a';
const B = 'us-east-1b';

/** web: an Auto Scaling group of 4 (2 per zone, budget 2); api: a tag fleet of 2 (budget 1). */
function cleanRun(): FleetRunObservation {
  const web: ObservedFleet = {
    name: 'web',
    kind: 'asg',
    size: 4,
    budget: 2,
    originals: [
      { instanceId: 'i-w1', az: A, launchTime: T0 - 4000 },
      { instanceId: 'i-w2', az: B, launchTime: T0 - 4000 },
      { instanceId: 'i-w3', az: A, launchTime: T0 - 3000 },
      { instanceId: 'i-w4', az: B, launchTime: T0 - 3000 },
    ],
  };
  const api: ObservedFleet = {
    name: 'api',
    kind: 'tags',
    size: 2,
    budget: 1,
    originals: [
      { instanceId: 'i-a1', az: A, launchTime: T0 - 5000 },
      { instanceId: 'i-a2', az: B, launchTime: T0 - 5000 },
    ],
  };
  const all = [
    ...web.originals.map((o) => ['web', o] as const),
    ...api.originals.map((o) => ['api', o] as const),
  ];
  // Two at a time per fleet: w1 and w2 at once (one per zone), then w3 and w4 after waiting.
  const grantAt: Record<string, number> = {
    'i-w1': 100,
    'i-w2': 110,
    'i-w3': 1000,
    'i-w4': 1010,
    'i-a1': 100,
    'i-a2': 1000,
  };
  const grants: LeaseGrant[] = all.map(([fleet, o]) => {
    const at = T0 + (grantAt[o.instanceId] ?? 0);
    const waited = at - T0 >= 1000;
    return {
      fleet,
      instanceId: o.instanceId,
      grantedAt: at,
      ...(waited
        ? {
            waitedFrom: T0 + 50,
            queue: { az: o.az, launchTime: o.launchTime, parkedAt: T0 + 50, grantedAt: at },
          }
        : {}),
    };
  });
  const releases: LeaseRelease[] = grants.map((g) => ({
    fleet: g.fleet,
    instanceId: g.instanceId,
    from: g.grantedAt + 800,
    to: g.grantedAt + 850,
  }));
  return {
    fleets: [web, api],
    executions: all.map(([fleet, o]) => ({
      instanceId: o.instanceId,
      fleet,
      outcome: 'succeeded',
      reason: 'replaced',
      detail: '',
      replacementId: `r-${o.instanceId}`,
    })),
    launched: all.map(([, o]) => `r-${o.instanceId}`),
    samples: [0, 500, 1500, 2500].flatMap((ms) => [
      { at: T0 + ms, fleet: 'web', healthy: 4, serving: 5, leases: 2, surplus: 2 },
      { at: T0 + ms, fleet: 'api', healthy: 2, serving: 2, leases: 1, surplus: 1 },
    ]),
    grants,
    releases,
    finalMembers: all.map(([fleet, o]) => ({
      fleet,
      instanceId: `r-${o.instanceId}`,
      inSync: true,
      detail: '',
    })),
    errors: [],
  };
}

const kinds = (findings: readonly FleetRunFinding[]) => findings.map((f) => `${f.invariant}/${f.kind}`);

describe('checkFleetRun', () => {
  it('finds nothing in a clean run, and reports its figures', () => {
    const { findings, figures } = checkFleetRun(cleanRun());

    expect(findings).toEqual([]);
    expect(figures).toEqual({
      replaced: 6,
      blocked: 0,
      failed: 0,
      samples: 8,
      minHealthyPercent: { web: 100, api: 100 },
      maxInFlight: { web: 2, api: 1 },
    });
  });

  describe('invariant 1: every drifted instance replaced exactly once', () => {
    it('names an instance whose executions never succeeded, with how the last one ended', () => {
      const run = cleanRun();
      run.executions = run.executions.map((e) =>
        e.instanceId === 'i-w3'
          ? { ...e, outcome: 'skipped', detail: 'in flight elsewhere', replacementId: null }
          : e,
      );
      run.launched = run.launched.filter((id) => id !== 'r-i-w3');

      const found = findingsOf(checkFleetRun(run).findings, 'replaced-once');
      expect(found).toEqual([
        {
          invariant: 'replaced-once',
          kind: 'not-replaced',
          fleet: 'web',
          instanceId: 'i-w3',
          detail: 'skipped: in flight elsewhere',
        },
      ]);
    });

    it('names an instance replaced twice, a replacement replaced, a launch no execution accounts for', () => {
      const run = cleanRun();
      run.executions.push(
        {
          instanceId: 'i-w1',
          fleet: 'web',
          outcome: 'succeeded',
          reason: '',
          detail: '',
          replacementId: 'r-again',
        },
        {
          instanceId: 'r-i-a1',
          fleet: 'api',
          outcome: 'succeeded',
          reason: '',
          detail: '',
          replacementId: 'r-r',
        },
      );
      run.launched.push('r-again', 'r-r', 'i-stray');

      expect(checkFleetRun(run).findings).toEqual([
        {
          invariant: 'replaced-once',
          kind: 'replaced-twice',
          fleet: 'web',
          instanceId: 'i-w1',
          replacements: ['r-i-w1', 'r-again'],
        },
        {
          invariant: 'replaced-once',
          kind: 'replacement-replaced',
          fleet: 'api',
          instanceId: 'r-i-a1',
          replacementId: 'r-r',
        },
        { invariant: 'replaced-once', kind: 'unaccounted-launch', instanceId: 'i-stray' },
      ]);
      expect(checkFleetRun(run).figures.replaced).toBe(5);
    });

    it('names a member the engine still finds drifted after the run', () => {
      const run = cleanRun();
      run.finalMembers.push({
        fleet: 'api',
        instanceId: 'i-old',
        inSync: false,
        detail: 'launch-template-version',
      });

      expect(kinds(checkFleetRun(run).findings)).toEqual(['replaced-once/left-drifted']);
    });

    it('holds when an execution blocked first and a later one replaced the instance', () => {
      const run = cleanRun();
      run.executions.unshift({
        instanceId: 'i-w4',
        fleet: 'web',
        outcome: 'blocked',
        reason: 'blocked',
        detail: 'group busy',
        replacementId: null,
      });

      expect(findingsOf(checkFleetRun(run).findings, 'replaced-once')).toEqual([]);
      // …but the blocked execution is invariant 3's breach.
      expect(kinds(checkFleetRun(run).findings)).toEqual(['execution-ended/ended-badly']);
      expect(checkFleetRun(run).figures.blocked).toBe(1);
    });
  });

  describe('invariant 2: healthy capacity never below 100 %', () => {
    it('names every sample below the size, healthy or serving, and reports the lowest percentage', () => {
      const run = cleanRun();
      run.samples.push(
        { at: T0 + 3000, fleet: 'web', healthy: 3, serving: 4, leases: 1, surplus: -1 },
        { at: T0 + 3100, fleet: 'api', healthy: 2, serving: 1, leases: 0, surplus: 0 },
      );

      const { findings, figures } = checkFleetRun(run);
      expect(findings).toEqual([
        {
          invariant: 'healthy-capacity',
          kind: 'below-size',
          fleet: 'web',
          at: T0 + 3000,
          measure: 'healthy',
          seen: 3,
          size: 4,
        },
        {
          invariant: 'healthy-capacity',
          kind: 'below-size',
          fleet: 'api',
          at: T0 + 3100,
          measure: 'serving',
          seen: 1,
          size: 2,
        },
      ]);
      expect(figures.minHealthyPercent).toEqual({ web: 75, api: 50 });
    });

    it('judges a sample that did not read the target group on its healthy members alone', () => {
      const run = cleanRun();
      run.samples.push({ at: T0 + 3000, fleet: 'web', healthy: 4, leases: 1, surplus: 0 });
      expect(checkFleetRun(run).findings).toEqual([]);

      run.samples.push({ at: T0 + 3100, fleet: 'web', healthy: 2, leases: 1, surplus: 0 });
      expect(kinds(checkFleetRun(run).findings)).toEqual(['healthy-capacity/below-size']);
      expect(checkFleetRun(run).figures.minHealthyPercent.web).toBe(50);
    });

    it('fails a fleet that was never sampled rather than passing it', () => {
      const run = cleanRun();
      run.samples = run.samples.filter((s) => s.fleet !== 'api');

      expect(checkFleetRun(run).findings).toEqual([
        { invariant: 'healthy-capacity', kind: 'no-samples', fleet: 'api' },
      ]);
    });
  });

  describe('invariant 3: no execution blocked or failed', () => {
    it.each(['blocked', 'failed', 'rolled-back', 'error', 'manual-action-required'])(
      'names an execution that ended %s',
      (outcome) => {
        const run = cleanRun();
        run.executions.push({
          instanceId: 'i-w2',
          fleet: 'web',
          outcome,
          reason: outcome,
          detail: 'why',
          replacementId: null,
        });

        expect(findingsOf(checkFleetRun(run).findings, 'execution-ended')).toEqual([
          {
            invariant: 'execution-ended',
            kind: 'ended-badly',
            fleet: 'web',
            instanceId: 'i-w2',
            outcome,
            detail: 'why',
          },
        ]);
      },
    );

    it('names an error the run reported, and lets skips pass (invariant 1 judges what they left)', () => {
      const run = cleanRun();
      run.errors.push('sweep of round 2: throttled');
      run.executions.push({
        instanceId: 'i-w2',
        fleet: 'web',
        outcome: 'skipped',
        reason: '',
        detail: '',
        replacementId: null,
      });

      expect(checkFleetRun(run).findings).toEqual([
        { invariant: 'execution-ended', kind: 'run-error', message: 'sweep of round 2: throttled' },
      ]);
    });
  });

  describe('invariant 4: the budget never exceeded', () => {
    it('names a sample with more leases, or more members beyond the size, than the budget', () => {
      const run = cleanRun();
      run.samples.push(
        { at: T0 + 4000, fleet: 'web', healthy: 4, serving: 4, leases: 3, surplus: 2 },
        { at: T0 + 4000, fleet: 'api', healthy: 2, serving: 2, leases: 1, surplus: 2 },
      );

      const { findings, figures } = checkFleetRun(run);
      expect(findings).toEqual([
        {
          invariant: 'budget',
          kind: 'over-budget',
          fleet: 'web',
          at: T0 + 4000,
          measure: 'leases',
          seen: 3,
          budget: 2,
        },
        {
          invariant: 'budget',
          kind: 'over-budget',
          fleet: 'api',
          at: T0 + 4000,
          measure: 'surplus',
          seen: 2,
          budget: 1,
        },
      ]);
      expect(figures.maxInFlight).toEqual({ web: 3, api: 2 });
    });

    it('names a grant made while the budget was already held, between two samples', () => {
      const run = cleanRun();
      // a2 granted at 500, while a1 (granted at 100) had not begun its release (900).
      run.grants = run.grants.map((g) => (g.instanceId === 'i-a2' ? { ...g, grantedAt: T0 + 500 } : g));
      run.releases = run.releases.map((r) =>
        r.instanceId === 'i-a2' ? { ...r, from: T0 + 1300, to: T0 + 1350 } : r,
      );

      const { findings, figures } = checkFleetRun(run);
      expect(findings).toEqual([
        {
          invariant: 'budget',
          kind: 'over-budget',
          fleet: 'api',
          at: T0 + 500,
          measure: 'granted',
          seen: 2,
          budget: 1,
        },
      ]);
      expect(figures.maxInFlight.api).toBe(2);
    });

    it('counts a lease whose release was running at the grant as given back (the queue hands it on)', () => {
      const run = cleanRun();
      run.grants = run.grants.map((g) => (g.instanceId === 'i-a2' ? { ...g, grantedAt: T0 + 920 } : g));
      run.releases = run.releases.map((r) =>
        r.instanceId === 'i-a2' ? { ...r, from: T0 + 1700, to: T0 + 1750 } : r,
      );

      expect(checkFleetRun(run).findings).toEqual([]);
    });
  });

  it('reports findings of every invariant under its name, and a line for each', () => {
    const run = cleanRun();
    run.executions = [];
    run.samples = [];
    for (const g of run.grants) delete g.queue;
    run.errors.push('boom');

    const { findings } = checkFleetRun(run);
    expect(new Set(findings.map((f) => f.invariant))).toEqual(
      new Set(INVARIANTS.filter((i) => i !== 'budget')),
    );
    for (const finding of findings) expect(describeFinding(finding)).toMatch(/^[^\n]+$/);
  });
});

describe('checkOrder (invariant 5: oldest launch time first per zone, the zone with fewest in flight first)', () => {
  const web = () => {
    const fleet = cleanRun().fleets[0];
    if (fleet === undefined) throw new Error('no web');
    return fleet;
  };
  const waiter = (
    instanceId: string,
    az: string,
    launchTime: number,
    parkedAt: number,
    grantedAt: number,
  ): LeaseGrant => ({
    fleet: 'web',
    instanceId,
    grantedAt,
    queue: { az, launchTime, parkedAt, grantedAt },
  });
  const held = (instanceId: string, grantedAt: number): LeaseGrant => ({
    fleet: 'web',
    instanceId,
    grantedAt,
  });
  const release = (instanceId: string, from: number, to = from + 10): LeaseRelease => ({
    fleet: 'web',
    instanceId,
    from,
    to,
  });
  /** The grant, as made by an admission that read the queue at `at`. */
  const readAt = (g: LeaseGrant, at: number): LeaseGrant =>
    g.queue === undefined ? g : { ...g, queue: { ...g.queue, readAt: at } };
  /** w3 granted in zone a, one in flight there, while zone b waited with none. */
  const w3AheadOfZoneB: FleetRunFinding[] = [
    {
      invariant: 'order',
      kind: 'zone-not-fewest',
      fleet: 'web',
      granted: 'i-w3',
      az: A,
      inFlight: 1,
      waitingAz: B,
      waitingInFlight: 0,
    },
  ];

  it('reports "no queue data" for a fleet none of whose grants carries $.lease.queue (today\'s lease step)', () => {
    const run = cleanRun();
    for (const g of run.grants) if (g.fleet === 'api') delete g.queue;

    expect(findingsOf(checkFleetRun(run).findings, 'order')).toEqual([
      { invariant: 'order', kind: 'no-queue-data', fleet: 'api' },
    ]);
  });

  it('reports queue data not of the stated shape as unreadable, not as no data', () => {
    const grants: LeaseGrant[] = [
      { fleet: 'web', instanceId: 'i-w3', grantedAt: T0 + 10, queueUnreadable: '{"zone":"us-east-1a"}' },
    ];

    expect(checkOrder(web(), { grants, releases: [] })).toEqual([
      {
        invariant: 'order',
        kind: 'queue-data-unreadable',
        fleet: 'web',
        instanceId: 'i-w3',
        queue: '{"zone":"us-east-1a"}',
      },
    ]);
  });

  it("reports queue data that misstates an instance's zone or launch time", () => {
    const grants = [waiter('i-w3', B, T0 - 3000, T0, T0 + 10), waiter('i-w4', B, T0 - 1, T0, T0 + 20)];

    expect(checkOrder(web(), { grants, releases: [] })).toEqual([
      {
        invariant: 'order',
        kind: 'queue-data-wrong',
        fleet: 'web',
        instanceId: 'i-w3',
        field: 'az',
        queue: B,
        actual: A,
      },
      {
        invariant: 'order',
        kind: 'queue-data-wrong',
        fleet: 'web',
        instanceId: 'i-w4',
        field: 'launchTime',
        queue: new Date(T0 - 1).toISOString(),
        actual: new Date(T0 - 3000).toISOString(),
      },
    ]);
  });

  it('names a younger waiter granted before an older one of its zone, both parked', () => {
    // w1 (older) and w3 (younger), both in zone a, both parked at 0..5; w3 served first.
    const grants = [
      waiter('i-w3', A, T0 - 3000, T0 + 5, T0 + 100),
      waiter('i-w1', A, T0 - 4000, T0, T0 + 200),
    ];

    expect(checkOrder(web(), { grants, releases: [release('i-w3', T0 + 150)] })).toEqual([
      { invariant: 'order', kind: 'older-served-later', fleet: 'web', az: A, granted: 'i-w3', older: 'i-w1' },
    ]);
  });

  it('lets a younger waiter go first when the older one parked only after it was granted, or waits in another zone, or is as old', () => {
    const later = [
      waiter('i-w3', A, T0 - 3000, T0, T0 + 100),
      waiter('i-w1', A, T0 - 4000, T0 + 150, T0 + 200),
    ];
    const otherZone = [
      waiter('i-w3', A, T0 - 3000, T0, T0 + 100),
      waiter('i-w2', B, T0 - 4000, T0, T0 + 200),
    ];
    const asOld = [waiter('i-w3', A, T0 - 3000, T0, T0 + 100), waiter('i-w4', B, T0 - 3000, T0, T0 + 200)];
    const releases = [release('i-w3', T0 + 150)];

    expect(checkOrder(web(), { grants: later, releases })).toEqual([]);
    expect(checkOrder(web(), { grants: otherZone, releases })).toEqual([]);
    expect(checkOrder(web(), { grants: asOld, releases })).toEqual([]);
  });

  it('names a grant to a zone with more replacements in flight while a zone with fewer had a waiter', () => {
    // w1 holds a lease in zone a; w3 (zone a) is granted while w2 waits in zone b with none in flight.
    const grants = [
      held('i-w1', T0),
      waiter('i-w3', A, T0 - 3000, T0 + 10, T0 + 100),
      waiter('i-w2', B, T0 - 4000, T0 + 10, T0 + 300),
    ];

    expect(checkOrder(web(), { grants, releases: [release('i-w1', T0 + 500)] })).toEqual(w3AheadOfZoneB);
  });

  it('does not blame a grant for a waiter parked after its admission read the queue (not yet its to see), and does for one parked before', () => {
    const grants = (w2ParkedAt: number) => [
      held('i-w1', T0),
      readAt(waiter('i-w3', A, T0 - 3000, T0 + 10, T0 + 100), T0 + 40),
      waiter('i-w2', B, T0 - 4000, w2ParkedAt, T0 + 300),
    ];
    const releases = [release('i-w1', T0 + 500)];

    // w2 parked at +60: after w3's admission read the queue at +40, before w3's grant at +100.
    expect(checkOrder(web(), { grants: grants(T0 + 60), releases })).toEqual([]);
    // w2 parked at +20: it was there when the admission read.
    expect(checkOrder(web(), { grants: grants(T0 + 20), releases })).toHaveLength(1);
  });

  it('does not blame a grant when a release racing it may have made the zones even', () => {
    const grants = [
      held('i-w1', T0),
      waiter('i-w3', A, T0 - 3000, T0 + 10, T0 + 100),
      waiter('i-w2', B, T0 - 4000, T0 + 10, T0 + 300),
    ];

    // w1's release step was running when w3 was granted (the queue hands the slot on at release).
    expect(checkOrder(web(), { grants, releases: [release('i-w1', T0 + 90, T0 + 110)] })).toEqual([]);
    // w1 was released before: zone a had none in flight either.
    expect(checkOrder(web(), { grants, releases: [release('i-w1', T0 + 50)] })).toEqual([]);
  });

  it("judges a grant as its admission read the leases: a release in the waiting zone after the read and before the grant (the waiter's recheck) is no breach, one before it is", () => {
    // w1 (zone a) and w2 (zone b) in flight; the admission reads at +50 (one each), grants w3
    // (zone a) at +100 while w4 waits in zone b.
    const grants = [
      held('i-w1', T0),
      held('i-w2', T0),
      readAt(waiter('i-w3', A, T0 - 3000, T0 + 10, T0 + 100), T0 + 50),
      waiter('i-w4', B, T0 - 3000, T0 + 10, T0 + 300),
    ];
    const releases = (w2ReleasedTo: number) => [
      release('i-w1', T0 + 500),
      release('i-w2', w2ReleasedTo - 10, w2ReleasedTo),
    ];

    // w2 released at +60..+70: after the read, the zones were even when the admission decided.
    expect(checkOrder(web(), { grants, releases: releases(T0 + 70) })).toEqual([]);
    // w2 released at +35..+45: before the read, which saw zone b empty.
    expect(checkOrder(web(), { grants, releases: releases(T0 + 45) })).toEqual(w3AheadOfZoneB);
  });

  it('counts against a grant the grants its own admission made since its read, not those another made meanwhile', () => {
    // The admission reads at +50 (nothing in flight), grants w1 (zone a) at +60 and w3 (zone a)
    // at +100, while w2 waits in zone b.
    const grants = (w1: LeaseGrant) => [
      w1,
      readAt(waiter('i-w3', A, T0 - 3000, T0 + 10, T0 + 100), T0 + 50),
      waiter('i-w2', B, T0 - 4000, T0 + 10, T0 + 300),
    ];
    const releases = [release('i-w1', T0 + 500), release('i-w3', T0 + 500)];

    // The same admission: it knew of w1 and still chose zone a.
    expect(
      checkOrder(web(), {
        grants: grants(readAt(waiter('i-w1', A, T0 - 4000, T0 + 10, T0 + 60), T0 + 50)),
        releases,
      }),
    ).toEqual(w3AheadOfZoneB);
    // A newcomer's lease at +60 (no queue): made after the read, the admission could not know it.
    expect(checkOrder(web(), { grants: grants(held('i-w1', T0 + 60)), releases })).toEqual([]);
  });

  it('takes a waiter as there to be seen from the first sample that saw it parked, when the samples read the queue (its parkedAt is stamped before its park is written)', () => {
    // w1 (zone a) in flight; w3 (zone a) leases at once at +100, a newcomer; w2 (zone b) stamped
    // its park at +20 and was granted at +300.
    const grants = [
      held('i-w1', T0),
      held('i-w3', T0 + 100),
      waiter('i-w2', B, T0 - 4000, T0 + 20, T0 + 300),
    ];
    const releases = [release('i-w1', T0 + 500), release('i-w3', T0 + 500)];
    const sample = (at: number, waiting: string[]): CapacitySample => ({
      at,
      fleet: 'web',
      healthy: 4,
      leases: 1,
      surplus: 0,
      waiting,
    });

    // Without samples of the queue, the stamp stands.
    expect(checkOrder(web(), { grants, releases })).toEqual(w3AheadOfZoneB);
    // First seen parked at +150: its park may have been written after w3's lease.
    const late = [sample(T0 + 50, []), sample(T0 + 150, ['i-w2']), sample(T0 + 250, ['i-w2'])];
    expect(checkOrder(web(), { grants, releases, samples: late })).toEqual([]);
    // Seen parked at +50: it was there when w3 leased ahead of it.
    const early = [sample(T0 + 50, ['i-w2']), sample(T0 + 150, ['i-w2'])];
    expect(checkOrder(web(), { grants, releases, samples: early })).toEqual(w3AheadOfZoneB);
    // Seen at +80, while w3's lease step ran (+60 to +100): its transaction may have come first.
    const asked = grants.map((g) => (g.instanceId === 'i-w3' ? { ...g, askedAt: T0 + 60 } : g));
    const during = [sample(T0 + 50, []), sample(T0 + 80, ['i-w2'])];
    expect(checkOrder(web(), { grants: asked, releases, samples: during })).toEqual([]);
    expect(checkOrder(web(), { grants: asked, releases, samples: early })).toEqual(w3AheadOfZoneB);
  });

  it("judges today's polling by the same rule from the waits observed (asked more than once)", () => {
    const grants: LeaseGrant[] = [
      { fleet: 'web', instanceId: 'i-w3', grantedAt: T0 + 100, waitedFrom: T0 + 5 },
      { fleet: 'web', instanceId: 'i-w1', grantedAt: T0 + 200, waitedFrom: T0 },
      // Granted at its first ask: not a waiter, so never "parked before".
      { fleet: 'web', instanceId: 'i-w2', grantedAt: T0 + 300 },
    ];
    const releases = [release('i-w3', T0 + 150), release('i-w1', T0 + 250)];

    expect(checkOrder(web(), { grants, releases }, 'observed')).toEqual([
      { invariant: 'order', kind: 'older-served-later', fleet: 'web', az: A, granted: 'i-w3', older: 'i-w1' },
    ]);
    expect(checkOrder(web(), { grants, releases }, 'queue')).toEqual([
      { invariant: 'order', kind: 'no-queue-data', fleet: 'web' },
    ]);
  });
});

describe("the run's lease recorder", () => {
  it("records a grant (with how long it waited and the queue's account) and the span of each release", () => {
    let now = T0;
    const recorder = new LeaseRecorder(() => now);
    const step = (state: string, at: number, extra: { output?: unknown; error?: string } = {}) => {
      now = T0 + at;
      recorder.afterState({
        state,
        resource: 'lambda',
        instanceId: 'i-w1',
        fleet: 'web',
        input: {},
        ...extra,
      });
    };
    const queue = {
      az: A,
      launchTime: new Date(T0 - 4000).toISOString(),
      parkedAt: T0 + 20,
      grantedAt: T0 + 90,
    };

    step('PlanReplacement', 10);
    step('AcquireLease', 20, { error: 'GroupBusyError' });
    step('AcquireLease', 90, { output: { holder: 'x', queue } });
    step('RaiseDesiredCapacity', 100);
    step('RetireOld', 200, { output: { leaseReleased: false } });
    step('ReleaseLease', 230, { output: { released: 1 } });

    expect(recorder.grants).toEqual([
      {
        fleet: 'web',
        instanceId: 'i-w1',
        grantedAt: T0 + 90,
        waitedFrom: T0 + 10,
        queue: { az: A, launchTime: T0 - 4000, parkedAt: T0 + 20, grantedAt: T0 + 90 },
      },
    ]);
    expect(recorder.releases).toEqual([{ fleet: 'web', instanceId: 'i-w1', from: T0 + 200, to: T0 + 230 }]);
  });

  it('takes a retirement that gave the lease back as the release, and a grant at the first ask as no wait', () => {
    let now = T0;
    const recorder = new LeaseRecorder(() => now);
    const step = (state: string, at: number, output?: unknown) => {
      now = T0 + at;
      recorder.afterState({ state, resource: 'lambda', instanceId: 'i-a1', fleet: 'api', input: {}, output });
    };
    step('PlanReplacement', 10);
    step('AcquireLease', 20, { holder: 'x' });
    step('RetireOld', 200, { leaseReleased: true });

    // Granted at its first ask: the lease step ran from the plan's end (+10) to +20.
    expect(recorder.grants).toEqual([
      { fleet: 'api', instanceId: 'i-a1', grantedAt: T0 + 20, askedAt: T0 + 10 },
    ]);
    expect(recorder.releases).toEqual([{ fleet: 'api', instanceId: 'i-a1', from: T0 + 20, to: T0 + 200 }]);
  });

  it('keeps the text of a queue it cannot read', () => {
    const recorder = new LeaseRecorder(() => T0);
    recorder.afterState({
      state: 'AcquireLease',
      resource: 'lambda',
      instanceId: 'i-a1',
      fleet: 'api',
      input: {},
      output: { holder: 'x', queue: { zone: A } },
    });

    expect(recorder.grants).toEqual([
      {
        fleet: 'api',
        instanceId: 'i-a1',
        grantedAt: T0,
        askedAt: T0,
        queueUnreadable: '{"zone":"us-east-1a"}',
      },
    ]);
  });

  it('reads only queue data of the stated shape', () => {
    expect(
      queueDataOf({ queue: { az: A, launchTime: 1, parkedAt: '2026-12-06T10:00:00Z', grantedAt: 3 } }),
    ).toEqual({
      az: A,
      launchTime: 1,
      parkedAt: T0,
      grantedAt: 3,
    });
    expect(queueDataOf({ holder: 'x' })).toBeUndefined();
    expect(queueDataOf({ queue: { az: A, launchTime: 'soon', parkedAt: 1, grantedAt: 2 } })).toBeUndefined();
    expect(queueDataOf(undefined)).toBeUndefined();
  });
});
