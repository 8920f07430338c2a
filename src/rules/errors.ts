/**
 * Errors of the rules language. Each has a stable `code` that scripts and the config validator match on,
 * and says where the problem is: an offset in the expression source or a path in the scoping filter.
 */
import { IdsyncError } from '../core/errors.js';

/** Codes an ExpressionSyntaxError carries. */
export type ExpressionSyntaxCode =
  | 'EXPRESSION_SYNTAX'
  | 'EXPRESSION_TOO_LONG'
  | 'EXPRESSION_UNKNOWN_FUNCTION'
  | 'EXPRESSION_UNKNOWN_NAME'
  | 'EXPRESSION_ARGUMENT_COUNT'
  | 'EXPRESSION_BAD_ARGUMENT'
  | 'EXPRESSION_BAD_REGEX'
  | 'EXPRESSION_UNSAFE_REGEX'
  | 'EXPRESSION_NOT_SUPPORTED';

/** The expression cannot be compiled. `offset` is the 0-based index in the source where the problem starts. */
export class ExpressionSyntaxError extends IdsyncError {
  override readonly name = 'ExpressionSyntaxError';
  constructor(
    code: ExpressionSyntaxCode,
    message: string,
    readonly offset: number,
    /** what would have been valid at `offset`, for people: "a closing parenthesis", "a number" */
    readonly expected: string,
  ) {
    super(code, `${message} (at offset ${offset})`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), offset: this.offset, expected: this.expected };
  }
}

/** Codes an ExpressionEvaluationError carries. */
export type ExpressionEvaluationCode =
  | 'EXPRESSION_ERROR_FUNCTION'
  | 'EXPRESSION_BAD_VALUE'
  | 'EXPRESSION_NO_UNIQUE_VALUE'
  | 'EXPRESSION_REGEX_INPUT_TOO_LONG';

/**
 * Evaluating a compiled expression failed for this object: Error() was called, or a value had a type or a
 * form the function cannot take (a binary where text is expected, "abc" where a number is expected).
 * The message names the function; it never quotes attribute values, which may be secret.
 */
export class ExpressionEvaluationError extends IdsyncError {
  override readonly name = 'ExpressionEvaluationError';
  constructor(
    code: ExpressionEvaluationCode,
    message: string,
    /** the function that failed, as written in the expression ("Replace") */
    readonly functionName?: string,
  ) {
    super(code, message);
  }
}

/** Codes a ScopeFilterError carries. */
export type ScopeFilterCode =
  | 'SCOPE_UNKNOWN_OPERATOR'
  | 'SCOPE_MISSING_VALUE'
  | 'SCOPE_UNEXPECTED_VALUE'
  | 'SCOPE_BAD_VALUE'
  | 'SCOPE_BAD_REGEX'
  | 'SCOPE_UNSAFE_REGEX'
  | 'SCOPE_MISSING_ATTRIBUTE'
  | 'SCOPE_BAD_SHAPE';

/** A clause of a scoping filter is wrong. `path` is [groupIndex, clauseIndex, field]. */
export class ScopeFilterError extends IdsyncError {
  override readonly name = 'ScopeFilterError';
  constructor(
    code: ScopeFilterCode,
    message: string,
    readonly path: (string | number)[],
  ) {
    super(code, `scope filter ${path.join('.')}: ${message}`);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), path: this.path };
  }
}
