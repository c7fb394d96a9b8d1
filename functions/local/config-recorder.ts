/**
 * AWS Config's `PutEvaluations`, locally: where the evaluator's compliance goes when it runs
 * in `phoenix reconcile` or the demo.
 */
import type { ConfigServiceClient, Evaluation } from '@aws-sdk/client-config-service';
import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { InvalidInputError } from '../domain/errors';

/** One evaluation the evaluator wrote, and the result token it came with. */
export interface RecordedEvaluation {
  resultToken: string;
  resourceId: string;
  compliance: string;
  annotation: string | null;
  orderingTimestamp: string;
}

/**
 * AWS Config's `PutEvaluations`, locally: keeps the evaluations (reconcile has no rule and
 * no result token a real account would accept). Anything else is refused.
 */
export class ComplianceRecorder {
  readonly evaluations: RecordedEvaluation[] = [];

  get client(): Pick<ConfigServiceClient, 'send'> {
    const send = async (command: unknown) => {
      if (!(command instanceof PutEvaluationsCommand)) {
        throw new InvalidInputError(
          `local Config only records evaluations, not ${(command as object).constructor.name}`,
        );
      }
      for (const evaluation of command.input.Evaluations ?? []) this.#keep(command, evaluation);
      return { FailedEvaluations: [] };
    };
    return { send } as unknown as Pick<ConfigServiceClient, 'send'>;
  }

  #keep(command: PutEvaluationsCommand, evaluation: Evaluation): void {
    const at = evaluation.OrderingTimestamp;
    this.evaluations.push({
      resultToken: command.input.ResultToken ?? '',
      resourceId: evaluation.ComplianceResourceId ?? '',
      compliance: evaluation.ComplianceType ?? '',
      annotation: evaluation.Annotation ?? null,
      orderingTimestamp: at instanceof Date ? at.toISOString() : String(at ?? ''),
    });
  }
}
