// A small JSON Schema checker for the keywords Cisco's CML 2.9 OpenAPI document uses (test/fixtures/cml): $ref into
// components.schemas, type, enum, pattern, lengths, bounds, date-time, items, properties, required,
// additionalProperties, patternProperties, anyOf/oneOf/allOf. It lists every violation with its JSON path, so a
// simulator body that drifts from the spec fails with the field named.
export type Schema = Record<string, unknown>;

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

function typeMatches(want: string, v: unknown): boolean {
  const t = typeOf(v);
  return want === t || (want === 'number' && t === 'integer');
}

export class SchemaChecker {
  constructor(private readonly root: { components: { schemas: Record<string, Schema> } }) {}

  schema(name: string): Schema {
    const s = this.root.components.schemas[name];
    if (!s) throw new Error(`no schema ${name}`);
    return s;
  }

  /** Every violation of `schema` by `value`, as `<path>: <what>`. */
  check(value: unknown, schema: Schema, path = '$'): string[] {
    if (typeof schema.$ref === 'string') return this.check(value, this.schema(schema.$ref.split('/').pop()!), path);
    const errors: string[] = [];
    if (schema.anyOf || schema.oneOf) {
      const options = (schema.anyOf ?? schema.oneOf) as Schema[];
      if (!options.some((o) => this.check(value, o, path).length === 0)) errors.push(`${path}: matches none of ${options.length} alternatives (${JSON.stringify(value)?.slice(0, 80)})`);
    }
    for (const s of (schema.allOf as Schema[] | undefined) ?? []) errors.push(...this.check(value, s, path));
    if (typeof schema.type === 'string' && !typeMatches(schema.type, value)) return [...errors, `${path}: expected ${schema.type}, got ${typeOf(value)}`];
    if (schema.enum && !(schema.enum as unknown[]).includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
    if (typeof value === 'string') errors.push(...this.checkString(value, schema, path));
    if (typeof value === 'number') errors.push(...this.checkNumber(value, schema, path));
    if (Array.isArray(value)) errors.push(...this.checkArray(value, schema, path));
    else if (value && typeof value === 'object') errors.push(...this.checkObject(value as Record<string, unknown>, schema, path));
    return errors;
  }

  private checkString(v: string, s: Schema, path: string): string[] {
    const e: string[] = [];
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) e.push(`${path}: '${v}' does not match ${s.pattern}`);
    if (typeof s.minLength === 'number' && v.length < s.minLength) e.push(`${path}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) e.push(`${path}: longer than ${s.maxLength}`);
    if (s.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)) e.push(`${path}: '${v}' is not an ISO 8601 date-time`);
    return e;
  }

  private checkNumber(v: number, s: Schema, path: string): string[] {
    const e: string[] = [];
    if (typeof s.minimum === 'number' && v < s.minimum) e.push(`${path}: ${v} below ${s.minimum}`);
    if (typeof s.maximum === 'number' && v > s.maximum) e.push(`${path}: ${v} above ${s.maximum}`);
    return e;
  }

  private checkArray(v: unknown[], s: Schema, path: string): string[] {
    const e: string[] = [];
    if (typeof s.minItems === 'number' && v.length < s.minItems) e.push(`${path}: fewer than ${s.minItems} items`);
    if (s.items) v.forEach((x, i) => e.push(...this.check(x, s.items as Schema, `${path}[${i}]`)));
    return e;
  }

  private checkObject(v: Record<string, unknown>, s: Schema, path: string): string[] {
    const e: string[] = [];
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const patterns = Object.entries((s.patternProperties ?? {}) as Record<string, Schema>).map(([p, sch]) => [new RegExp(p, 'u'), sch] as const);
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in v)) e.push(`${path}: missing required '${r}'`);
    for (const [k, x] of Object.entries(v)) {
      const at = `${path}.${k}`;
      if (props[k]) {
        e.push(...this.check(x, props[k], at));
        continue;
      }
      const byPattern = patterns.filter(([re]) => re.test(k));
      if (byPattern.length) byPattern.forEach(([, sch]) => e.push(...this.check(x, sch, at)));
      else if (s.additionalProperties === false) e.push(`${path}: unexpected property '${k}'`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') e.push(...this.check(x, s.additionalProperties as Schema, at));
    }
    return e;
  }
}
