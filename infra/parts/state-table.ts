/**
 * The one DynamoDB table behind budget leases, notification de-duplication, quarantines
 * and the pause switch (functions/aws/state-store.ts): on demand, point-in-time recovery,
 * items expire through the `expiresAt` TTL attribute (epoch seconds).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';

export function stateTable(scope: Construct, id: string, removalPolicy: RemovalPolicy): Table {
  return new Table(scope, id, {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: 'expiresAt',
    encryption: TableEncryption.AWS_MANAGED,
    // Leases and quarantines must survive a stack replaced by mistake.
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
  });
}
