import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import {
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultImageIds, seedLaunchTemplate, seedStandaloneInstances } from '../../emulator/seed';
import type { PhoenixClients } from '../../functions/aws/clients';
import { handleEvent } from '../../functions/evaluate-drift/core';
import { PUT_EVALUATIONS_BATCH_SIZE } from '../../functions/evaluate-drift/evaluations';
import { resetEmulator, testClients } from '../helpers/emulator';
import { emulatedDetection } from './account';
import { fixture } from './harness';
import { writeDesiredState } from './world';

const N = 1000;
const LAUNCH_BATCH = 250;
const HAND_CHANGED = 10;

/** Counts the commands an EC2 client sends, by name (the emulator never throttles, so one command is one page). */
function countCalls(client: EC2Client): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'phoenixCallCounter' },
  );
  return counts;
}

describe(`a sweep of ${N} instances`, () => {
  let clients: PhoenixClients;
  let handChanged: string[];

  beforeAll(async () => {
    await resetEmulator();
    clients = testClients();
    // A /20: a /24 has too few addresses for a thousand instances.
    const vpc = await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.8.0.0/16' }));
    const subnet = await clients.ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.8.0.0/20',
        AvailabilityZone: 'us-east-1a',
      }),
    );
    const subnetId = subnet.Subnet?.SubnetId ?? '';
    const [imageId = ''] = await defaultImageIds(clients.ec2, 1);
    const template = await seedLaunchTemplate(clients.ec2, {
      name: 'fleet-lt',
      versions: [{ imageId, instanceType: 't3.micro' }],
    });
    const ids: string[] = [];
    for (let launched = 0; launched < N; launched += LAUNCH_BATCH) {
      ids.push(
        ...(await seedStandaloneInstances(clients.ec2, {
          launchTemplate: { id: template.id, version: 1 },
          count: LAUNCH_BATCH,
          subnetId,
          tags: { App: 'fleet', Owner: 'team-fleet' },
        })),
      );
    }
    handChanged = ids.slice(0, HAND_CHANGED);
    await clients.ec2.send(
      new CreateTagsCommand({ Resources: handChanged, Tags: [{ Key: 'Owner', Value: 'someone' }] }),
    );
  }, 300_000);

  it('reads each fleet selector in ceil(N/1000) DescribeInstances pages and writes ceil(N/100) PutEvaluations calls', async () => {
    const { compiled } = await writeDesiredState(`version: 1
defaults: { mode: observe }
fleets:
  fleet:
    match: { tags: { App: fleet } }
    launchTemplate: { name: fleet-lt }
    tags: { Owner: team-fleet }
`);
    const detection = await emulatedDetection(clients, compiled);
    const ec2Calls = countCalls(clients.ec2);

    const summary = await handleEvent(detection.deps, fixture('config-scheduled'));

    expect(summary).toMatchObject({ judged: N, compliant: N - HAND_CHANGED, nonCompliant: HAND_CHANGED });
    const fleetSelectors = compiled.fleets.length;
    expect(ec2Calls.get('DescribeInstancesCommand')).toBeLessThanOrEqual(
      fleetSelectors * Math.ceil(N / 1000),
    );
    // One template resolution per fleet, not one per instance.
    expect(ec2Calls.get('DescribeLaunchTemplateVersionsCommand')).toBe(fleetSelectors);
    const putCalls = detection.config.commandCalls(PutEvaluationsCommand);
    expect(putCalls.length).toBeLessThanOrEqual(Math.ceil(N / PUT_EVALUATIONS_BATCH_SIZE));
    expect(
      putCalls.every((call) => (call.args[0].input.Evaluations?.length ?? 0) <= PUT_EVALUATIONS_BATCH_SIZE),
    ).toBe(true);
    const evaluations = detection.evaluations();
    expect(Object.keys(evaluations)).toHaveLength(N);
    expect(handChanged.every((id) => evaluations[id] === 'NON_COMPLIANT')).toBe(true);
  });
});
