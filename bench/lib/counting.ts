/**
 * Counting AWS API calls by operation, the way the SDK sees them: a middleware on the
 * client's stack (so retries inside the SDK count once per attempt made by our code, and
 * nothing we do not send is counted), and counting stand-ins for the services the
 * emulator cannot answer truthfully (AWS Config's PutEvaluations).
 */

/** `Service.Operation` → calls. */
export type CallCounts = Record<string, number>;

/** What a counted DescribeInstances request asked for: which selector, how large a page. */
export interface PageRequest {
  /** The first filter (the fleet selector), e.g. `tag:App=batch`. */
  selector: string;
  maxResults: number | undefined;
}

interface StackClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { input: unknown }) => Promise<unknown>,
        context: { clientName?: string; commandName?: string },
      ) => (args: { input: unknown }) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

function serviceOf(clientName: string | undefined): string {
  return (clientName ?? 'Unknown').replace(/Client$/, '');
}

/**
 * Adds a counting middleware to an SDK v3 client; every call it sends is counted in
 * `counts` as `Service.Operation`, and DescribeInstances requests are described in `pages`.
 */
export function countCalls<T extends object>(client: T, counts: CallCounts, pages?: PageRequest[]): T {
  (client as unknown as StackClient).middlewareStack.add(
    (next, context) => async (args) => {
      const operation = `${serviceOf(context.clientName)}.${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
      counts[operation] = (counts[operation] ?? 0) + 1;
      if (pages !== undefined && operation === 'EC2.DescribeInstances') {
        const input = args.input as {
          Filters?: Array<{ Name?: string; Values?: string[] }>;
          MaxResults?: number;
        };
        const [first] = input.Filters ?? [];
        pages.push({
          selector: first === undefined ? '(none)' : `${first.Name ?? ''}=${(first.Values ?? []).join(',')}`,
          maxResults: input.MaxResults,
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'phoenixBenchCallCounter' },
  );
  return client;
}

/**
 * A stand-in for an SDK client whose calls are counted and answered by `answer`
 * (by command name, e.g. `PutEvaluationsCommand`); an unexpected command fails loudly.
 */
export function countingStub<T>(
  service: string,
  counts: CallCounts,
  answer: Readonly<Record<string, (input: unknown) => unknown>>,
): T {
  const stub = {
    async send(command: { input: unknown; constructor: { name: string } }): Promise<unknown> {
      const name = command.constructor.name;
      const operation = `${service}.${name.replace(/Command$/, '')}`;
      counts[operation] = (counts[operation] ?? 0) + 1;
      const respond = answer[name];
      if (respond === undefined)
        throw new Error(`${service} stub: ${name} was not expected in this benchmark`);
      return respond(command.input);
    },
  };
  return stub as unknown as T;
}

/** The sum of all counts. */
export function totalCalls(counts: CallCounts): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}
