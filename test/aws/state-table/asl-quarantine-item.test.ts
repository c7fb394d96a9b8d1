/**
 * The state machine writes the quarantine item itself (`QuarantineTemplateVersion`, a direct
 * DynamoDB PutItem whose layout is written out in the ASL: the definition is authored as ASL,
 * ADR 2). These specs hold that literal and the schema's codec to one layout: the item the
 * real definition writes on a rollback is read back through the codec, attribute for
 * attribute, and found by every store operation that keys on it.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../../functions/aws/state-store';
import {
  QUARANTINE_PK,
  quarantineFromItem,
  quarantineItem,
  quarantineKey,
} from '../../../functions/aws/state-table/schema';
import definition from '../../../state-machines/remediate-instance.asl.json' with { type: 'json' };
import {
  desiredState,
  seedDriftedStandaloneFleet,
  type TestAccount,
  testAccount,
} from '../../remediation/harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
`);

/** The attribute map the ASL's state writes, as authored. */
type AslItem = Record<string, Record<string, string>>;

function aslQuarantineItem(): AslItem {
  const state = (definition.States as Record<string, { Parameters?: { Item?: AslItem } }>)
    .QuarantineTemplateVersion;
  const item = state?.Parameters?.Item;
  if (item === undefined) throw new Error('the definition has no QuarantineTemplateVersion item');
  return item;
}

describe("the ASL's quarantine item and the schema", () => {
  it('name the same attributes with the same types, under the same partition', () => {
    const asl = aslQuarantineItem();
    const codec = quarantineItem({
      fleet: 'web',
      templateId: 'lt-0abc',
      version: 2,
      cause: 'unhealthy',
      execution: 'arn:exec',
      at: '2025-06-15T12:00:00.000Z',
    });
    // Each attribute's type is the key of its value: `S` or `S.$` (a path), `N.$`.
    const shape = (item: Record<string, object>) =>
      Object.fromEntries(
        Object.entries(item).map(([name, value]) => [
          name,
          Object.keys(value).map((t) => t.replace('.$', '')),
        ]),
      );
    expect(shape(asl)).toEqual(shape(codec));
    expect(asl.pk).toEqual({ S: QUARANTINE_PK });
  });

  describe('on a rollback run by the real definition', () => {
    let account: TestAccount;
    let api: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;

    beforeAll(async () => {
      account = await testAccount();
      api = await seedDriftedStandaloneFleet(account.clients, { name: 'api', count: 2 });
    });

    it('writes the item the codec reads back whole, and the store finds, lists and lifts it', async () => {
      const [old = ''] = api.instanceIds;
      const input = await account.inputFor(STATE, old);
      const result = await account.remediate(input, STATE, {
        hooks: { faults: { impaired: 'replacement' } },
      });
      expect(result.status).toBe('FAILED');
      expect(
        result.events.some((e) => e.type === 'StateExited' && e.state === 'QuarantineTemplateVersion'),
      ).toBe(true);

      const key = { fleet: 'api', templateId: api.template.id, version: input.launchTemplate.version };
      const { Item } = await account.clients.dynamodb.send(
        new GetItemCommand({ TableName: account.tableName, Key: quarantineKey(key), ConsistentRead: true }),
      );
      if (Item === undefined) throw new Error('the definition wrote no item under the schema key');
      const read = quarantineFromItem(Item);
      expect(read).toEqual({
        ...key,
        cause: result.cause,
        execution: result.executionArn,
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      });
      // Nothing the ASL wrote is lost on the codec's way, and nothing is typed differently.
      expect(quarantineItem(read)).toEqual(Item);

      const store = new StateStore(account.clients.dynamodb, account.tableName);
      expect(await store.getQuarantine(key.fleet, key.templateId, key.version)).toEqual(read);
      expect(await store.listQuarantines('api')).toEqual([read]);
      expect(await store.liftQuarantine(key.fleet, key.templateId, key.version)).toBe(true);
      expect(await store.listQuarantines()).toEqual([]);
    });
  });
});
