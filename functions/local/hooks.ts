/**
 * What only tests change in a local run, in one object: {@link LocalRunHooks}.
 *
 * `phoenix reconcile` passes none, and then a local run is what it is in production: the wall
 * clock, no injected faults, every AWS call sent as it is. `npm run demo` passes none in its
 * first act; its second passes `clock` and `waitForBake` only, to pass each bake on its own
 * clock (the emulated account has no traffic whose alarms a real bake would watch). The fleet-run
 * benchmark (bench/lib/fleet-run-scenario.ts) passes `afterState` only, to record each lease
 * granted and given back, which no event of the run carries with its output. A test passes
 * one object, to the reconciler (`reconciler.ts`, which hands it on to every execution it
 * runs) or to the runner (`step-functions/runner.ts`); each hook below says what it lets a
 * test do that the emulated account cannot. Anything a production caller sets (waits,
 * concurrency, the execution's name and ARN, progress) is an ordinary option, not a hook.
 *
 * @module
 */
import type { CallGate } from '../aws/call-gate';
import type { Timings } from '../remediation/input';
import type { Faults } from './step-functions/faults';
import type { AfterStateEvent } from './step-functions/run-events';

export type { Faults } from './step-functions/faults';

/** Test-only levers of a local run; production passes none (see the module comment). */
export interface LocalRunHooks {
  /**
   * The clock everything reads: the evaluator, the steps, the state table's expiries, the
   * reconciler's window check. Tests move it by hand (a window opening, a lease or a hold
   * expiring). Default: the wall clock.
   */
  clock?: () => Date;
  /** Faults the emulator cannot produce (a throttled Task, an impaired instance), in every execution. */
  faults?: Faults;
  /**
   * Awaited after every Task state of every execution, before the next state starts: tests
   * check the safety invariants there (capacity, leases), or act as a second party at an exact
   * point (a human's hand, another execution, another run finishing).
   */
  afterState?: (event: AfterStateEvent) => Promise<void> | void;
  /**
   * Sees every AWS call before it is sent, as the principal that would make it in AWS: the
   * evaluator's (Config and Step Functions included), the steps function's and the state
   * machine's. Tests decide each against that role's synthesized IAM policy (test/helpers/iam).
   */
  gate?: CallGate;
  /**
   * Reconciler only: overrides of the remediation timings put in every execution input
   * (health checks and drains bounded, for instant waits).
   */
  timings?: Partial<Timings>;
  /**
   * Reconciler only, with instant waits: called when an execution must wait for its fleet's
   * maintenance window; the test moves its clock to `opensAt`. Without it, instant-wait
   * executions of a fleet whose window is closed are not run (they are reported as waiting for
   * the window), and one whose window closes between the start and the recheck waits for it
   * on the wall clock.
   */
  waitForWindow?: (opensAt: Date) => Promise<void>;
  /**
   * Called instead of waiting on the wall clock (alarms polled) for a rollout's bake to end
   * (`phoenix reconcile` between rounds): tests move their clock (and set alarm states).
   */
  waitForBake?: (until: Date) => Promise<void>;
}
