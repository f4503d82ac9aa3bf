// DynamoDB attribute values in their wire form: binaries stay base64 strings and numbers stay
// decimal strings, so an item read from storage can be written to a response without re-encoding.
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { M: Record<string, AttributeValue> }
  | { L: AttributeValue[] }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] };

export type AttributeType = 'S' | 'N' | 'B' | 'BOOL' | 'NULL' | 'M' | 'L' | 'SS' | 'NS' | 'BS';

export type Item = Record<string, AttributeValue>;

/** The scalar types DynamoDB allows for key attributes. */
export type KeyType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  name: string;
  type: KeyType;
}

/** Hash key plus optional range key of a table or index. */
export interface KeySchema {
  hash: KeyAttribute;
  range?: KeyAttribute;
}
