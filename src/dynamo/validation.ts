// Request-shape validation. Each action declares a JSON schema built with the small constructors
// below; ajv compiles it once at start-up. Errors come out as DynamoDB words them: wrong JSON
// types are SerializationExceptions, broken constraints a ValidationException listing each one as
// "Value X at 'memberPath' failed to satisfy constraint: ...".
import { Ajv, type ErrorObject, type SchemaObject } from 'ajv';
import { serialization, validation } from './errors.js';

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });

export type Schema = SchemaObject;

export const str = (o: { min?: number; max?: number; pattern?: string } = {}): Schema => ({
  type: 'string',
  ...(o.min !== undefined && { minLength: o.min }),
  ...(o.max !== undefined && { maxLength: o.max }),
  ...(o.pattern !== undefined && { pattern: o.pattern }),
});
export const int = (o: { min?: number; max?: number } = {}): Schema => ({
  type: 'integer',
  ...(o.min !== undefined && { minimum: o.min }),
  ...(o.max !== undefined && { maximum: o.max }),
});
export const bool = (): Schema => ({ type: 'boolean' });
export const oneOf = (values: readonly string[]): Schema => ({ type: 'string', enum: values });
export const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
});
export const list = (items: Schema, o: { min?: number; max?: number } = {}): Schema => ({
  type: 'array',
  items,
  ...(o.min !== undefined && { minItems: o.min }),
  ...(o.max !== undefined && { maxItems: o.max }),
});
export const map = (values: Schema, o: { min?: number; max?: number } = {}): Schema => ({
  type: 'object',
  additionalProperties: values,
  ...(o.min !== undefined && { minProperties: o.min }),
  ...(o.max !== undefined && { maxProperties: o.max }),
});
/** An AttributeValue or item: its inside is checked by the attribute-value module. */
export const anyObject = (): Schema => ({ type: 'object' });

export const TABLE_NAME = str({ min: 3, max: 255, pattern: '^[a-zA-Z0-9_.-]+$' });
export const RETURN_CONSUMED_CAPACITY = oneOf(['INDEXES', 'TOTAL', 'NONE']);
export const RETURN_ITEM_COLLECTION_METRICS = oneOf(['SIZE', 'NONE']);
export const EXPRESSION_NAMES = map(str());
export const EXPRESSION_VALUES = map(anyObject());

/** 'KeySchema/0/AttributeName' → 'keySchema.1.member.attributeName' (DynamoDB's member path). */
function memberPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  const out: string[] = [];
  for (const p of parts) {
    if (/^\d+$/.test(p)) out.push(String(Number(p) + 1), 'member');
    else out.push(out.length === 0 || out[out.length - 1] === 'member' || !/^[A-Z]/.test(p) ? lowerFirst(p) : p);
  }
  // A missing member is a structure's member, never a map key: DynamoDB names it in lower camel case.
  if (extra) out.push(lowerFirst(extra));
  return out.join('.');
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function render(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return `'${javaToString(value)}'`;
  return `'${String(value)}'`;
}

/** Roughly Java's toString of maps and lists, which is what DynamoDB echoes for such values. */
function javaToString(value: unknown): string {
  if (Array.isArray(value)) return '[' + value.map(javaToString).join(', ') + ']';
  if (value && typeof value === 'object') {
    return '{' + Object.entries(value).map(([k, v]) => `${k}=${javaToString(v)}`).join(', ') + '}';
  }
  return String(value);
}

function constraint(e: ErrorObject): string | undefined {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'minLength':
    case 'minItems':
    case 'minProperties':
      return `Member must have length greater than or equal to ${p.limit}`;
    case 'maxLength':
    case 'maxItems':
    case 'maxProperties':
      return `Member must have length less than or equal to ${p.limit}`;
    case 'pattern':
      return `Member must satisfy regular expression pattern: ${String(p.pattern).replace(/^\^|\$$/g, '')}`;
    case 'enum':
      return `Member must satisfy enum value set: [${(p.allowedValues as string[]).join(', ')}]`;
    case 'minimum':
      return `Member must have value greater than or equal to ${p.limit}`;
    case 'maximum':
      return `Member must have value less than or equal to ${p.limit}`;
    default:
      return undefined;
  }
}

const JAVA_TYPES: Record<string, string> = {
  string: 'String',
  integer: 'Integer',
  number: 'Number',
  boolean: 'Boolean',
  object: 'Structure',
  array: 'List',
};

function jsonKind(value: unknown): string {
  if (value === null) return 'VALUE_NULL';
  if (Array.isArray(value)) return 'START_ARRAY';
  switch (typeof value) {
    case 'string':
      return 'STRING_VALUE';
    case 'number':
      return Number.isInteger(value) ? 'NUMBER_VALUE' : 'NUMBER_VALUE';
    case 'boolean':
      return value ? 'TRUE_VALUE' : 'FALSE_VALUE';
    default:
      return 'START_OBJECT';
  }
}

function valueAt(root: unknown, instancePath: string): unknown {
  let v = root as Record<string, unknown> | undefined;
  for (const part of instancePath.split('/').filter(Boolean)) {
    v = v?.[part.replace(/~1/g, '/').replace(/~0/g, '~')] as Record<string, unknown> | undefined;
  }
  return v;
}

export type Validator = (request: Record<string, unknown>) => void;

/** Compiles a request schema once; the returned function throws DynamoDB's errors. */
export function compileValidator(schema: Schema): Validator {
  const check = ajv.compile(schema);
  return (request) => {
    if (check(request)) return;
    const errors = check.errors ?? [];
    // null is how SDKs send "absent" for optional members; a null required member is reported as such.
    const typeError = errors.find((e) => e.keyword === 'type' && valueAt(request, e.instancePath) !== null);
    if (typeError) {
      const value = valueAt(request, typeError.instancePath);
      const expected = String((typeError.params as { type: string }).type);
      throw serialization(`${jsonKind(value)} can not be converted to ${JAVA_TYPES[expected] ?? expected}`);
    }
    const messages: string[] = [];
    for (const e of errors) {
      if (e.keyword === 'required') {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        messages.push(`Value null at '${memberPath(e.instancePath, missing)}' failed to satisfy constraint: Member must not be null`);
      } else if (e.keyword === 'type') {
        messages.push(`Value null at '${memberPath(e.instancePath)}' failed to satisfy constraint: Member must not be null`);
      } else {
        const text = constraint(e);
        if (text) {
          messages.push(`Value ${render(valueAt(request, e.instancePath))} at '${memberPath(e.instancePath)}' failed to satisfy constraint: ${text}`);
        }
      }
    }
    if (messages.length === 0) throw validation('Invalid request');
    throw validation(`${messages.length} validation error${messages.length > 1 ? 's' : ''} detected: ${messages.join('; ')}`);
  };
}
