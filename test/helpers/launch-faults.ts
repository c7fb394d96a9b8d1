/**
 * Launches that fail the way AWS fails them, where moto cannot: EC2 out of capacity or denying
 * a call, and an Auto Scaling group whose launch EC2 refuses.
 *
 * On AWS a group launches asynchronously: `SetDesiredCapacity` (or `EnterStandby`) succeeds,
 * and the launch EC2 refuses fails a scaling activity (`DescribeScalingActivities`, newest
 * first, with EC2's reason in its status message) while the group keeps trying. moto launches
 * synchronously and fails the call itself with EC2's error, and records no activities.
 * {@link withAsyncGroupLaunches} gives the emulated group AWS's behaviour.
 */
import {
  type Activity,
  type AutoScalingClient,
  DescribeScalingActivitiesCommand,
  EnterStandbyCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { type EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';

/** An EC2 error as SDK v3 deserializes it (the code is its name). */
export function ec2Error(code: string, status: number, message: string): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
}

/** Commands the wrapped client saw, by SDK command name, with their input. */
export type SentCommands = Array<{ command: string; input: unknown }>;

/**
 * An EC2 client on which the command named `command` (e.g. `RunInstancesCommand`) fails with
 * `error` the first `times` times; every command sent is recorded in `sent`.
 */
export function failingEc2(
  ec2: Pick<EC2Client, 'send'>,
  fault: { command: string; error: () => Error; times: number },
  sent: SentCommands = [],
): Pick<EC2Client, 'send'> {
  let left = fault.times;
  const send = async (command: { constructor: { name: string }; input: unknown }) => {
    sent.push({ command: command.constructor.name, input: command.input });
    if (command.constructor.name === fault.command && left > 0) {
      left -= 1;
      throw fault.error();
    }
    return ec2.send(command as never);
  };
  return { send } as unknown as Pick<EC2Client, 'send'>;
}

/** Every command sent through the client is recorded in `sent`, then sent on unchanged. */
export function recording<T extends { send(command: never): Promise<unknown> }>(
  client: T,
  sent: SentCommands,
): T {
  const send = (command: { constructor: { name: string }; input: unknown }) => {
    sent.push({ command: command.constructor.name, input: command.input });
    return client.send(command as never);
  };
  return { send } as unknown as T;
}

/** Errors moto's synchronous group launch reports: EC2's, not the group's own. */
function isLaunchError(error: unknown): error is Error {
  return error instanceof Error && /^(Invalid|Unsupported|Unauthorized|Insufficient)/.test(error.name);
}

/**
 * The group's client with AWS's asynchronous launches: a launch EC2 refuses during
 * `SetDesiredCapacity` or `EnterStandby` becomes a failed scaling activity instead of an error
 * (moto has already applied the capacity change when it fails), and
 * `DescribeScalingActivities` returns those activities, newest first.
 */
export function withAsyncGroupLaunches(
  autoScaling: Pick<AutoScalingClient, 'send'>,
  clock: () => Date,
): Pick<AutoScalingClient, 'send'> & { activities: Activity[] } {
  const activities: Activity[] = [];
  const send = async (command: { input: { AutoScalingGroupName?: string } }) => {
    if (command instanceof DescribeScalingActivitiesCommand) {
      const group = command.input.AutoScalingGroupName;
      return { Activities: activities.filter((a) => a.AutoScalingGroupName === group), $metadata: {} };
    }
    try {
      return await autoScaling.send(command as never);
    } catch (error) {
      const launching =
        command instanceof SetDesiredCapacityCommand || command instanceof EnterStandbyCommand;
      if (!launching || !isLaunchError(error)) throw error;
      const at = clock();
      activities.unshift({
        ActivityId: `activity-${activities.length + 1}`,
        AutoScalingGroupName: command.input.AutoScalingGroupName,
        Description: `Launching a new EC2 instance.  Status Reason: ${error.message}. Launching EC2 instance failed.`,
        Cause: `At ${at.toISOString()} an instance was started in response to a difference between desired and actual capacity.`,
        StartTime: at,
        EndTime: at,
        StatusCode: 'Failed',
        StatusMessage: `${error.message}. Launching EC2 instance failed.`,
        Progress: 100,
      });
      return { Activities: [], $metadata: {} };
    }
  };
  return { send, activities } as unknown as Pick<AutoScalingClient, 'send'> & { activities: Activity[] };
}
