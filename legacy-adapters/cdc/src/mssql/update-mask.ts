/**
 * SQL Server CDC's large-object columns and `__$update_mask`. Pure, tested without a server.
 *
 * What Microsoft documents for `cdc.fn_cdc_get_all_changes_<instance>` (Large object data types):
 * image, text and ntext are always NULL when `__$operation` is 1 (delete) or 3 (update, old
 * values); varchar(max), nvarchar(max) and varbinary(max) are NULL when `__$operation` is 3
 * unless the column changed in the update, and hold their value at the delete when it is 1.
 * Nothing is said of 2 (insert) and 4 (update, new values): they hold the row's values. xml is
 * not named there; the change table page once listed it with the var*(max) types (old value only
 * when changed), so it is treated as one of them. So an update's NEW row is whole, and its OLD
 * row says NULL for a large value the update did not touch: not the value, but "not given".
 *
 * `__$update_mask` (varbinary(128)) has one bit per captured column, by its ordinal in the change
 * table (`cdc.captured_columns.column_ordinal`, what `sys.fn_cdc_get_column_ordinal` answers):
 * every bit set on 1 and 2, only the changed columns' on 3 and 4. The bytes run from the highest
 * ordinals to the lowest: ordinal 1 is the lowest bit of the LAST byte, ordinal 9 the lowest of
 * the one before it. Microsoft's pages do not spell the order out; it is what
 * `sys.fn_cdc_is_bit_set` computes, `SUBSTRING(@update_mask, DATALENGTH(@update_mask) -
 * ((@position - 1) / 8), 1) & POWER(2, (@position - 1) % 8)`, as reproduced in public copies of it.
 */

/** A large-object column of a captured table, by its source column name. */
export interface LobColumn {
  /** its ordinal in the change table: its bit in __$update_mask */
  ordinal: number;
  /** image, text or ntext: never given in an old row (1 or 3), changed or not */
  neverOld: boolean;
}

/** Whether the mask has the bit of this ordinal (1-based) set; false for a mask too short, or none. */
export function maskHasOrdinal(mask: Buffer | null | undefined, ordinal: number): boolean {
  if (!mask || !Number.isInteger(ordinal) || ordinal < 1) return false;
  const fromEnd = Math.floor((ordinal - 1) / 8);
  if (fromEnd >= mask.length) return false;
  return ((mask[mask.length - 1 - fromEnd]! >> ((ordinal - 1) % 8)) & 1) === 1;
}

/**
 * Whether a column is a large object as CDC treats them, from the change table's sys.columns
 * (`TYPE_NAME(system_type_id)`, `max_length`): the (max) types and xml have max_length -1.
 * Answers undefined for any other column.
 */
export function lobColumnOf(type: string, maxLength: number | null, ordinal: number): LobColumn | undefined {
  const t = type.toLowerCase();
  if (t === 'text' || t === 'ntext' || t === 'image') return { ordinal, neverOld: true };
  if (maxLength === -1) return { ordinal, neverOld: false };
  return undefined;
}

/**
 * The large-object columns whose value an old-values row (operation 3) does not give: those the
 * update did not change (the function's NULL is not their value), and never-old ones in any case
 * where they changed is not known. Left out of the event's `before`, they say "not changed by
 * this update" to the consumers (service-kit field-merge.ts). A never-old column the mask says
 * changed stays, as NULL: changed, its old value not known.
 */
export function lobsNotGiven(operation: number, mask: Buffer | null | undefined, lobs: ReadonlyMap<string, LobColumn> | undefined): Set<string> {
  const out = new Set<string>();
  if (!lobs || operation !== 3) return out;
  for (const [column, lob] of lobs) if (!maskHasOrdinal(mask, lob.ordinal)) out.add(column);
  return out;
}
