/**
 * From a path in the parsed data (`fleets.web.budget.maxConcurrent`) back to where it is
 * written in the YAML source, so every message can name a line and column.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';

export type PathSegment = string | number;

/** A node after following an alias to its anchor. */
export function unalias(node: unknown, doc: Document): Node | null {
  if (isAlias(node)) return unalias(node.resolve(doc) ?? null, doc);
  return isScalar(node) || isMap(node) || isSeq(node) ? node : null;
}

/** A map key as the parsed data spells it (scalars only; YAML's complex keys have no name). */
export function keyText(pair: Pair): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

/** The pairs of `map` whose key is `key`, in source order (more than one is a duplicate). */
export function pairsNamed(map: YAMLMap, key: string): Pair[] {
  return map.items.filter((pair) => keyText(pair) === key);
}

/** The pair the parsed data sees for `key`: the last one, as YAML's last-wins does. */
export function lastPair(map: YAMLMap, key: string): Pair | undefined {
  return pairsNamed(map, key).at(-1);
}

function startOf(node: unknown): number | undefined {
  if (isScalar(node) || isMap(node) || isSeq(node) || isAlias(node)) return node.range?.[0];
  return undefined;
}

/**
 * Where to point for a value: at the value itself when it is written on the key's line (a
 * scalar or a `{ flow }` collection), else at its key (a block collection starts on the
 * next line; an empty value has no text of its own).
 */
export function valueOffset(pair: Pair): number | undefined {
  const value = pair.value;
  const range = isScalar(value) || isMap(value) || isSeq(value) || isAlias(value) ? value.range : undefined;
  const written = range !== undefined && range !== null && range[1] > range[0];
  const inline = isScalar(value) || isAlias(value) || ((isMap(value) || isSeq(value)) && value.flow === true);
  if (written && inline) return range[0];
  return startOf(pair.key) ?? range?.[0];
}

/** Where a path leads in the document. */
export interface Resolution {
  /** How many leading segments exist in the source. */
  found: number;
  /** The node at the last segment found (the base node when none was). */
  node: Node | null;
  /** The map pair holding that node, when it is a map entry. */
  pair: Pair | undefined;
  /** Start of that node when it is a list item or the base. */
  itemOffset: number | undefined;
}

/** Follows `path` from `base` as far as the source goes (map keys last-wins, list indexes). */
export function resolvePath(doc: Document, base: unknown, path: readonly PathSegment[]): Resolution {
  let node = unalias(base, doc);
  let resolution: Resolution = { found: 0, node, pair: undefined, itemOffset: startOf(base) };
  for (const segment of path) {
    if (isMap(node)) {
      const pair = lastPair(node, String(segment));
      if (pair === undefined) break;
      node = unalias(pair.value, doc);
      resolution = { found: resolution.found + 1, node, pair, itemOffset: undefined };
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      node = unalias(item, doc);
      resolution = { found: resolution.found + 1, node, pair: undefined, itemOffset: startOf(item) };
    } else {
      break;
    }
  }
  return resolution;
}

/** The offset to report for the value at `path` (or its nearest written ancestor). */
export function offsetOfValue(doc: Document, base: unknown, path: readonly PathSegment[]): number {
  const found = resolvePath(doc, base, path);
  return (found.pair === undefined ? found.itemOffset : valueOffset(found.pair)) ?? startOf(base) ?? 0;
}

/** The offset of the key at `path` (for unknown, duplicate or invalid keys). */
export function offsetOfKey(doc: Document, base: unknown, path: readonly PathSegment[]): number {
  const found = resolvePath(doc, base, path);
  return startOf(found.pair?.key) ?? found.itemOffset ?? startOf(base) ?? 0;
}

/** `fleets.web.tags["phoenix:skip"]`, `defaults.window.allow[1]`. */
export function pathText(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}
