/**
 * The package's library entry (`import { DriftRemediator } from 'phoenix-drift-remediator'`):
 * the construct, its props, and what a CDK app needs to compile a desired state itself.
 */
export { DesiredStateInvalidError } from '../functions/domain/desired-state/errors';
export type { CompiledDesiredState } from '../functions/domain/model';
export { loadDesiredStateFile, loadDesiredStateFileSync } from '../functions/io/desired-state-file';
export {
  type AlarmThresholds,
  DriftRemediator,
  type DriftRemediatorFromFileProps,
  type DriftRemediatorProps,
  EVALUATOR_ACTIONS,
  type NotificationSubscription,
  REMEDIATION_ACTIONS,
  type SweepFrequency,
} from './drift-remediator';
