// Binding a statement's values: literals and '?' parameters become AttributeValues.
import { validation } from '../errors.js';
import { normalizeAttributeValue, typeOf } from '../attribute-values.js';
import { normalizeNumber } from '../numbers.js';
import type { AttributeValue } from '../types.js';
import type { PqValue } from './ast.js';

export function bindValue(v: PqValue, params: readonly unknown[]): AttributeValue {
  switch (v.kind) {
    case 'scalar':
      return v.value;
    case 'param':
      return normalizeAttributeValue(params[v.index]);
    case 'list':
      return { L: v.items.map((x) => bindValue(x, params)) };
    case 'map': {
      const M: Record<string, AttributeValue> = {};
      for (const e of v.entries) M[e.key] = bindValue(e.value, params);
      return { M };
    }
    case 'bag':
      return bindBag(v.items.map((x) => bindValue(x, params)));
  }
}

/** A bag is a DynamoDB set: all strings or all numbers, no duplicates. */
function bindBag(items: AttributeValue[]): AttributeValue {
  const types = new Set(items.map(typeOf));
  const type = types.size === 1 ? [...types][0] : undefined;
  if (type !== 'S' && type !== 'N') {
    throw validation('Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags');
  }
  const texts = items.map((x) => (type === 'S' ? (x as { S: string }).S : normalizeNumber((x as { N: string }).N)));
  if (new Set(texts).size !== texts.length) throw validation('Input collection contains duplicates');
  return type === 'S' ? { SS: texts } : { NS: texts };
}
