/**
 * The package's library entry (`import { DriftRemediator } from 'phoenix-drift-remediator'`):
 * the construct, its props, and what a CDK app needs to compile a desired state itself.
 */
export { DesiredStateInvalidError } from '../functions/domain/desired-state/errors';
export type { CompiledDesiredState } from '../functions/domain/model';
export { loadDesiredStateFile, loadDesiredStateFileSync } from '../functions/io/desired-state-file';
export {
  type AlarmThresholds,
  type ChatChannel,
  DriftRemediator,
  type DriftRemediatorFromFileProps,
  type DriftRemediatorProps,
  EVALUATOR_ACTIONS,
  type NotificationFilter,
  type NotificationSubscription,
  PLAN_ACTIONS,
  type PlanRoleOptions,
  REMEDIATION_ACTIONS,
  type SlackChatChannel,
  STATE_TABLE_LAYOUT,
  type SweepFrequency,
  type TeamsChatChannel,
} from './drift-remediator';
