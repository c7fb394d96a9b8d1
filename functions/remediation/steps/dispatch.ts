/**
 * From the state machine's event to a step: the table of steps by name (the names the
 * definition's Lambda tasks pass as `step`), the event's schema, and {@link runStep}, which
 * validates the event and the state, runs the step, and names AWS's passing failures.
 */
import * as z from 'zod/mini';
import { transientFailureOf } from '../../aws/transient';
import { PhoenixError } from '../../domain/errors';
import { NOTIFICATION_EVENTS, type NotificationEvent } from '../../domain/notification';
import { validate } from '../../runtime/validation';
import { StepInputError, TransientAwsError } from '../errors';
import { type MachineData, MachineDataSchema } from '../input';
import { requirePart, type StepContext, type StepDeps } from './deps';
import { raiseDesiredCapacity, standbyOldFirst } from './group-capacity';
import { checkHealthy } from './health';
import { launchReplacement } from './launch';
import { notify } from './notify';
import { plan } from './plan';
import { acquireLease, releaseLease } from './queue';
import { recheck } from './recheck';
import { retireOld } from './retire';
import { rollback } from './rollback';

/** A step as the table runs it: `event` is the notification a notify state names. */
type StepRun = (
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  event: NotificationEvent | undefined,
) => Promise<unknown>;

/** Every step the state machine may ask for, by the name its Lambda tasks pass. */
const STEPS = {
  recheck,
  plan,
  acquireLease,
  raiseDesiredCapacity,
  standbyOldFirst,
  launchReplacement,
  retireOld,
  checkHealthy,
  rollback,
  releaseLease,
  notify: (deps, data, ctx, event) => notify(deps, data, ctx, requirePart(event, 'an `event`', 'notify')),
} as const satisfies Record<string, StepRun>;

export type StepName = keyof typeof STEPS;

/** The names of {@link STEPS}, in the order of a replacement. */
export const STEP_NAMES = Object.freeze(Object.keys(STEPS) as StepName[]);

/** What the state machine passes to the steps Lambda. */
export const StepEventSchema = z.object({
  step: z.enum(STEP_NAMES),
  executionId: z.string().check(z.minLength(1, 'is empty')),
  startedAt: z.optional(z.string()),
  event: z.optional(z.enum(NOTIFICATION_EVENTS)),
  /** The callback task's token (`$$.Task.Token`): only the lease step has one. */
  taskToken: z.optional(z.string().check(z.minLength(1, 'is empty'))),
  data: z.unknown(),
});
export type StepEvent = z.infer<typeof StepEventSchema>;

/**
 * Runs one step for the state machine. Errors Phoenix throws keep their names (the ASL's
 * `Retry`/`Catch` match them); an AWS failure that passes (throttling, 5xx, network: one
 * classifier, `functions/aws/transient.ts`) becomes {@link TransientAwsError}.
 */
export async function runStep(deps: StepDeps, rawEvent: unknown): Promise<unknown> {
  const parsedEvent = validate(StepEventSchema, rawEvent);
  if (!parsedEvent.ok) throw new StepInputError(`not a step event: ${parsedEvent.problem}`);
  const event = parsedEvent.value;
  const parsedData = validate(MachineDataSchema, event.data);
  if (!parsedData.ok) {
    throw new StepInputError(`step ${event.step}: the execution state is not usable: ${parsedData.problem}`);
  }
  const data = parsedData.value;
  const ctx: StepContext = { executionId: event.executionId };
  if (event.startedAt !== undefined) ctx.startedAt = event.startedAt;
  if (event.taskToken !== undefined) ctx.taskToken = event.taskToken;
  const step: StepRun = STEPS[event.step];
  try {
    return await step(deps, data, ctx, event.event);
  } catch (error) {
    if (error instanceof PhoenixError || !(error instanceof Error)) throw error;
    const transient = transientFailureOf(error);
    if (transient !== undefined) {
      throw new TransientAwsError(`step ${event.step}: ${error.name}: ${error.message}`, {
        cause: error,
        code: transient.code,
        reason: transient.reason,
      });
    }
    throw error;
  }
}
