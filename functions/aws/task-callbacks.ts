/**
 * Answering a parked Step Functions task: the grant (SendTaskSuccess), a refusal for good
 * (SendTaskFailure), a sign of life (SendTaskHeartbeat). Deployed, through Step Functions;
 * a local run supplies its own (functions/local/step-functions/callbacks.ts).
 */
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';

/**
 * `delivered`: the task has the answer. `gone`: no task waits on the token any more (the
 * execution ended, was stopped, or its heartbeat lapsed and it parked again with a new token).
 * `elsewhere`: the token belongs to another local process, which finds the answer in the table.
 */
export type Delivery = 'delivered' | 'gone' | 'elsewhere';

/** How the queue answers a parked task. */
export interface TaskCallbacks {
  succeed(token: string, output: unknown): Promise<Delivery>;
  fail(token: string, error: string, cause: string): Promise<Delivery>;
  heartbeat(token: string): Promise<Delivery>;
}

/** What Step Functions answers for a token no task waits on. */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

async function delivered(send: () => Promise<unknown>): Promise<Delivery> {
  try {
    await send();
    return 'delivered';
  } catch (error) {
    if (error instanceof Error && GONE.has(error.name)) return 'gone';
    throw error;
  }
}

/** The deployed callbacks: Step Functions' task APIs. */
export function stepFunctionsCallbacks(sfn: Pick<SFNClient, 'send'>): TaskCallbacks {
  return {
    succeed: (token, output) =>
      delivered(() =>
        sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) })),
      ),
    fail: (token, error, cause) =>
      delivered(() => sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause }))),
    heartbeat: (token) => delivered(() => sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }))),
  };
}
