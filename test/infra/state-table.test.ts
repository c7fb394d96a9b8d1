/**
 * The table infra creates has the layout the code reads and writes because it takes it from
 * the state table's schema (functions/aws/state-table/schema/table.ts), not from a literal of
 * its own: with the schema changed, the table and the layout check change with it.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { STATE_TABLE } from '../../functions/aws/state-table/schema/table';

const SCHEMA_TABLE = '../../functions/aws/state-table/schema/table';

/** The table part's module, loaded afresh (after any mock of the schema). */
async function stateTablePart() {
  vi.resetModules();
  return import('../../infra/parts/state-table');
}

/** The properties of the one table `stateTable` defines in a bare stack. */
async function synthesizedTable() {
  const part = await stateTablePart();
  const stack = new Stack(new App(), 'Tables');
  const table = part.stateTable(stack, 'State', RemovalPolicy.DESTROY);
  const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table');
  const [resource] = Object.values(tables) as Array<{ Properties: Record<string, unknown> }>;
  return { part, table, properties: resource?.Properties ?? {} };
}

/** What a table keyed and expired as `layout` says in CloudFormation. */
function cloudFormationOf(layout: typeof STATE_TABLE) {
  return {
    KeySchema: [
      { AttributeName: layout.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: layout.sortKey.name, KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: layout.partitionKey.name, AttributeType: layout.partitionKey.type },
      { AttributeName: layout.sortKey.name, AttributeType: layout.sortKey.type },
    ],
    TimeToLiveSpecification: { AttributeName: layout.timeToLiveAttribute, Enabled: true },
  };
}

afterEach(() => {
  vi.doUnmock(SCHEMA_TABLE);
  vi.resetModules();
});

describe('the state table infra creates', () => {
  it("has the schema's key schema and TTL attribute", async () => {
    const { part, properties } = await synthesizedTable();
    expect(properties).toMatchObject(cloudFormationOf(STATE_TABLE));
    expect(part.STATE_TABLE_LAYOUT).toEqual({
      partitionKey: { name: STATE_TABLE.partitionKey.name, type: STATE_TABLE.partitionKey.type },
      sortKey: { name: STATE_TABLE.sortKey.name, type: STATE_TABLE.sortKey.type },
      timeToLiveAttribute: STATE_TABLE.timeToLiveAttribute,
    });
  });

  it('follows the schema when the schema changes, and so does the check of a table brought to Phoenix', async () => {
    const probe = {
      partitionKey: { name: 'probe-pk', type: 'S' },
      sortKey: { name: 'probe-sk', type: 'S' },
      timeToLiveAttribute: 'probe-ttl',
    } as const;
    vi.doMock(SCHEMA_TABLE, async (importOriginal) => ({
      ...(await importOriginal<typeof import('../../functions/aws/state-table/schema/table')>()),
      STATE_TABLE: probe,
    }));
    const { part, table, properties } = await synthesizedTable();
    expect(properties).toMatchObject(cloudFormationOf(probe as unknown as typeof STATE_TABLE));
    expect(() => part.checkStateTableLayout(table)).not.toThrow();

    const other = new Stack(new App(), 'Other');
    const { Table, AttributeType } = await import('aws-cdk-lib/aws-dynamodb');
    const real = new Table(other, 'Real', {
      partitionKey: { name: STATE_TABLE.partitionKey.name, type: AttributeType.STRING },
      sortKey: { name: STATE_TABLE.sortKey.name, type: AttributeType.STRING },
      timeToLiveAttribute: STATE_TABLE.timeToLiveAttribute,
    });
    expect(() => part.checkStateTableLayout(real)).toThrow(/partition key is pk, not probe-pk/);
  });
});
