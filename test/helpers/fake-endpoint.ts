/**
 * An HTTP endpoint on the loopback that counts the requests it gets and answers whatever a
 * test tells it to: an HTML page, AWS's own error documents (access denied, throttling).
 * What the emulated account cannot do: refuse, or not be AWS at all. The SDK's real
 * deserializers read these answers, as they would read AWS's.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One answer: status, content type, body. */
export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** What a request looked like, for the answer to depend on (DynamoDB names its action in a header). */
export interface SeenRequest {
  method: string;
  url: string;
  target: string | undefined;
  body: string;
}

export interface FakeEndpoint {
  readonly url: string;
  /** Requests received since the start (or the last {@link FakeEndpoint.reset}). */
  requests(): number;
  /** Sets how the next requests are answered, and forgets the count. */
  reset(answer?: (request: SeenRequest) => Answer): void;
  close(): Promise<void>;
}

/** A page a proxy or a web server on the wrong port might answer. */
export const HTML_PAGE: Answer = {
  status: 200,
  contentType: 'text/html; charset=utf-8',
  body: '<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>',
};

/** EC2 and Auto Scaling (query protocols) answer errors as XML. */
export function queryError(status: number, code: string, message: string): Answer {
  return {
    status,
    contentType: 'text/xml;charset=UTF-8',
    body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>0f9b1c44-0000-4000-8000-000000000000</RequestID></Response>`,
  };
}

/** DynamoDB (JSON protocol) answers errors as JSON with a `__type`. */
export function jsonError(status: number, code: string, message: string): Answer {
  return {
    status,
    contentType: 'application/x-amz-json-1.0',
    body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${code}`, message }),
  };
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the endpoint on a free loopback port; answers {@link HTML_PAGE} until told otherwise. */
export async function startFakeEndpoint(): Promise<FakeEndpoint> {
  let count = 0;
  let answer: (request: SeenRequest) => Answer = () => HTML_PAGE;
  const server: Server = createServer((request, response) => {
    count += 1;
    void bodyOf(request).then((body) => {
      const target = request.headers['x-amz-target'];
      const chosen = answer({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        target: typeof target === 'string' ? target : undefined,
        body,
      });
      response.writeHead(chosen.status, { 'content-type': chosen.contentType });
      response.end(chosen.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    reset: (next = () => HTML_PAGE) => {
      count = 0;
      answer = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A loopback port nothing listens on (taken, then given back). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
