// Request-shape validation, declared per action with the small constructors below and compiled
// once at start-up into a plain function. It runs DynamoDB's phases in DynamoDB's order, before an
// action looks at any table:
//   1. types: each member must have its JSON type; a wrong one is a SerializationException worded
//      as DynamoDB's Java deserializer words it (it depends on where the member sits: a field of a
//      structure, a list member, a map value). Unknown members and nulls are dropped, "true"/"1"/
//      "yes" become booleans and numbers of integer members are truncated, as DynamoDB does.
//   2. required parameters and table-name length (one message, thrown at once);
//   3. constraints: every broken one, up to ten, as "Value X at 'member.path' failed to satisfy
//      constraint: ..." in one ValidationException.
// Semantic checks (expressions, attribute values, key schemas) follow in each action.
import { serialization, validation } from './errors.js';
import { MSG_NESTING_ITEM } from './attribute-values.js';

/** Constraints of one member (phase 2 and 3). */
export interface Rules {
  /** "Value null at 'x' failed to satisfy constraint: Member must not be null". */
  notNull?: boolean;
  /** "The parameter 'X' is required but was not present in the request" (thrown alone). */
  required?: boolean;
  /** "TableName must be at least 3 characters long and at most 255 characters long" (thrown alone). */
  tableName?: boolean;
  min?: number;
  max?: number;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  enum?: readonly string[];
  /** Constraints on the keys of a map ("Map keys must satisfy constraint: [...]"). */
  keys?: { minLength?: number; maxLength?: number; pattern?: string };
  /** Length constraints on the string values of a map ("Map value must satisfy constraint: [...]"). */
  values?: { minLength?: number; maxLength?: number };
}

export type Schema =
  | ({ kind: 'String' | 'Integer' | 'Long' | 'Boolean' | 'Blob' | 'Any' | 'Attr' } & { rules?: Rules })
  | { kind: 'List'; member: Schema; rules?: Rules }
  | { kind: 'Map'; value: Schema; rules?: Rules }
  | { kind: 'Struct'; fields: Record<string, Schema>; java: string; rules?: Rules };

type LengthOptions = { min?: number; max?: number };
const withRules = <T extends Schema>(s: T, rules: Rules): T => ({ ...s, rules: { ...s.rules, ...rules } });

export const str = (o: { min?: number; max?: number; pattern?: string } = {}): Schema => ({
  kind: 'String',
  rules: { pattern: o.pattern?.replace(/^\^|\$$/g, ''), minLength: o.min, maxLength: o.max },
});
export const int = (o: { min?: number; max?: number } = {}): Schema => ({ kind: 'Integer', rules: { min: o.min, max: o.max } });
export const long = (o: { min?: number; max?: number } = {}): Schema => ({ kind: 'Long', rules: { min: o.min, max: o.max } });
export const bool = (): Schema => ({ kind: 'Boolean' });
export const blob = (): Schema => ({ kind: 'Blob' });
export const oneOf = (values: readonly string[]): Schema => ({ kind: 'String', rules: { enum: values } });
/** A structure; `required` members must not be null; `java` is its class name in DynamoDB's messages. */
export const obj = (fields: Record<string, Schema>, required: string[] = [], java = 'Structure'): Schema => {
  const out: Record<string, Schema> = {};
  for (const [k, s] of Object.entries(fields)) out[k] = required.includes(k) ? withRules(s, { notNull: true }) : s;
  return { kind: 'Struct', fields: out, java };
};
export const list = (member: Schema, o: LengthOptions = {}): Schema => ({ kind: 'List', member, rules: { minLength: o.min, maxLength: o.max } });
export const map = (value: Schema, o: LengthOptions & { keys?: Rules['keys']; values?: Rules['values'] } = {}): Schema => ({
  kind: 'Map',
  value,
  rules: { minLength: o.min, maxLength: o.max, keys: o.keys, values: o.values },
});
/** An AttributeValue: its JSON types are checked here, its content by the attribute-value module. */
export const attrValue = (): Schema => ({ kind: 'Attr' });
/** An item, key or map of expression values: attribute values by name. */
export const attrMap = (o: LengthOptions = {}): Schema => map(attrValue(), o);
/** Any JSON object, unchecked inside (kept for descriptions that predate attrValue). */
export const anyObject = (): Schema => ({ kind: 'Any' });
/** Marks members as required parameters ("The parameter 'X' is required ..."). */
export const required = (s: Schema): Schema => withRules(s, { required: true });
/** Adds constraints to a member. */
export const constrain = (s: Schema, rules: Rules): Schema => withRules(s, rules);

