/**
 * "May this drift be replaced now?", decided in one place: the facts in, a typed decision
 * out. The evaluator asks before it starts an execution, the remediation's recheck before
 * an execution changes anything, `phoenix plan` to say what enforcement would do; each reads
 * its facts and renders the decision, none holds a rule of its own
 * (docs/adr/0027-one-gate-for-every-replacement.md).
 */
import type { Blocker } from './blockers';
import type { GateFacts, LazyFactName } from './facts';
import { whyOf } from './messages';
import { type BlockerScope, GATE_RULES, type GateVerdict, ruleOf } from './rules';

/** What the gate decided. */
export type GateDecision =
  | {
      /** Nothing stops a replacement now. */
      verdict: 'replace';
      blockers: readonly [];
      why: string;
      retryable: true;
      notify: false;
    }
  | {
      verdict: Exclude<GateVerdict, 'replace'>;
      /** The blocker that decided: the first of `blockers`. */
      blocker: Blocker;
      /**
       * Every blocker that applies, in precedence order ({@link decide}); only the deciding
       * one when facts were read lazily ({@link decideLazily}).
       */
      blockers: readonly Blocker[];
      /** The deciding blocker in a sentence (`messages.ts`). */
      why: string;
      /** Whether the same drift may be replaced once the blocker clears (see `GateRule.retryable`). */
      retryable: boolean;
      /** Whether the refusal is worth telling as such at this moment (see `NotifyWhen`). */
      notify: boolean;
      /** Where the deciding blocker's cause lies. */
      scope: BlockerScope;
      /** For `wait`: when to ask again (ISO-8601, UTC). */
      until?: string;
    };

/** A refused decision. */
export type GateRefusal = Extract<GateDecision, { verdict: 'wait' | 'hold' | 'skip' }>;

const REPLACE: GateDecision = {
  verdict: 'replace',
  blockers: [],
  why: 'nothing stops a replacement now',
  retryable: true,
  notify: false,
};

function refusal(facts: GateFacts, blockers: readonly [Blocker, ...Blocker[]]): GateRefusal {
  const [blocker] = blockers;
  const rule = ruleOf(blocker.code);
  const notify =
    facts.moment !== 'plan' &&
    (rule.notify === 'always' || (rule.notify === 'on-end' && facts.moment === 'recheck'));
  const decision: GateRefusal = {
    verdict: rule.verdict,
    blocker,
    blockers,
    why: whyOf(blocker),
    retryable: rule.retryable,
    notify,
    scope: rule.scope,
  };
  if (blocker.code === 'window-closed') decision.until = blocker.opensAt;
  return decision;
}

/** Decides from the facts given, and lists every blocker that applies, in precedence order. */
export function decide(facts: GateFacts): GateDecision {
  const found: Blocker[] = [];
  for (const rule of GATE_RULES) {
    const blocker = rule.find(facts);
    if (blocker !== undefined) found.push(blocker);
  }
  const [first, ...rest] = found;
  return first === undefined ? REPLACE : refusal(facts, [first, ...rest]);
}

/** How to read a fact the gate may need; a fact without a reader stays absent. */
export type FactReaders = { [K in LazyFactName]?: () => Promise<GateFacts[K]> };

async function load<K extends LazyFactName>(
  known: GateFacts,
  readers: FactReaders,
  name: K,
  loaded: Set<LazyFactName>,
): Promise<void> {
  if (loaded.has(name)) return;
  loaded.add(name);
  const reader = readers[name];
  if (reader !== undefined && known[name] === undefined) known[name] = await reader();
}

/**
 * Decides as {@link decide} does, but reads the costly facts only when the gate gets to a
 * rule that needs them, and stops at the first blocker: a fact a higher blocker makes moot
 * is never read. The decision is the one {@link decide} makes from all the facts (its
 * `blockers` hold the deciding one only). A fact already in `facts` is not read again.
 */
export async function decideLazily(facts: GateFacts, readers: FactReaders): Promise<GateDecision> {
  const known: GateFacts = { ...facts };
  const loaded = new Set<LazyFactName>();
  for (const rule of GATE_RULES) {
    for (const name of rule.reads) await load(known, readers, name, loaded);
    const blocker = rule.find(known);
    if (blocker !== undefined) return refusal(known, [blocker]);
  }
  return REPLACE;
}
