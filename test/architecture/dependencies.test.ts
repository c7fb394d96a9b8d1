/**
 * The layout's import rules (dependency-rules.ts) hold over the real sources, and each rule
 * fails on a small tree that breaks it, naming the offending path.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEPENDENCY_RULES, dependencyViolations } from './dependency-rules';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixture-tree', import.meta.url));

describe('the import rules of the layout', () => {
  it('hold over functions/, infra/, emulator/, bench/ and test/', async () => {
    const violations = await dependencyViolations(ROOT, ['functions', 'infra', 'emulator', 'bench', 'test']);
    expect(violations).toEqual([]);
  });

  it('each fail on a tree that breaks it, naming the offending path', async () => {
    const violations = await dependencyViolations(FIXTURE, [
      'functions',
      'infra',
      'emulator',
      'bench',
      'test',
    ]);
    expect(violations).toEqual([
      'emulator-imports-no-test-or-bench: emulator/tool.ts → test/helper.ts',
      'evaluator-reaches-no-remediation: functions/evaluate-drift/handler.ts → functions/remediation/step.ts (functions/evaluate-drift/handler.ts → functions/shared.ts → functions/remediation/step.ts)',
      'no-cycle: functions/cycle/a.ts → functions/cycle/b.ts (functions/cycle/a.ts → functions/cycle/b.ts → functions/cycle/a.ts)',
      'only-the-demo-imports-the-emulator: functions/aws/uses-emulator.ts → emulator/tool.ts',
      'shipped-imports-no-test-or-bench: functions/aws/uses-test.ts → test/helper.ts',
      'shipped-imports-no-test-or-bench: infra/uses-bench.ts → bench/tool.ts',
    ]);
    // A cycle is reported once, at its first module; type-only imports count (b.ts imports a
    // type of a.ts).
    // Every rule is proved by the tree: none could pass by never matching.
    const broken = new Set(violations.map((v) => v.slice(0, v.indexOf(':'))));
    expect([...broken].sort()).toEqual(DEPENDENCY_RULES.map((r) => r.name).sort());
  });
});
