/**
 * The wiring every emulated-account scenario starts from, shared by the remediation and the
 * end-to-end harnesses: SDK clients on moto, Phoenix's state table, a clock the scenario
 * moves, the clients the local runner is given, and what a scenario reads back of a fleet
 * (its group, its targets, its healthy serving capacity). Plain Node: the tests reach it
 * through test/helpers/account.ts, which supplies the run's emulator.
 * Each harness adds what its scenarios read (notification inboxes, reconcilers, fleets).
 */
import { type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstanceStatusCommand } from '@aws-sdk/client-ec2';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { PhoenixClients } from '../functions/aws/clients';
import type { LocalClients } from '../functions/local/step-functions/tasks';
import { emulatorClients } from './clients';
import { atomicDynamoDB, createStateTable } from './table';

/** A clock the scenario moves by hand; the code under test reads it through `now`. */
export interface TestClock {
  now: Date;
}

/** The account's clients, its state table and its clock. */
export interface EmulatedAccount {
  clients: PhoenixClients;
  /** The clients the local runner and the reconciler are given. */
  local: LocalClients;
  tableName: string;
  clock: TestClock;
  now: () => Date;
}

/**
 * Clients on the emulator at `endpoint` and a fresh state table named `tableName` (unique
 * within the emulator's current state), with a clock starting at `start` (default: the wall
 * clock's now).
 */
export async function emulatedAccount(options: {
  tableName: string;
  start?: Date;
  endpoint: string;
}): Promise<EmulatedAccount> {
  const clients = emulatorClients(options.endpoint);
  const tableName = await createStateTable(clients.dynamodb, options.tableName);
  const clock: TestClock = { now: options.start ?? new Date() };
  // moto's conditional writes are not atomic under concurrency (see atomicDynamoDB).
  const local: LocalClients = {
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    elbv2: clients.elbv2,
    sns: clients.sns,
    dynamodb: atomicDynamoDB(clients.dynamodb),
    cloudwatch: clients.cloudwatch,
  };
  return { clients, local, tableName, clock, now: () => clock.now };
}

/** The Auto Scaling group `name` as the emulator describes it. */
export async function describeGroup(clients: PhoenixClients, name: string): Promise<AutoScalingGroup> {
  const out = await clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = out.AutoScalingGroups?.[0];
  if (group === undefined) throw new Error(`no group ${name}`);
  return group;
}

/** Instance ids registered in a target group, with their health. */
export async function targetsOf(
  clients: PhoenixClients,
  targetGroupArn: string,
): Promise<Record<string, string>> {
  const out = await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return Object.fromEntries(
    (out.TargetHealthDescriptions ?? []).map((d) => [d.Target?.Id ?? '', d.TargetHealth?.State ?? 'unknown']),
  );
}

/**
 * Healthy serving capacity: targets healthy in the target group whose instance is running
 * with status checks ok. Checked against the floor after every state.
 */
export async function healthyServing(clients: PhoenixClients, targetGroupArn: string): Promise<number> {
  const targets = await targetsOf(clients, targetGroupArn);
  const healthyIds = Object.entries(targets)
    .filter(([, state]) => state === 'healthy')
    .map(([id]) => id);
  if (healthyIds.length === 0) return 0;
  const status = await clients.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: healthyIds }));
  return (status.InstanceStatuses ?? []).filter(
    (s) => s.InstanceState?.Name === 'running' && s.InstanceStatus?.Status === 'ok',
  ).length;
}
