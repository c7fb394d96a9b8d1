/** The pause switch: one item, `control` / `pause`. */
import { CONDITIONS, type Item, itemKey, str } from './table';

/** The switch as last set. */
export interface PauseState {
  paused: boolean;
  /** Who set the switch last (operator name, CLI user…), when known. */
  by?: string;
  /** ISO-8601 time the switch was set. */
  at?: string;
}

export const CONTROL_PK = 'control';

/** The switch's key. */
export const PAUSE_KEY: Item = itemKey(CONTROL_PK, 'pause');

/** Holds while the switch is not on (`:running` is `{ BOOL: false }`): absent means never paused. */
export const NOT_PAUSED = {
  condition: `${CONDITIONS.absent} OR paused = :running`,
  values: { ':running': { BOOL: false } },
} as const;

/** The switch as an item; an empty `by` is written as `unknown`. */
export function pauseItem(state: { paused: boolean; by: string; at: string }): Item {
  return {
    ...PAUSE_KEY,
    paused: { BOOL: state.paused },
    by: { S: state.by === '' ? 'unknown' : state.by },
    at: { S: state.at },
  };
}

/** The switch an item describes; no item means never set, so not paused. */
export function pauseFromItem(item: Item | undefined): PauseState {
  if (item === undefined) return { paused: false };
  const state: PauseState = { paused: item.paused?.BOOL === true };
  const by = str(item, 'by');
  const at = str(item, 'at');
  if (by !== undefined) state.by = by;
  if (at !== undefined) state.at = at;
  return state;
}
