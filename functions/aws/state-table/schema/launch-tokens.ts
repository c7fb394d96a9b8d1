/**
 * Phoenix's estimate of EC2's RunInstances resource tokens (`account#ec2` /
 * `run-instances-tokens`): `level` tokens at `atMs` (epoch milliseconds), refilled at EC2's
 * rate from then (docs/adr/0034-waves.md).
 */
import { type Item, itemKey, num } from './table';

/** The one estimate of the account and Region the table serves. */
export const LAUNCH_TOKENS_KEY: Item = itemKey('account#ec2', 'run-instances-tokens');

/** The estimate as stored: its level and when. */
export interface LaunchTokens {
  level: number;
  atMs: number;
}

/** The estimate as an item (the level kept to a thousandth). */
export function launchTokensItem(tokens: LaunchTokens): Item {
  return {
    ...LAUNCH_TOKENS_KEY,
    level: { N: String(Math.round(tokens.level * 1000) / 1000) },
    atMs: { N: String(tokens.atMs) },
  };
}

/** The estimate an item holds; undefined when none was counted. */
export function launchTokensFromItem(item: Item | undefined): LaunchTokens | undefined {
  const level = num(item, 'level');
  const atMs = num(item, 'atMs');
  return level === undefined || atMs === undefined ? undefined : { level, atMs };
}
