/**
 * The logic steps of the remediation state machine, one file per step or family of steps,
 * over narrow injected dependencies (`deps.ts`). The state machine
 * (`state-machines/remediate-instance.asl.json`) calls them through one Lambda
 * (`../handler.ts`), which hands each event to {@link runStep} (`dispatch.ts`: a table keyed
 * by step name); the local runner calls {@link runStep} in-process. One-call steps (deregister,
 * terminate, quarantine) are direct SDK integrations in the definition, not here. Changes to
 * an Auto Scaling group's desired capacity are here, because each needs the group lock first
 * (docs/adr/0009-asg-surge-without-races.md).
 *
 * Every step is idempotent: Step Functions retries a step whose Lambda invocation failed,
 * and a retried step must find the world as it left it and do no harm twice.
 *
 *   recheck.ts         still wanted, may it start now: reads the facts, the gate (domain/gate) decides
 *   plan.ts            surge, Standby first, standalone, or manual action
 *   lease.ts           the fleet's budget: one try at a lease, its release
 *   queue.ts           the fleet's queue: wait for a lease, grant waiters, the sweep
 *   group-lock.ts      the group lock as the steps take it
 *   group-capacity.ts  raise the desired capacity, or Standby first at MaxSize
 *   launch.ts          a standalone replacement
 *   health.ts          is the replacement healthy; which instance the group launched
 *   retire.ts          the old instance goes, the lease with it
 *   rollback.ts        put things back after a failure
 *   outcome.ts         how an end is told, and whether it may be retried
 *   notify.ts          tell the team, return the outcome
 *   dispatch.ts        step name → step; the event's schema; runStep
 *   deps.ts            StepDeps, StepContext and the helpers the steps share
 */

export { causeText, type Step, type StepContext, type StepDeps } from './deps';
export { runStep, STEP_NAMES, type StepEvent, StepEventSchema, type StepName } from './dispatch';
export { type AdmitReport, admit, nextZone } from './granter';
export { raiseDesiredCapacity, standbyOldFirst } from './group-capacity';
export { groupLockTtlSeconds } from './group-lock';
export { checkHealthy } from './health';
export { launchReplacement } from './launch';
export { giveBackLease, type LeaseResult, takeLease } from './lease';
export { MANUAL_ACTION_HOLD_SECONDS, type NotifyResult, notify } from './notify';
export { endsRetryably } from './outcome';
export { EXECUTION_TAG, plan, REPLACES_TAG } from './plan';
export { acquireLease, type QueueEntry, releaseLease } from './queue';
export { recheck } from './recheck';
export { retireOld } from './retire';
export { rollback } from './rollback';
export { RESEND_AFTER_MS, type SweepReport, sweepQueues } from './sweep-queues';