export const TABLE_NAME = str({ min: 3, max: 255, pattern: '[a-zA-Z0-9_.-]+' });
/** TableName of the table actions, whose absence and length DynamoDB reports on their own. */
export const TABLE_NAME_PARAMETER = constrain(str({ pattern: '[a-zA-Z0-9_.-]+' }), { required: true, tableName: true });
export const RETURN_CONSUMED_CAPACITY = oneOf(['INDEXES', 'TOTAL', 'NONE']);
export const RETURN_ITEM_COLLECTION_METRICS = oneOf(['SIZE', 'NONE']);
export const EXPRESSION_NAMES = map(str());
export const EXPRESSION_VALUES = attrMap();

// ---- phase 1: JSON types ------------------------------------------------------------------------

const NS = 'com.amazonaws.dynamodb.v20120810.';
const CAST = "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to class java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and java.lang.Class are in module java.base of loader 'bootstrap')";
const NOT_HERE = 'Start of structure or map found where not expected';

/** Where a value sits decides how DynamoDB's deserializer words a wrong type. */
type Place = 'field' | 'member' | 'mapValue';

const typeError = (message: string) => serialization(message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const numberKind = (v: number) => (Number.isInteger(v) ? 'NUMBER_VALUE' : 'DECIMAL_VALUE');

/** The Java type DynamoDB names for a schema (in "Unrecognized collection type ..." messages). */
function javaName(s: Schema): string {
  switch (s.kind) {
    case 'String':
      return 'java.lang.String';
    case 'Attr':
    case 'Any':
      return NS + 'AttributeValue';
    case 'Struct':
      return NS + s.java;
    case 'List':
      return `java.util.List<${javaName(s.member)}>`;
    case 'Map':
      return `java.util.Map<java.lang.String, ${javaName(s.value)}>`;
    default:
      return 'java.lang.' + s.kind;
  }
}

type Fix = (v: unknown) => unknown;

/** Compiles the type check of a schema at a place: returns the (possibly converted) value or throws. */
function compileType(s: Schema, place: Place): Fix {
  switch (s.kind) {
    case 'Any':
      return (v) => {
        if (!isObject(v)) throw typeError(Array.isArray(v) ? `Unrecognized collection type class ${NS}AttributeValue` : 'Unexpected value type in payload');
        return v;
      };
    case 'Boolean':
      return (v) => {
        switch (typeof v) {
          case 'boolean':
            return v;
          case 'number':
            throw typeError(`${numberKind(v)} cannot be converted to Boolean`);
          case 'string': {
            const u = v.toUpperCase();
            if (u === 'TRUE' || u === '1' || u === 'YES') return true;
            if (u === 'FALSE' || u === '0' || u === 'NO') return false;
            throw typeError('Unexpected token received from parser');
          }
          default:
            throw typeError(Array.isArray(v) ? 'Unrecognized collection type class java.lang.Boolean' : NOT_HERE);
        }
      };
    case 'Integer':
    case 'Long': {
      const kind = s.kind;
      return (v) => {
        switch (typeof v) {
          case 'number':
            return Math.floor(v);
          case 'boolean':
            throw typeError(`${v ? 'TRUE_VALUE' : 'FALSE_VALUE'} cannot be converted to ${kind}`);
          case 'string':
            throw typeError(`STRING_VALUE cannot be converted to ${kind}`);
          default:
            throw typeError(Array.isArray(v) ? `Unrecognized collection type class java.lang.${kind}` : NOT_HERE);
        }
      };
    }
    case 'String':
      return checkString;
    case 'Blob':
      return checkBlob;
    case 'List': {
      const member = compileType(s.member, 'member');
      const scalarMessage = place === 'mapValue' ? CAST : 'Unexpected field type';
      return (v) => {
        if (!Array.isArray(v)) throw typeError(isObject(v) ? NOT_HERE : scalarMessage);
        for (let i = 0; i < v.length; i++) if (v[i] !== null) v[i] = member(v[i]);
        return v;
      };
    }
    case 'Map': {
      const value = compileType(s.value, 'mapValue');
      const scalarMessage = place === 'member' ? CAST : 'Unexpected field type';
      const arrayMessage = `Unrecognized collection type ${javaName(s)}`;
      return (v) => {
        if (!isObject(v)) throw typeError(Array.isArray(v) ? arrayMessage : scalarMessage);
        for (const k in v) if (v[k] !== null) v[k] = value(v[k]);
        return v;
      };
    }
    case 'Struct':
      return compileStruct(s.fields, place === 'field' ? 'Unexpected field type' : 'Unexpected value type in payload', `Unrecognized collection type class ${NS}${s.java}`);
    case 'Attr':
      return place === 'field' ? checkFieldAttr : checkValueAttr;
  }
}

function checkString(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      throw typeError(`${v ? 'TRUE_VALUE' : 'FALSE_VALUE'} cannot be converted to String`);
    case 'number':
      throw typeError(`${numberKind(v)} cannot be converted to String`);
    default:
      throw typeError(Array.isArray(v) ? 'Unrecognized collection type class java.lang.String' : NOT_HERE);
  }
}

