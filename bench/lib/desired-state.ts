/**
 * Desired states for the benchmarks, compiled from YAML exactly as synth compiles them.
 */
import { compileDesiredState } from '../../functions/domain/desired-state/compile';
import { formatIssue, parseDesiredState } from '../../functions/domain/desired-state/validate';
import type { CompiledDesiredState } from '../../functions/domain/model';

/** Compiles a benchmark's desired-state YAML, failing with every problem if it is invalid. */
export function benchDesiredState(yaml: string, file = 'bench.yaml'): CompiledDesiredState {
  const parsed = parseDesiredState(yaml, file);
  if (!parsed.ok) throw new Error(parsed.issues.map(formatIssue).join('\n'));
  return compileDesiredState(parsed.value, { commit: 'benchmark', path: file, sha256: '0'.repeat(64) });
}
