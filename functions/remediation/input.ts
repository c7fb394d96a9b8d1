/**
 * What the remediation state machine carries: the execution input (pinned at detection),
 * the timings, and what each step adds to the state as the execution goes.
 *
 * Steps read the whole state (`data`) and validate the part they need with these schemas,
 * so a definition that hands a step the wrong shape fails loudly with a `StepInputError`
 * naming the field, instead of acting on `undefined`.
 */
import * as z from 'zod/mini';
import type { CompiledDesiredState, LaunchTemplateFacts, Verdict } from '../domain/model';
import type { RemediationRequest } from '../evaluate-drift/execution';

const NonEmpty = z.string().check(z.minLength(1));

/** Waits and bounds of one remediation; every field has a production default. */
export const TimingsSchema = z.strictObject({
  /** Pause between two health checks of the replacement. */
  healthCheckIntervalSeconds: z._default(z.int().check(z.gte(0)), 15),
  /** Health checks before the replacement is declared unhealthy (40 × 15 s = 10 min). */
  healthCheckMaxAttempts: z._default(z.int().check(z.gte(1), z.lte(1000)), 40),
  /** Upper bound on waiting out a target group's deregistration delay. */
  maxDrainSeconds: z._default(z.int().check(z.gte(0), z.lte(3600)), 300),
  /** Lifetime of the budget lease: longer than the bounded replacement, short enough to recover from a dead execution. */
  leaseTtlSeconds: z._default(z.int().check(z.gte(60), z.lte(86_400)), 7200),
});

export type Timings = z.infer<typeof TimingsSchema>;

const DriftReasonSchema = z.object({
  kind: NonEmpty,
  field: z.string(),
  expected: z.nullable(z.string()),
  actual: z.nullable(z.string()),
  source: z.enum(['desired-state', 'launch-template']),
});

/**
 * The execution input, as detection's `RemediationRequest` (functions/evaluate-drift/execution.ts)
 * builds it, plus optional `timings` (tests, `phoenix reconcile`).
 */
export const RemediationInputSchema = z.object({
  requestVersion: z.literal(1),
  instanceId: z
    .string()
    .check(z.regex(/^i-[0-9a-f]+$/, 'is not an instance id (one looks like i-0123456789abcdef0)')),
  fleet: NonEmpty,
  fingerprint: NonEmpty,
  reasons: z.array(DriftReasonSchema),
  desiredState: z.object({ revision: NonEmpty, commit: NonEmpty }),
  launchTemplate: z.object({
    id: z
      .string()
      .check(z.regex(/^lt-[0-9a-f]+$/, 'is not a launch template id (one looks like lt-0123456789abcdef0)')),
    name: NonEmpty,
    /** A number, never `$Latest`/`$Default`: the version judged is the version launched. */
    version: z.int().check(z.gte(1)),
  }),
  detectedAt: NonEmpty,
  trigger: NonEmpty,
  principal: z.optional(NonEmpty),
  /** The drift's attempt generation (part of the execution name); absent means 0. */
  attempt: z.optional(z.int().check(z.gte(0))),
  timings: z.optional(z.partial(TimingsSchema)),
});

export type RemediationInput = z.infer<typeof RemediationInputSchema>;

// Detection builds the input; this line stops the two shapes drifting apart at compile time.
const _requestIsInput = (request: RemediationRequest): RemediationInput => request;
void _requestIsInput;

/**
 * The execution input for a drifted verdict, as detection builds it (`phoenix reconcile`
 * builds the same one for the local runner).
 */
export function remediationInputFor(args: {
  instanceId: string;
  verdict: Extract<Verdict, { status: 'drifted' }>;
  template: LaunchTemplateFacts;
  desiredState: CompiledDesiredState;
  detectedAt: Date;
  trigger: string;
  principal?: string;
  timings?: Partial<Timings>;
  /** The drift's attempt generation (`StateStore.attemptOf`); default 0. */
  attempt?: number;
}): RemediationInput {
  const input: RemediationInput = {
    requestVersion: 1,
    instanceId: args.instanceId,
    fleet: args.verdict.fleet,
    fingerprint: args.verdict.fingerprint,
    reasons: args.verdict.reasons,
    desiredState: { revision: args.desiredState.revision, commit: args.desiredState.provenance.commit },
    launchTemplate: { id: args.template.id, name: args.template.name, version: args.template.version },
    detectedAt: args.detectedAt.toISOString(),
    trigger: args.trigger,
    attempt: args.attempt ?? 0,
  };
  if (args.principal !== undefined) input.principal = args.principal;
  if (args.timings !== undefined) input.timings = args.timings;
  return input;
}