function checkBlob(v: unknown): unknown {
  if (typeof v === 'string') {
    if (v.length % 4) throw typeError(`Base64 encoded length is expected a multiple of 4 bytes but found: ${v.length}`);
    if (Buffer.from(v, 'base64').toString('base64') !== v) throw typeError('Invalid last non-pad Base64 character dectected');
    return v;
  }
  if (isObject(v)) throw typeError(NOT_HERE);
  throw typeError(Array.isArray(v) ? 'Unrecognized collection type class java.nio.ByteBuffer' : 'only base-64-encoded strings are convertible to bytes');
}

/** A structure's members, checked in place: unknown members and nulls are dropped. */
function compileStruct(fields: Record<string, Schema>, scalarMessage: string, arrayMessage: string): Fix {
  const checks = new Map<string, Fix>(Object.entries(fields).map(([k, f]) => [k, compileType(f, 'field')]));
  return (v) => {
    if (!isObject(v)) throw typeError(Array.isArray(v) ? arrayMessage : scalarMessage);
    for (const k in v) {
      const check = checks.get(k);
      if (!check || v[k] === null) delete v[k];
      else v[k] = check(v[k]);
    }
    return v;
  };
}

// AttributeValue members; L and M hold attribute values in list and map position.
const ATTR_FIELDS: Record<string, Schema> = {
  S: { kind: 'String' },
  B: { kind: 'Blob' },
  N: { kind: 'String' },
  BOOL: { kind: 'Boolean' },
  NULL: { kind: 'Boolean' },
  BS: list(blob()),
  NS: list(str()),
  SS: list(str()),
  L: list(attrValue()),
  M: attrMap(),
};
const ATTR_ARRAY = `Unrecognized collection type class ${NS}AttributeValue`;
// Built lazily: L and M refer back to the attribute-value checks.
let valueAttr: Fix | undefined;
let fieldAttr: Fix | undefined;
// Attribute values nest through L and M; past any depth DynamoDB accepts (32 levels) the check
// stops with DynamoDB's nesting error instead of recursing until the stack overflows.
const MAX_ATTR_DEPTH = 64;
let attrDepth = 0;
function checkValueAttr(v: unknown): unknown {
  valueAttr ??= compileStruct(ATTR_FIELDS, 'Unexpected value type in payload', ATTR_ARRAY);
  if (attrDepth >= MAX_ATTR_DEPTH) throw validation(MSG_NESTING_ITEM);
  attrDepth++;
  try {
    return valueAttr(v);
  } finally {
    attrDepth--;
  }
}
function checkFieldAttr(v: unknown): unknown {
  fieldAttr ??= compileStruct(ATTR_FIELDS, 'Unexpected field type', ATTR_ARRAY);
  return fieldAttr(v);
}

