/**
 * The hooks through which the engine evaluates rules: scoping filters and attribute-flow expressions.
 * Both compile once, when the config loads, and evaluate many times against one object's attributes.
 */
import type { Value } from '../core/values.js';

/** What a filter or an expression reads: one object's attributes (a CS object or a metaverse entry). */
export interface FlowInput {
  /** the values of an attribute; [] when it has none. Attribute names are matched case-insensitively. */
  get(attribute: string): Value[];
  /** metaverse group membership by the group's name, for the IS MEMBER OF scoping operator */
  isMemberOf?(group: string): boolean;
}

export interface EvaluationOptions {
  /** the cycle's clock, so that every object in one cycle sees the same Now() */
  now?: Date;
  /** SelectUniqueValue: is this value free in the target? */
  isUnique?(attribute: string, value: Value): boolean;
}

export interface CompiledExpression {
  readonly source: string;
  /** the attributes the expression reads, for validation against a schema and for explain */
  readonly attributes: readonly string[];
  /**
   * The values the flow sets: [] clears the target (a null result), `undefined` means the flow does not apply
   * to this object (IgnoreFlowIfNullOrEmpty). Throws an ExpressionEvaluationError (e.g. from Error()).
   */
  evaluate(input: FlowInput, options?: EvaluationOptions): Value[] | undefined;
}

/** One clause of a scoping filter, as written in the config. */
export interface ScopeClause {
  attribute: string;
  operator: string;
  value?: string | number | boolean | (string | number)[];
}

/** Clauses are ANDed within a group; groups are ORed. No groups: everything is in scope. */
export type ScopeFilter = ScopeClause[][];

export interface CompiledScope {
  readonly attributes: readonly string[];
  matches(input: FlowInput): boolean;
}
