// The errors DynamoDB answers for authentication and authorization failures, with its wording
// (namespaces and messages as observed from the real service; SDKs read the part after '#').
import { DynamoError } from '../dynamo/errors.js';

const CORAL = 'com.amazon.coral.service#';

export const missingAuthenticationToken = () =>
  new DynamoError(CORAL + 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');

export const incompleteSignature = (message: string) => new DynamoError(CORAL + 'IncompleteSignatureException', message);

export const invalidSignature = (message: string) => new DynamoError(CORAL + 'InvalidSignatureException', message);

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export const unrecognizedClient = () =>
  new DynamoError(CORAL + 'UnrecognizedClientException', 'The security token included in the request is invalid.');

export const accessDenied = (principal: string, action: string, resource: string) =>
  new DynamoError(
    CORAL + 'AccessDeniedException',
    `User: ${principal} is not authorized to perform: dynamodb:${action} on resource: ${resource} ` +
      `because no identity-based policy allows the dynamodb:${action} action`,
  );
