/**
 * A gate every AWS call of a local run passes through, told which principal would make the
 * call in AWS.
 *
 * Deployed, Phoenix's calls are made by three IAM roles: the evaluator's, the remediation
 * steps function's, and the state machine's (its `aws-sdk` Tasks and its Lambda invocations).
 * A local run (`phoenix reconcile`, the tests) makes them all with one set of credentials;
 * the gate lets a caller see each call as AWS would attribute it. The tests use it to decide
 * every call against the synthesized policy of the role that would make it, so a call the
 * emulator accepts and IAM would deny cannot hide. Without a gate nothing is wrapped.
 */

/** Who makes a call in AWS: each is its own IAM role in the deployed stack. */
export type Principal = 'evaluator' | 'remediation-steps' | 'state-machine';

/** One AWS call about to be sent. */
export interface AwsCall {
  principal: Principal;
  /** The SDK client it goes through: `ec2`, `autoScaling`, `elbv2`, `dynamodb`, `sns`, `config`, `sfn`, or `lambda`. */
  client: string;
  /** The API operation, e.g. `RunInstances`. */
  operation: string;
  /** The command's input, as sent. */
  input: unknown;
}

/** Sees each call before it is sent; throwing refuses it (the caller gets that error, as from AWS). */
export type CallGate = (call: AwsCall) => Promise<void> | void;

interface Sender {
  send(command: never): Promise<unknown>;
}

/** The operation an SDK v3 command performs (`RunInstancesCommand` → `RunInstances`). */
export function operationOf(command: unknown): string {
  const name = (command as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'Unknown';
  return name.replace(/Command$/, '');
}

/** `client` with every `send` passed through `gate` first, as `principal`. */
export function gateClient<T extends Sender>(
  client: T,
  clientName: string,
  principal: Principal,
  gate: CallGate | undefined,
): T {
  if (gate === undefined) return client;
  const send = async (command: { input?: unknown }) => {
    await gate({ principal, client: clientName, operation: operationOf(command), input: command.input });
    return client.send(command as never);
  };
  return { send } as unknown as T;
}

/** Each client of `clients` gated as `principal` (the key names the client). */
export function gateClients<T extends { [K in keyof T]: Sender }>(
  clients: T,
  principal: Principal,
  gate: CallGate | undefined,
): T {
  if (gate === undefined) return clients;
  return Object.fromEntries(
    Object.entries(clients as Record<string, Sender>).map(([name, client]) => [
      name,
      gateClient(client, name, principal, gate),
    ]),
  ) as T;
}