/** Why a recheck ended the remediation (the `reason` of a `skipped` outcome). */
export type SkipReason =
  | 'paused'
  | 'instance-gone'
  | 'in-sync'
  | 'drift-changed'
  | 'not-in-fleet'
  | 'excluded'
  | 'not-enforcing'
  | 'template-changed'
  | 'quarantined'
  | 'source-drift'
  | 'in-flight-elsewhere'
  | 'already-replaced'
  | 'held';

/**
 * What the recheck saw, carried to the plan and the lease a second later so they need not
 * ask AWS again: the instance's placement and, for a group member, the group.
 */
export const SnapshotSchema = z.object({
  instance: z.object({
    vpcId: z.optional(z.string()),
    subnetId: z.optional(z.string()),
    launchedFromTemplate: z.boolean(),
    autoScalingGroup: z.optional(z.string()),
    /** Where and when it was launched: its place in the fleet's queue (zone, then oldest first). */
    availabilityZone: z.optional(z.string()),
    launchTime: z.optional(z.string()),
  }),
  group: z.optional(
    z.object({
      name: z.string(),
      desired: z.int().check(z.gte(0)),
      min: z.int().check(z.gte(0)),
      max: z.int().check(z.gte(0)),
      targetGroupArns: z.array(z.string()),
      members: z.array(z.object({ id: z.string(), lifecycle: z.string(), healthy: z.boolean() })),
    }),
  ),
  /** The pinned template version as a launch needs it. */
  template: z.optional(z.object({ definesNetworkInterfaces: z.boolean() })),
  /**
   * A fleet with rollout stages only: whether the instance is a member of the rollout of the
   * pinned version (its drift includes the source), and the image that version launches.
   */
  source: z.optional(z.object({ member: z.boolean(), imageId: z.optional(z.string()) })),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

export const RecheckResultSchema = z.object({
  decision: z.enum(['proceed', 'skip', 'wait']),
  reason: z.string(),
  detail: z.string(),
  /** Whether a skip is worth a notification (a vanished or already fixed instance is not). */
  notify: z.boolean(),
  /** When `decision` is `wait`: the next opening of the fleet's window (ISO-8601, UTC). */
  windowOpensAt: z.optional(z.string()),
  timings: TimingsSchema,
  checkedAt: z.string(),
  /** For `proceed`: what the recheck read (absent from executions started before it existed). */
  snapshot: z.optional(SnapshotSchema),
  /** When EC2's RunInstances bucket is full again by Phoenix's count, as the recheck read it (epoch ms). */
  launchTokensFullAtMs: z.optional(z.number()),
});
export type RecheckResult = z.infer<typeof RecheckResultSchema>;

/** A grant that came after a wait in the fleet's queue (`$.lease.queue`). */
export const QueueGrantSchema = z.object({
  az: z.string(),
  launchTime: z.string(),
  /** ISO-8601. */
  parkedAt: z.string(),
  grantedAt: z.string(),
  /** When the admission that granted it read the queue: waiters parked after it were not yet its to serve. */
  readAt: z.optional(z.string()),
});
export type QueueGrant = z.infer<typeof QueueGrantSchema>;

const TargetSchema = z.object({ targetGroupArn: z.string(), port: z.int() });
export type Target = z.infer<typeof TargetSchema>;

export const PlanSchema = z.object({
  strategy: z.enum(['asg', 'standalone', 'manual-action-required']),
  detail: z.string(),
  /** Instances this replacement takes out of service before its successor is healthy (0 or 1). */
  disruption: z.int().check(z.gte(0)),
  /** Where the old instance is registered now: restored to on rollback. */
  oldTargets: z.array(TargetSchema),
  /**
   * The registrations Phoenix drains itself before the old instance goes: all of them, except
   * those of the group's own target groups when the group terminates the old instance (it
   * drains those itself). Absent in plans made before it existed: then all of `oldTargets`.
   */
  drainTargets: z.optional(z.array(TargetSchema)),
  /** Target groups the replacement must be healthy in. */
  replacementTargetGroups: z.array(z.string()),
  /** The longest deregistration delay of `drainTargets`, capped by `maxDrainSeconds`. */
  drainSeconds: z.int().check(z.gte(0)),
  asg: z.optional(
    z.object({
      name: z.string(),
      /** `surge`: desired + 1 within MaxSize. `standby-first`: no headroom, the group replaces the old instance put in Standby. */
      mode: z.enum(['surge', 'standby-first']),
      /**
       * The group as planned. Informative only: the capacity change is computed from the
       * group as it is once this execution holds the group lock (`surge`), never from these.
       */
      desiredBefore: z.int(),
      minSize: z.int(),
      maxSize: z.int(),
      instancesBefore: z.array(z.string()),
    }),
  ),
  standalone: z.optional(
    z.object({
      subnetId: z.string(),
      clientToken: z.string(),
      /** The template defines network interfaces: the subnet goes into the primary one, not the instance. */
      networkInterfaces: z.optional(z.boolean()),
      /** RunInstances `TagSpecifications`: the declared tags and the lineage tags, set at launch. */
      tagSpecifications: z.array(
        z.object({
          ResourceType: z.literal('instance'),
          Tags: z.array(z.object({ Key: z.string(), Value: z.string() })),
        }),
      ),
    }),
  ),
});
export type Plan = z.infer<typeof PlanSchema>;

/**
 * What RaiseDesiredCapacity / StandbyOldFirst did to the group, read and done under the group
 * lock (`StateStore.acquireGroupLock`): the state's `$.surge`.
 */
export const GroupChangeSchema = z.object({
  mode: z.enum(['surge', 'standby-first']),
  /** Desired capacity when this execution took the lock. */
  desiredBefore: z.int().check(z.gte(0)),
  /** For `surge`: the desired capacity set (`desiredBefore + 1`). */
  raisedTo: z.optional(z.int().check(z.gte(1))),
  /** Members when this execution took the lock: the replacement is none of them. */
  instancesBefore: z.array(z.string()),
  /** ISO-8601 time of the change: a launch the group reports failed since then failed for it. */
  at: z.optional(z.string()),
});
export type GroupChangeRecord = z.infer<typeof GroupChangeSchema>;

export const HealthSchema = z.object({
  attempt: z.int().check(z.gte(0)),
  healthy: z.boolean(),
  replacementId: z.optional(z.string()),
  detail: z.optional(z.string()),
});
export type Health = z.infer<typeof HealthSchema>;

/** A caught error as Step Functions records it (`Catch` with `ResultPath`). */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.optional(z.string()) });
export type CaughtError = z.infer<typeof CaughtErrorSchema>;

