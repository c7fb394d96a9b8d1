/**
 * Phoenix's count of EC2's RunInstances resource tokens (`account#ec2` /
 * `run-instances-tokens`), kept as the moment the bucket is full again (`fullAtMs`, epoch
 * milliseconds): each launch moves it on by the time EC2 takes to refill one token, from now
 * or from where it was, whichever is later (docs/adr/0034-waves.md). What is left at any moment
 * follows from it alone, so a reading never has to be written back.
 */
import { RUN_INSTANCES_BURST, RUN_INSTANCES_REFILL_PER_SECOND } from '../../../domain/estimate';
import { type Item, itemKey, num } from './table';

/** The one count of the account and Region the table serves. */
export const LAUNCH_TOKENS_KEY: Item = itemKey('account#ec2', 'run-instances-tokens');

/** Milliseconds EC2 takes to refill one token. */
export const MS_PER_TOKEN = 1000 / RUN_INSTANCES_REFILL_PER_SECOND;

/** The count as an item. */
export function launchTokensItem(fullAtMs: number): Item {
  return { ...LAUNCH_TOKENS_KEY, fullAtMs: { N: String(Math.round(fullAtMs)) } };
}

/** When the bucket is full again, by an item; undefined when no launch was counted. */
export function launchTokensFromItem(item: Item | undefined): number | undefined {
  return num(item, 'fullAtMs');
}

/** Tokens left at `nowMs` when the bucket is full again at `fullAtMs` (negative: overspent). */
export function tokensLeft(fullAtMs: number | undefined, nowMs: number): number {
  if (fullAtMs === undefined) return RUN_INSTANCES_BURST;
  return RUN_INSTANCES_BURST - Math.max(0, fullAtMs - nowMs) / MS_PER_TOKEN;
}
