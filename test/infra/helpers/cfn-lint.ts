/** cfn-lint over a synthesized template, as the infra tests and the organization example's test run it. */
import { spawnSync } from 'node:child_process';

export interface CfnLintMatch {
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Rule: { Id: string };
}

/** cfn-lint's findings as JSON; `cfn-lint` on PATH, else the Python module. */
export function cfnLint(file: string): CfnLintMatch[] {
  const attempts: Array<[string, string[]]> = [
    ['cfn-lint', ['--format', 'json', file]],
    ['python3', ['-m', 'cfnlint', '--format', 'json', file]],
  ];
  for (const [command, args] of attempts) {
    const run = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000 });
    if (run.error !== undefined || run.stdout.trim() === '') continue;
    return JSON.parse(run.stdout) as CfnLintMatch[];
  }
  throw new Error('cfn-lint is not installed: pip install cfn-lint');
}
