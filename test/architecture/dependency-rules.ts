/**
 * The import rules of the repository's layout (README "Repository layout", ADR 29), checked by
 * dependency-cruiser over the real sources: what may import what, and no cycle in shipped code.
 *
 * Every rule is a `forbidden` rule whose paths are relative to the tree cruised, so the same
 * rules run over the checkout and over the small fixture tree that proves each can fail.
 */
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';

/** Code that ships (the Lambda handlers, the construct, the `phoenix` command and its libraries). */
const SHIPPED = '^(functions|infra)/';

/** The only shipped-tree files that start an emulated account: the demo and its command. */
const DEMO = '^functions/demo/|^functions/cli/demo\\.ts$';

export const DEPENDENCY_RULES: IForbiddenRuleType[] = [
  {
    name: 'no-cycle',
    comment:
      'A cycle in functions/ or infra/ makes each module of it load, bundle and change with all the others.',
    severity: 'error',
    from: { path: SHIPPED },
    to: { circular: true },
  },
  {
    name: 'shipped-imports-no-test-or-bench',
    comment: 'Shipped code never reaches into the tests or the benchmarks.',
    severity: 'error',
    from: { path: SHIPPED },
    to: { path: '^(test|bench)/' },
  },
  {
    name: 'only-the-demo-imports-the-emulator',
    comment: 'The emulator module (emulator/) is tooling: in functions/ only the demo starts an account.',
    severity: 'error',
    from: { path: SHIPPED, pathNot: DEMO },
    to: { path: '^emulator/' },
  },
  {
    name: 'emulator-imports-no-test-or-bench',
    comment: 'The demo and the benchmarks use the emulator module too, so it must not need vitest or bench.',
    severity: 'error',
    from: { path: '^emulator/' },
    to: { path: '^(test|bench)/' },
  },
  {
    name: 'evaluator-reaches-no-remediation',
    comment: "The evaluator's Lambda must not bundle the remediation's code (the bundles stay apart).",
    severity: 'error',
    from: { path: '^functions/evaluate-drift/' },
    to: { path: '^functions/remediation/', reachable: true },
  },
];

/**
 * Cruises `dirs` under `baseDir` (type-only imports included: a cycle of types is still a
 * cycle to read and to change) and returns one line per violation, naming the rule and the
 * offending path: `rule: from → to`, with the cycle or the chain where there is one.
 */
export async function dependencyViolations(baseDir: string, dirs: readonly string[]): Promise<string[]> {
  const result = await cruise([...dirs], {
    baseDir,
    validate: true,
    ruleSet: { forbidden: DEPENDENCY_RULES },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  });
  const output = result.output as ICruiseResult;
  return output.summary.violations
    .map((v) => {
      const chain = v.cycle ?? v.via;
      const through = chain === undefined ? '' : ` (${[v.from, ...chain.map((m) => m.name)].join(' → ')})`;
      return `${v.rule.name}: ${v.from} → ${v.to}${through}`;
    })
    .sort();
}
