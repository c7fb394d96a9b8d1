/**
 * The one DynamoDB table behind budget leases, notification de-duplication, quarantines
 * and the pause switch (its items: functions/aws/state-table/schema/): on demand,
 * point-in-time recovery, items expire through the `expiresAt` TTL attribute (epoch seconds).
 *
 * A platform that brings its own table (`DriftRemediatorProps.table`) must give it the same
 * layout ({@link STATE_TABLE_LAYOUT}); {@link checkStateTableLayout} refuses a table defined
 * in the same app that does not have it.
 */

import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  CfnGlobalTable,
  CfnTable,
  type ITable,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { STATE_TABLE } from '../../functions/aws/state-table/schema/table';
import { StateTableLayoutError } from '../errors';

/** CDK's name of each DynamoDB attribute type the schema's keys use. */
const ATTRIBUTE_TYPES = { S: AttributeType.STRING } as const;

/**
 * The key layout and TTL attribute Phoenix's code reads and writes: the schema's
 * (functions/aws/state-table/schema/table.ts), in CDK's terms.
 */
export const STATE_TABLE_LAYOUT = {
  partitionKey: {
    name: STATE_TABLE.partitionKey.name,
    type: ATTRIBUTE_TYPES[STATE_TABLE.partitionKey.type],
  },
  sortKey: { name: STATE_TABLE.sortKey.name, type: ATTRIBUTE_TYPES[STATE_TABLE.sortKey.type] },
  timeToLiveAttribute: STATE_TABLE.timeToLiveAttribute,
} as const;

export function stateTable(scope: Construct, id: string, removalPolicy: RemovalPolicy): Table {
  return new Table(scope, id, {
    partitionKey: STATE_TABLE_LAYOUT.partitionKey,
    sortKey: STATE_TABLE_LAYOUT.sortKey,
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: STATE_TABLE_LAYOUT.timeToLiveAttribute,
    encryption: TableEncryption.AWS_MANAGED,
    // Leases and quarantines must survive a stack replaced by mistake.
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
  });
}

// The L1 properties, resolved: camelCase, as CDK holds them before rendering CloudFormation.
interface KeyElement {
  attributeName?: unknown;
  keyType?: unknown;
}
interface AttributeDefinition {
  attributeName?: unknown;
  attributeType?: unknown;
}

/**
 * Checks a table brought to Phoenix: partition key `pk` (string), sort key `sk` (string),
 * TTL enabled on `expiresAt`. Only a table defined in this CDK app (a `Table` or `TableV2`)
 * can be read at synth; an imported one (`Table.fromTableName`) is the caller's word.
 * @throws StateTableLayoutError naming every difference.
 */
export function checkStateTableLayout(table: ITable): void {
  const resource = table.node.defaultChild;
  if (!(resource instanceof CfnTable) && !(resource instanceof CfnGlobalTable)) return;
  const stack = Stack.of(table);
  const keySchema = (stack.resolve(resource.keySchema) ?? []) as KeyElement[];
  const attributes = (stack.resolve(resource.attributeDefinitions) ?? []) as AttributeDefinition[];
  const ttl = stack.resolve(resource.timeToLiveSpecification) as
    | { attributeName?: unknown; enabled?: unknown }
    | undefined;
  const typeOf = (name: string) => attributes.find((a) => a.attributeName === name)?.attributeType;
  const keyOf = (keyType: string) => keySchema.find((k) => k.keyType === keyType)?.attributeName;

  const problems: string[] = [];
  const { partitionKey, sortKey, timeToLiveAttribute } = STATE_TABLE_LAYOUT;
  for (const [role, keyType, expected] of [
    ['partition key', 'HASH', partitionKey],
    ['sort key', 'RANGE', sortKey],
  ] as const) {
    const actual = keyOf(keyType);
    if (actual !== expected.name) {
      problems.push(
        `its ${role} is ${actual === undefined ? 'missing' : String(actual)}, not ${expected.name}`,
      );
    } else if (typeOf(expected.name) !== expected.type) {
      problems.push(
        `its ${role} ${expected.name} is of type ${String(typeOf(expected.name))}, not ${expected.type}`,
      );
    }
  }
  if (ttl?.attributeName !== timeToLiveAttribute || ttl.enabled !== true) {
    problems.push(`its TTL must be enabled on ${timeToLiveAttribute}`);
  }
  if (problems.length > 0) {
    throw new StateTableLayoutError(
      `the state table ${table.node.path} cannot hold Phoenix's state: ${problems.join('; ')}`,
    );
  }
}
