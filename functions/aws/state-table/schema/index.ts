/**
 * The state table's schema: every item kind's key layout, record type and codec (to and from
 * DynamoDB attribute maps), in one place that imports no store and no SDK command. The stores
 * (functions/aws/state-store.ts, remediation-store.ts, compliance-ledger.ts) are built on it;
 * infra creates the table from {@link STATE_TABLE}.
 *
 * One table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expiresAt` (epoch
 * seconds). DynamoDB deletes expired items lazily (up to days later), so every read and every
 * condition treats an item whose `expiresAt` has passed as absent.
 *
 * | item | pk | sk | attributes | module |
 * | --- | --- | --- | --- | --- |
 * | pause switch | `control` | `pause` | paused, by, at | control.ts |
 * | notification claim | `notification#<key>` | `claim` | claimedAt, expiresAt | notification.ts |
 * | quarantine | `quarantine` | `<fleet>#<templateId>#<version>` | fleet, templateId, version (N), cause, execution, at — also written by the ASL | quarantine.ts |
 * | attempt generation | `attempt#<instance>` | `<fingerprint>` | generation (N), at, expiresAt, heldUntil?, heldBecause? | attempt.ts |
 * | lease slot | `lease#<fleet>` | `slot#<i>` | holder, instanceId, acquiredAt, expiresAt | lease.ts |
 * | lease dip | `lease#<fleet>` | `dip#<i>` | holder, instanceId, acquiredAt, expiresAt | lease.ts |
 * | group lock | `group#<name>` | `lock` | holder, instanceId, acquiredAt, expiresAt, sharedFormat, holders? (SS), handingBack? (SS), joinable?, raiseMade?, raiseFailed? (JSON), change? (JSON) | group-lock.ts |
 * | retirements waiting for it | `group#<name>` | `retirers` | holders (SS), expiresAt | group-lock.ts |
 * | instance claim | `instance#<id>` | `replacement` | holder, fleet, acquiredAt, expiresAt, replacedBy?, replacedAt? | instance-claim.ts |
 * | replacement claim | `replacement#<id>` | `claim` | holder, expiresAt | replacement-claim.ts |
 * | ledger shard | `reported#<generation>` | `shard#<nn>` | entries (M), version (N), expiresAt | ledger.ts |
 * | waiter | `queue#<fleet>#<az>` | `<launchTime>#<instanceId>` | fleet, az, launchTime, instanceId, holder, taskToken, data (JSON), parkedAt, heartbeatAt, granted?, failed? | waiter.ts |
 * | queue zones | `queue#<fleet>` | `zones` | zones (SS), waiting (N) | waiter.ts |
 * | queue granter | `queue#<fleet>` | `granter` | holder, expiresAt, again? | waiter.ts |
 * | launch tokens | `account#ec2` | `run-instances-tokens` | level (N), atMs (N) | launch-tokens.ts |
 * | rollout | `rollout#<fleet>` | `<templateId>#<version>` | fleet, templateId, version (N), stage, counters (N), canary, bakeMinutes, maxFailures, bakeUntil?, approvedBy?, halt? | rollout.ts |
 *
 * A new item kind gets its own module here, a row in this table, and a codec test
 * (test/aws/state-table/schema.test.ts keeps the partitions of the kinds apart).
 */
export * from './attempt';
export * from './control';
export * from './group-lock';
export * from './instance-claim';
export * from './launch-tokens';
export * from './lease';
export * from './ledger';
export * from './notification';
export * from './quarantine';
export * from './replacement-claim';
export * from './rollout';
export * from './table';
export * from './waiter';