export const RollbackResultSchema = z.object({
  error: z.string(),
  cause: z.string(),
  quarantine: z.boolean(),
  actions: z.array(z.string()),
  replacementId: z.optional(z.string()),
  /** ISO-8601 time of the rollback (the quarantine's `at`). */
  at: z.string(),
  /**
   * The cause may pass by itself (EC2 had no capacity): the drift moves to its next attempt, so
   * the next detection tries again. Absent: the version is quarantined, or a human reads first.
   */
  retryable: z.optional(z.boolean()),
});
export type RollbackResult = z.infer<typeof RollbackResultSchema>;

/**
 * How the old instance went once its replacement was healthy: the state's `$.retired`. The
 * lease (and a group lock) are released with it.
 */
export const RetiredSchema = z.object({
  /** Phoenix terminated it, or handed it to its group to terminate. */
  terminating: z.boolean(),
  /**
   * Said in the succeeded notification when the old instance was not Phoenix's to terminate:
   * it left its group or vanished during the replacement, and what Phoenix did instead.
   */
  detail: z.optional(z.string()),
  /** Lease items released with it. */
  released: z.int().check(z.gte(0)),
  /** The lease and the lock went with it: the lease step after it has nothing left to do. */
  leaseReleased: z.boolean(),
});
export type Retired = z.infer<typeof RetiredSchema>;

/** The state as the steps see it: the input plus what earlier states added. */
export const MachineDataSchema = z.extend(RemediationInputSchema, {
  recheck: z.optional(RecheckResultSchema),
  plan: z.optional(PlanSchema),
  surge: z.optional(GroupChangeSchema),
  lease: z.optional(
    z.object({
      holder: z.string(),
      items: z.array(z.string()),
      expiresAt: z.number(),
      /** The group lock was taken with the lease (a surge): the raise needs not ask for it. */
      groupLocked: z.optional(z.boolean()),
      /** Admitted as a member of this rollout (counted in its `admitted`): every end settles it there. */
      rollout: z.optional(
        z.object({ templateId: z.string(), version: z.int(), imageId: z.optional(z.string()) }),
      ),
      /** Granted after a wait in the fleet's queue: where it waited and for how long. */
      queue: z.optional(QueueGrantSchema),
    }),
  ),
  retired: z.optional(RetiredSchema),
  replacement: z.optional(z.object({ instanceId: z.string() })),
  health: z.optional(HealthSchema),
  error: z.optional(CaughtErrorSchema),
  rollback: z.optional(RollbackResultSchema),
  rollbackError: z.optional(CaughtErrorSchema),
});
export type MachineData = z.infer<typeof MachineDataSchema>;

/** How a remediation ended; the Succeed output or the Fail error. */
export type Outcome =
  | 'succeeded'
  | 'skipped'
  | 'blocked'
  | 'manual-action-required'
  | 'rolled-back'
  | 'failed';
