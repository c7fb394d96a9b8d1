/**
 * How deeply a YAML text nests its mappings and lists, measured before anything recurses
 * into it.
 *
 * yaml's composer, `toJS` and every walk over the tree recurse once per level: a file of
 * 50,000 `[` overflows the stack, and yaml reports "Maximum call stack size exceeded" at
 * some unhelpful position. The concrete syntax tree (yaml's `Parser`) is built without
 * recursion, so it is walked here with an explicit stack, and a file nested deeper than any
 * desired state needs is refused at the first collection past the limit.
 */
import { type CST, Parser } from 'yaml';

/** Far beyond a desired state's deepest path (`fleets.X.window.allow[i]` is 5 levels). */
export const MAX_NESTING = 32;

function isCollection(
  token: CST.Token | undefined,
): token is CST.BlockMap | CST.BlockSequence | CST.FlowCollection {
  return token?.type === 'block-map' || token?.type === 'block-seq' || token?.type === 'flow-collection';
}

/**
 * The offset of the first mapping or list (in the text's order) nested more than `limit`
 * levels deep, or undefined when none is. `onNewLine` is told every line start, as yaml's
 * `LineCounter.addNewLine` wants it.
 */
export function firstTooDeep(
  text: string,
  limit: number = MAX_NESTING,
  onNewLine?: (offset: number) => void,
): number | undefined {
  const stack: Array<{ token: CST.Token; depth: number }> = [];
  for (const token of new Parser(onNewLine).parse(text)) {
    if (token.type === 'document' && token.value !== undefined) stack.push({ token: token.value, depth: 0 });
  }
  let first: number | undefined;
  while (stack.length > 0) {
    const next = stack.pop();
    if (next === undefined || !isCollection(next.token)) continue;
    const depth = next.depth + 1;
    if (depth > limit) {
      // Nothing beneath it is walked: the walk never goes deeper than the limit.
      first = first === undefined ? next.token.offset : Math.min(first, next.token.offset);
      continue;
    }
    for (const item of next.token.items) {
      const children: Array<CST.Token | null | undefined> = [
        'key' in item ? item.key : undefined,
        item.value,
      ];
      for (const child of children) {
        if (child !== undefined && child !== null) stack.push({ token: child, depth });
      }
    }
  }
  return first;
}
