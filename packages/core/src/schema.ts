/**
 * Session data checked by any Standard Schema validator (zod, valibot,
 * arktype): the interface below is the Standard Schema v1 spec's, written out
 * here so core depends on nothing.
 */
import { ValueError } from './errors.js';

/** A Standard Schema v1 validator (https://standardschema.dev). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** What a Standard Schema validator answers. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

export interface StandardSchemaIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** The data type a schema describes. */
export type InferSchemaData<S> = S extends StandardSchemaV1<any, infer Output> ? (Output extends object ? Output : never) : never;

/** Issues as one line: `cart.0: Expected string; visits: Expected number`. */
export function describeIssues(issues: ReadonlyArray<StandardSchemaIssue>): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = (issue.path ?? []).map((p) => String(typeof p === 'object' && p !== null ? p.key : p)).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** The issues of `data`, or undefined when it passes. */
export async function checkData(schema: StandardSchemaV1, data: unknown): Promise<ReadonlyArray<StandardSchemaIssue> | undefined> {
  const result = await schema['~standard'].validate(data);
  return result.issues && result.issues.length > 0 ? result.issues : undefined;
}

/**
 * A synchronous check for `put`, which cannot wait: throws `ValueError` when
 * the schema refuses, and a clear error when the schema is asynchronous.
 */
export function checkDataNow(schema: StandardSchemaV1, data: unknown, key: string): void {
  const result = schema['~standard'].validate(data);
  if (result instanceof Promise) {
    throw new ValueError(`[sess] the session schema is asynchronous, so put("${key}") cannot check its value: use a synchronous schema (no async refinements).`);
  }
  if (result.issues && result.issues.length > 0) {
    throw new ValueError(`[sess] the session schema refused put("${key}"): ${describeIssues(result.issues)}.`);
  }
}
