/**
 * Lambda entry point of the chat relay (see core.ts). Thin: the routes are parsed once at
 * cold start and the SNS client built once.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { clientConfig } from '../aws/clients';
import { PhoenixService } from '../runtime/metric-names';
import { makeHandler, parseRoutes } from './core';

export const logger = new Logger({ serviceName: PhoenixService.chatRelay });

export const handler = middy(
  makeHandler({ sns: new SNSClient(clientConfig()), routes: parseRoutes(process.env), logger }),
).use(injectLambdaContext(logger));
