/**
 * Faults the emulated account cannot produce, injected into a local run for tests
 * (`LocalRunHooks.faults`, ../hooks.ts): a Task throttled the way AWS throttles it, an instance whose
 * status checks fail.
 */
import * as ec2Sdk from '@aws-sdk/client-ec2';
import type { AfterStateEvent } from './run-events';
import { type LocalClients, StateError, serviceErrorPrefix } from './tasks';

/**
 * Test-only faults, for every execution of a run (`LocalRunHooks.faults`). The hooks import
 * this type, not the reverse, so the two modules form no cycle.
 */
export interface Faults {
  /** Fail each named Task state this many times with the throttling error AWS would report for it. */
  throttle?: Readonly<Record<string, number>>;
  /**
   * Report instances as impaired (failed status checks), which the emulator cannot do:
   * `'replacement'` impairs every instance but the one being replaced.
   */
  impaired?: 'replacement' | ((instanceId: string) => boolean);
}

/** EC2 whose `DescribeInstanceStatus` reports the instances `impaired` picks as impaired. */
export function withImpairment(
  ec2: LocalClients['ec2'],
  impaired: (instanceId: string) => boolean,
): LocalClients['ec2'] {
  const send = async (command: unknown) => {
    const output = await ec2.send(command as never);
    if (command instanceof ec2Sdk.DescribeInstanceStatusCommand) {
      const result = output as ec2Sdk.DescribeInstanceStatusCommandOutput;
      for (const status of result.InstanceStatuses ?? []) {
        if (status.InstanceId !== undefined && impaired(status.InstanceId)) {
          status.InstanceStatus = { ...status.InstanceStatus, Status: 'impaired' };
        }
      }
    }
    return output;
  };
  return { send } as unknown as LocalClients['ec2'];
}

/** The error AWS reports when it throttles a Task of this resource. */
export function throttlingError(resource: AfterStateEvent['resource']): StateError {
  if (resource === 'lambda')
    return new StateError('Lambda.TooManyRequestsException', 'Rate Exceeded. (injected fault)');
  const prefix = serviceErrorPrefix(resource.split(':')[0] ?? '');
  if (prefix === 'DynamoDb')
    return new StateError('DynamoDb.ThrottlingException', 'Rate exceeded (injected fault)');
  return new StateError(
    `${prefix}.${prefix}Exception`,
    'Rate exceeded (Service: throttling; injected fault)',
  );
}
