/** The names the mapping file is made of, as its schema checks them. */
import { Type } from '@sinclair/typebox';

export const FieldName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$', description: 'a field name: letters, digits, underscore' });
export const SqlName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_$#]{0,127}$', description: 'a table or column name as the legacy schema writes it' });
