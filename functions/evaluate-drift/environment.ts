/**
 * The evaluator's runtime configuration: environment variables set by infra, parsed once at
 * cold start with zod. A missing or malformed variable fails the cold start with a message
 * naming every problem, instead of failing some later call with a confusing AWS error.
 */

import * as z from 'zod/mini';
import { validate } from '../runtime/validation';
import { EnvironmentError } from './errors';

const EnvSchema = z.object({
  PHOENIX_TABLE_NAME: z.string().check(z.minLength(1, 'is empty')),
  PHOENIX_TOPIC_ARN: z
    .string()
    .check(z.regex(/^arn:aws[a-z-]*:sns:[^:]+:\d{12}:.+$/, 'is not an SNS topic ARN')),
  PHOENIX_STATE_MACHINE_ARN: z
    .string()
    .check(
      z.regex(
        /^arn:aws[a-z-]*:states:[^:]+:\d{12}:stateMachine:.+$/,
        'is not a Step Functions state machine ARN',
      ),
    ),
  /** Changes with every deploy of the evaluator's code (its asset hash): a new compliance ledger. */
  PHOENIX_DEPLOYMENT_ID: z.optional(z.string().check(z.minLength(1, 'is empty'))),
  PHOENIX_CONSOLE_REGION: z.optional(
    z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'is not an AWS region')),
  ),
});

export type EvaluatorEnvironment = z.infer<typeof EnvSchema>;

/** Parses the environment, naming every missing or malformed variable at once. */
export function parseEnvironment(env: Readonly<Record<string, string | undefined>>): EvaluatorEnvironment {
  const parsed = validate(EnvSchema, env);
  if (parsed.ok) return parsed.value;
  const problems = parsed.issues.map((issue) => {
    const name = issue.path.join('.');
    return env[name] === undefined ? `${name} is not set` : `${name} ${issue.message}`;
  });
  throw new EnvironmentError(`evaluate-drift cannot start: ${problems.join('; ')}`);
}
