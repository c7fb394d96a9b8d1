/**
 * A problem found in a desired-state file before its offset becomes a line and column: the
 * shape every pass of `validate.ts` and the checks beside it (`cross-field-checks.ts`,
 * `rollout-checks.ts`) append to.
 */
export interface Problem {
  /** Offset of the offending key or value in the text. */
  offset: number;
  /** The one-line sentence shown after `file:line:column`. */
  message: string;
}
