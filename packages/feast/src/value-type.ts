import { RegattaError } from '@regatta/contracts';

/** Feast's `ValueType.Enum` codes: the declared type of an entity or a feature. */
export const ValueType = {
  UNKNOWN: 0,
  BYTES: 1,
  STRING: 2,
  INT32: 3,
  INT64: 4,
  DOUBLE: 5,
  FLOAT: 6,
  BOOL: 7,
  UNIX_TIMESTAMP: 8,
  BYTES_LIST: 11,
  STRING_LIST: 12,
  INT32_LIST: 13,
  INT64_LIST: 14,
  DOUBLE_LIST: 15,
  FLOAT_LIST: 16,
  BOOL_LIST: 17,
  UNIX_TIMESTAMP_LIST: 18,
  NULL: 19,
} as const;

/** The name of a ValueType code, e.g. `INT64`. */
export type ValueTypeName = keyof typeof ValueType;

const NAMES = new Map<number, ValueTypeName>(
  Object.entries(ValueType).map(([name, code]) => [code, name as ValueTypeName]),
);

/** `INT64` for 4; `UNKNOWN(42)` for codes Regatta does not know (newer Feast types such as sets). */
export function valueTypeName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN(${code})`;
}

/** The code of a ValueType name (case-insensitive); INVALID_ARGUMENT naming `what` when unknown. */
export function parseValueType(name: string, what = 'value_type'): number {
  const code = ValueType[name.toUpperCase() as ValueTypeName];
  if (code === undefined) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${what}: unknown value type "${name}" (expected one of ${[...NAMES.values()].join(', ')})`,
    );
  }
  return code;
}

/** Whether a code is one of the list types (`*_LIST`). */
export function isListType(code: number): boolean {
  return code >= ValueType.BYTES_LIST && code <= ValueType.UNIX_TIMESTAMP_LIST;
}
