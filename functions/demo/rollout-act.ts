/**
 * The demo's second act (steps 8 and 9): a new build of checkout, released progressively.
 *
 * 8. Build 2025.07.1 reaches both checkout templates. Staging's rollout replaces its canary;
 *    while the canary bakes, the 5xx alarm fires (the build answers 500s): the rollout halts,
 *    its version is quarantined, staging's other instance is left as it was, and production
 *    never begins (it follows staging). `phoenix reconcile` ends, saying what waits.
 * 9. Build 2025.07.2, the fix: staging's canary bakes clean and the rest follows; then
 *    production, promoted from staging, runs its own canary and bake, and converges.
 *
 * The bake is 30 minutes of watching alarms. The emulated account has no traffic, so the
 * demo moves its own clock over each bake (the reconciler's `waitForBake`), after setting
 * the alarm as the build would: that is the only thing not real here.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { CompiledDesiredState } from '../domain/model';
import type { LocalRunHooks } from '../local/hooks';
import type { ReconcileReport } from '../local/report';
import {
  CHECKOUT_IMAGE_NAMES,
  CHECKOUT_IMAGES,
  type CheckoutEstate,
  publishBuild,
  setAlarm,
} from './checkout';

/** A clock the demo moves over bakes: the wall clock plus what the bakes skipped. */
export class DemoClock {
  #skipped = 0;

  readonly now = (): Date => new Date(Date.now() + this.#skipped);

  /** Moves the clock to `until` (never back). */
  moveTo(until: Date): number {
    const ahead = until.getTime() - this.now().getTime();
    if (ahead > 0) this.#skipped += ahead;
    return Math.max(0, ahead);
  }
}

export interface RolloutActContext {
  ec2: Pick<EC2Client, 'send'>;
  cloudwatch: Pick<CloudWatchClient, 'send'>;
  estate: CheckoutEstate;
  desired: CompiledDesiredState;
  securityGroupId: string | undefined;
  say: (text: string) => void;
  /** Runs `phoenix reconcile` in-process with the demo's hooks; resolves with its report. */
  reconcile: (hooks: LocalRunHooks) => Promise<ReconcileReport>;
}

/** Which build the act is releasing, and what the alarm does during its canary's bake. */
interface Release {
  imageId: string;
  /** The build answers 500s: the alarm fires during the canary's bake. */
  broken: boolean;
}

/** Hooks for one release: the demo's clock, and each bake passed on it, with the alarm set first. */
function releaseHooks(ctx: RolloutActContext, clock: DemoClock, release: Release): LocalRunHooks {
  return {
    clock: clock.now,
    waitForBake: async (until: Date) => {
      const minutes = Math.round((until.getTime() - clock.now().getTime()) / 60_000);
      if (release.broken) {
        await setAlarm(
          ctx.cloudwatch,
          ctx.estate.staging.alarm,
          'ALARM',
          'Threshold Crossed: 1 datapoint [212.0] was greater than the threshold (10.0): the canary answers 500s',
        );
        ctx.say(
          `  ⏱  the canary bakes; ${minutes} minutes pass on the demo's clock, and ${ctx.estate.staging.alarm} goes to ALARM (${CHECKOUT_IMAGE_NAMES[release.imageId]} answers 500s)`,
        );
      } else {
        ctx.say(`  ⏱  the canary bakes; ${minutes} minutes pass on the demo's clock, every alarm OK`);
      }
      clock.moveTo(until);
    },
  };
}

/** Step 8's release: the broken build, halted by staging's alarm. */
export async function releaseBrokenBuild(ctx: RolloutActContext, clock: DemoClock): Promise<ReconcileReport> {
  const versions = await publishBuild(ctx.ec2, ctx.estate, CHECKOUT_IMAGES.broken, ctx.securityGroupId);
  ctx.say(
    `A pipeline publishes ${CHECKOUT_IMAGE_NAMES[CHECKOUT_IMAGES.broken]} to both templates (checkout-staging v${versions.staging}, checkout v${versions.production}, each the default)`,
  );
  return ctx.reconcile(releaseHooks(ctx, clock, { imageId: CHECKOUT_IMAGES.broken, broken: true }));
}

/** Step 9's release: the fix, through staging and then production. */
export async function releaseFixedBuild(ctx: RolloutActContext, clock: DemoClock): Promise<ReconcileReport> {
  await setAlarm(
    ctx.cloudwatch,
    ctx.estate.staging.alarm,
    'OK',
    'Threshold Crossed: 0 5xx responses in the last 3 minutes (the halted canary was taken out of service)',
  );
  const versions = await publishBuild(ctx.ec2, ctx.estate, CHECKOUT_IMAGES.fixed, ctx.securityGroupId);
  ctx.say(
    `The fix, ${CHECKOUT_IMAGE_NAMES[CHECKOUT_IMAGES.fixed]}, is published the same way (checkout-staging v${versions.staging}, checkout v${versions.production}); ${ctx.estate.staging.alarm} is OK again`,
  );
  return ctx.reconcile(releaseHooks(ctx, clock, { imageId: CHECKOUT_IMAGES.fixed, broken: false }));
}
