/**
 * `phoenix plan --table` as the pull-request workflow runs it, against the emulated account,
 * with every AWS call it makes recorded: the calls are exactly the read-only plan role's
 * actions (PLAN_ACTIONS), so the role lets the plan work and grants nothing it does not use.
 */
import { SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStateTable } from '../../emulator/table';
import type * as ClientsModule from '../../functions/aws/clients';
import { StateStore } from '../../functions/aws/state-store';
import { EXIT_DRIFT, run } from '../../functions/cli/commands/plan';
import { memoryIo } from '../../functions/cli/io';
import { PLAN_ACTIONS, planActions } from '../../infra/parts/plan-role';
import { desiredStateYaml, seedEstate, writeDesiredState } from '../evaluate-drift/world';
import {
  emulatorEndpoint,
  resetEmulator,
  TEST_CREDENTIALS,
  TEST_REGION,
  testClients,
} from '../helpers/emulator';

const IAM_PREFIX: Readonly<Record<string, string>> = {
  EC2Client: 'ec2',
  AutoScalingClient: 'autoscaling',
  DynamoDBClient: 'dynamodb',
  ElasticLoadBalancingV2Client: 'elasticloadbalancing',
  SNSClient: 'sns',
  SQSClient: 'sqs',
  SFNClient: 'states',
  ConfigServiceClient: 'config',
  CloudWatchClient: 'cloudwatch',
};

type Handler = (args: unknown) => Promise<unknown>;
/** The part of an SDK v3 client's middleware stack the recorder uses. */
interface Recordable {
  middlewareStack: {
    add(
      middleware: (next: Handler, context: { clientName?: string; commandName?: string }) => Handler,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/** Every call the CLI's own clients send, as IAM actions (`ec2:DescribeInstances`). */
const recorded = vi.hoisted(() => new Set<string>());

vi.mock('../../functions/aws/clients', async (importOriginal) => {
  const original = await importOriginal<typeof ClientsModule>();
  return {
    ...original,
    makeClients: (options: ClientsModule.ClientOptions) => {
      const clients = original.makeClients(options);
      // Every client, built now (makeClients builds each on first use) so each records its calls.
      const names = [
        'ec2',
        'autoScaling',
        'elbv2',
        'dynamodb',
        'sns',
        'sqs',
        'sfn',
        'config',
        'cloudwatch',
      ] as const;
      for (const client of names.map((name) => clients[name]) as unknown as Recordable[]) {
        client.middlewareStack.add(
          (next, context) => async (args) => {
            const prefix = IAM_PREFIX[String(context.clientName)] ?? `unknown(${String(context.clientName)})`;
            recorded.add(`${prefix}:${String(context.commandName).replace(/Command$/, '')}`);
            return next(args);
          },
          { step: 'initialize', name: 'recordIamAction' },
        );
      }
      return clients;
    },
  };
});

describe('phoenix plan --table', () => {
  beforeEach(async () => {
    await resetEmulator();
    recorded.clear();
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('makes exactly the calls the read-only plan role allows, on a drifted, paused, quarantined estate', async () => {
    const clients = testClients();
    const estate = await seedEstate(clients);
    const table = await createStateTable(clients.dynamodb, 'phoenix-state');
    const store = new StateStore(clients.dynamodb, table);
    await store.setPaused(true, 'operator');
    await store.quarantine({
      fleet: 'batch',
      templateId: estate.templates.batch.id,
      version: 2,
      cause: 'unhealthy',
      execution: 'earlier',
    });
    const { file } = await writeDesiredState(desiredStateYaml('enforce'));
    const io = memoryIo();

    const code = await run(
      ['--desired-state', file, '--table', table, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()],
      io,
    );

    expect(io.err()).toBe('');
    expect(code).toBe(EXIT_DRIFT);
    expect(io.out()).toMatch(/not replacing: remediation is paused/);
    expect([...recorded].sort()).toEqual([...PLAN_ACTIONS].sort());
  });

  it('with rollouts declared, adds exactly DescribeAlarms and the followed fleet’s Query, as the role grants', async () => {
    const clients = testClients();
    const estate = await seedEstate(clients);
    // Batch runs its template's image on every running instance, so batch2, promoted from it,
    // reads batch's rollouts of that image (the Query) to see that it baked.
    await clients.ec2.send(
      new TerminateInstancesCommand({ InstanceIds: [estate.batch.oldVersion, estate.batch.excluded] }),
    );
    const table = await createStateTable(clients.dynamodb, 'phoenix-state');
    const yaml = `${desiredStateYaml('enforce').replace(
      '    team: team-web\n',
      '    team: team-web\n    rollout: { alarms: [web-5xx] }\n',
    )}  batch2:
    match: { tags: { App: batch2 } }
    launchTemplate: { name: batch-lt, version: $Default }
    team: team-batch
    rollout: { canary: 1, bakeMinutes: 30, after: batch }
`;
    const { file, compiled } = await writeDesiredState(yaml);
    const io = memoryIo();

    const code = await run(
      ['--desired-state', file, '--table', table, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()],
      io,
    );

    expect(io.err()).toBe('');
    expect(code).toBe(EXIT_DRIFT);
    expect(io.out()).toMatch(/ {2}rollout: of \S+ version \d+: not begun\n/);
    // Batch converged on the image and never rolled it: batch2 is not held by its promotion.
    expect(io.out()).not.toContain('waiting for fleet batch');
    expect([...recorded].sort()).toEqual(planActions(compiled.fleets).sort());
    expect(recorded).toContain('cloudwatch:DescribeAlarms');
    expect(recorded).toContain('dynamodb:Query');
  });

  it('records a call it was not given, so the comparison above can fail', async () => {
    const { makeClients } = await import('../../functions/aws/clients');
    const clients = makeClients({
      region: TEST_REGION,
      endpoint: emulatorEndpoint(),
      credentials: { ...TEST_CREDENTIALS },
    });
    await clients.autoScaling
      .send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'none', DesiredCapacity: 1 }))
      .catch(() => undefined);
    expect([...recorded]).toEqual(['autoscaling:SetDesiredCapacity']);
  });
});
