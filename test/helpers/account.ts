/**
 * The emulated account of emulator/account.ts on the run's emulator (or one a test started
 * itself), and desired-state YAML compiled as synth would.
 */
import { emulatedAccount as accountOn, type EmulatedAccount } from '../../emulator/account';
import { compileDesiredState } from '../../functions/domain/desired-state/compile';
import { parseDesiredState } from '../../functions/domain/desired-state/validate';
import type { CompiledDesiredState, Provenance } from '../../functions/domain/model';
import { emulatorEndpoint } from './emulator';

/**
 * Clients on the emulator and a fresh state table named `tableName` (unique within a file:
 * files reset the emulator before they start), with a clock starting at `start` (default:
 * the wall clock's now). `endpoint`: an emulator the test started itself instead of the run's.
 */
export function emulatedAccount(options: {
  tableName: string;
  start?: Date;
  endpoint?: string;
}): Promise<EmulatedAccount> {
  return accountOn({ ...options, endpoint: options.endpoint ?? emulatorEndpoint() });
}

/** Compiles a desired-state YAML text as synth would, read from `phoenix.yaml` at `provenance`. */
export function compileYaml(yaml: string, provenance: Omit<Provenance, 'path'>): CompiledDesiredState {
  const parsed = parseDesiredState(yaml, 'phoenix.yaml');
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.line}:${i.column} ${i.message}`).join('\n'));
  return compileDesiredState(parsed.value, {
    commit: provenance.commit,
    path: 'phoenix.yaml',
    sha256: provenance.sha256,
  });
}