// ---- phase 2 and 3: constraints ------------------------------------------------------------------

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** How DynamoDB echoes a value in a constraint message. */
function render(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  return `'${plain(v)}'`;
}
function plain(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(plain).join(', ') + ']';
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

const MAX_ERRORS = 10;
type Check = (v: unknown, path: string, errors: string[]) => void;

function lengthOf(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  return Object.keys(v as object).length;
}

function ruleChecks(r: Rules | undefined): Check[] {
  if (!r) return [];
  const out: Check[] = [];
  const fail = (errors: string[], v: unknown, path: string, text: string) => {
    if (errors.length < MAX_ERRORS) errors.push(`Value ${render(v)} at '${path}' failed to satisfy constraint: ${text}`);
  };
  if (r.notNull) out.push((v, p, e) => v === undefined && fail(e, v, p, 'Member must not be null'));
  const present = (c: Check): Check => (v, p, e) => v !== undefined && c(v, p, e);
  if (r.min !== undefined) {
    const min = r.min;
    out.push(present((v, p, e) => (v as number) < min && fail(e, v, p, `Member must have value greater than or equal to ${min}`)));
  }
  if (r.max !== undefined) {
    const max = r.max;
    out.push(present((v, p, e) => (v as number) > max && fail(e, v, p, `Member must have value less than or equal to ${max}`)));
  }
  if (r.pattern !== undefined) {
    const text = r.pattern;
    const re = new RegExp(`^(?:${text})$`);
    out.push(present((v, p, e) => !re.test(v as string) && fail(e, v, p, `Member must satisfy regular expression pattern: ${text}`)));
  }
  if (r.minLength !== undefined) {
    const min = r.minLength;
    out.push(present((v, p, e) => lengthOf(v) < min && fail(e, v, p, `Member must have length greater than or equal to ${min}`)));
  }
  if (r.maxLength !== undefined) {
    const max = r.maxLength;
    out.push(present((v, p, e) => lengthOf(v) > max && fail(e, v, p, `Member must have length less than or equal to ${max}`)));
  }
  if (r.enum) {
    const values = new Set(r.enum);
    const text = `Member must satisfy enum value set: [${r.enum.join(', ')}]`;
    out.push(present((v, p, e) => !values.has(v as string) && fail(e, v, p, text)));
  }
  if (r.keys) {
    const k = r.keys;
    const re = k.pattern === undefined ? undefined : new RegExp(`^(?:${k.pattern})$`);
    // DynamoDB lists the upper bound first here.
    const parts = [
      k.maxLength !== undefined && `Member must have length less than or equal to ${k.maxLength}`,
      k.minLength !== undefined && `Member must have length greater than or equal to ${k.minLength}`,
      k.pattern !== undefined && `Member must satisfy regular expression pattern: ${k.pattern}`,
    ].filter(Boolean);
    const text = `Map keys must satisfy constraint: [${parts.join(', ')}]`;
    out.push(present((v, p, e) => {
      for (const key of Object.keys(v as object)) {
        const bad = (k.minLength !== undefined && key.length < k.minLength) || (k.maxLength !== undefined && key.length > k.maxLength) || (re && !re.test(key));
        if (bad) fail(e, v, p, text);
      }
    }));
  }
  if (r.values) {
    const k = r.values;
    const parts = [
      k.maxLength !== undefined && `Member must have length less than or equal to ${k.maxLength}`,
      k.minLength !== undefined && `Member must have length greater than or equal to ${k.minLength}`,
    ].filter(Boolean);
    const text = `Map value must satisfy constraint: [${parts.join(', ')}]`;
    out.push(present((v, p, e) => {
      for (const value of Object.values(v as object)) {
        const n = value === null || typeof value !== 'object' && typeof value !== 'string' ? 0 : lengthOf(value);
        if ((k.minLength !== undefined && n < k.minLength) || (k.maxLength !== undefined && n > k.maxLength)) fail(e, v, p, text);
      }
    }));
  }
  return out;
}

/** Compiles the constraints of a member and of everything inside it. */
function compileConstraints(s: Schema): Check {
  const own = ruleChecks(s.rules);
  let inner: Check | undefined;
  if (s.kind === 'Struct') {
    const fields = Object.entries(s.fields).map(([k, f]) => [k, lowerFirst(k), compileConstraints(f)] as const);
    inner = (v, path, errors) => {
      const o = v as Record<string, unknown>;
      for (const [k, name, check] of fields) check(o[k], `${path}.${name}`, errors);
    };
  } else if (s.kind === 'List') {
    const member = compileConstraints(s.member);
    inner = (v, path, errors) => (v as unknown[]).forEach((m, i) => member(m ?? undefined, `${path}.${i + 1}.member`, errors));
  } else if (s.kind === 'Map') {
    const value = compileConstraints(s.value);
    inner = (v, path, errors) => {
      const o = v as Record<string, unknown>;
      for (const k in o) value(o[k] ?? undefined, `${path}.${k}.member`, errors);
    };
  }
  if (!own.length && !inner) return () => {};
  return (v, path, errors) => {
    for (const c of own) c(v, path, errors);
    if (inner && v !== undefined && errors.length < MAX_ERRORS) inner(v, path, errors);
  };
}

export type Validator = (request: Record<string, unknown>) => void;

/** Compiles a request description once; the returned function checks a request in place or throws. */
export function compileValidator(schema: Schema): Validator {
  if (schema.kind !== 'Struct') throw new Error('a request is a structure');
  const types = compileStruct(schema.fields, 'Unexpected field type', '');
  const fields = Object.entries(schema.fields).map(([k, f]) => [k, lowerFirst(k), f, compileConstraints(f)] as const);
  return (request) => {
    types(request);
    for (const [k, , f] of fields) {
      if (f.rules?.required && request[k] === undefined) {
        throw validation(`The parameter '${k}' is required but was not present in the request`);
      }
      const v = request[k];
      if (f.rules?.tableName && typeof v === 'string' && (v.length < 3 || v.length > 255)) {
        throw validation(`${k} must be at least 3 characters long and at most 255 characters long`);
      }
    }
    const errors: string[] = [];
    for (const [k, name, , check] of fields) {
      check(request[k], name, errors);
      if (errors.length >= MAX_ERRORS) break;
    }
    if (errors.length) {
      throw validation(`${errors.length} validation error${errors.length > 1 ? 's' : ''} detected: ${errors.join('; ')}`);
    }
  };
}
