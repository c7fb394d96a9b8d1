/**
 * The compiled desired state a Lambda bundle carries.
 *
 * At synth, infra validates and compiles `phoenix.yaml` and has esbuild replace the global
 * {@link DESIRED_STATE_GLOBAL} with the compiled JSON (its `define` option), so each
 * revision of the desired state is part of the code: a new immutable Lambda version, no
 * runtime fetch, nothing to drift between the file and what the function believes.
 *
 * Outside a bundle (tests, the CLI) nothing defines it; callers pass their own state and
 * must never reach {@link bundledDesiredState}, which says so clearly if they do.
 */

import type { CompiledDesiredState } from '../domain/model';
import { DesiredStateNotBundledError } from './errors';

/** The identifier esbuild replaces; infra's bundling options use this exact name. */
export const DESIRED_STATE_GLOBAL = '__PHOENIX_DESIRED_STATE__';

// Replaced at bundle time by esbuild `define`; undeclared (a ReferenceError) anywhere else.
declare const __PHOENIX_DESIRED_STATE__: CompiledDesiredState | undefined;

/** Read in exactly one place, so the bundle holds one copy of the (possibly large) literal. */
function readBundled(): unknown {
  try {
    return __PHOENIX_DESIRED_STATE__;
  } catch {
    return undefined;
  }
}

/**
 * The desired state compiled into this bundle at synth, with its provenance
 * (commit, path, sha256).
 *
 * @throws DesiredStateNotBundledError when the code was not bundled by Phoenix's infra
 *   (run from sources, or bundled without the `define`): pass a state explicitly instead.
 */
export function bundledDesiredState(): CompiledDesiredState {
  const bundled = readBundled();
  if (!isCompiledDesiredState(bundled)) {
    throw new DesiredStateNotBundledError(
      `no desired state is bundled: ${DESIRED_STATE_GLOBAL} is defined only in bundles built by ` +
        'the DriftRemediator construct (cdk synth); outside a bundle, pass the compiled desired state explicitly',
    );
  }
  return bundled;
}

function isCompiledDesiredState(value: unknown): value is CompiledDesiredState {
  return (
    typeof value === 'object' &&
    value !== null &&
    'formatVersion' in value &&
    value.formatVersion === 1 &&
    'fleets' in value &&
    Array.isArray(value.fleets)
  );
}
